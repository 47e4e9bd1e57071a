"""``import runyard`` stays light: no heavy library is imported until it is used."""

from __future__ import annotations

import json
import subprocess
import sys

HEAVY = ("numpy", "pandas", "sklearn", "fastapi", "sqlalchemy", "psycopg", "httpx", "pyarrow")


def _modules_after(code: str) -> set[str]:
    script = f"import sys, json\n{code}\nprint(json.dumps(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=60)
    return set(json.loads(out.stdout.strip().splitlines()[-1]))


def test_import_runyard_imports_nothing_heavy() -> None:
    loaded = _modules_after("import runyard")
    assert "runyard" in loaded
    heavy = sorted(m for m in loaded if m.split(".")[0] in HEAVY)
    assert heavy == []


def test_defining_steps_and_pipelines_imports_nothing_heavy() -> None:
    code = (
        "from typing import Annotated\n"
        "from runyard import step, pipeline, get_step_context, log_metadata\n"
        "@step\n"
        "def s(x: int = 1) -> Annotated[int, 'x']:\n"
        "    return x\n"
        "@pipeline\n"
        "def p() -> None:\n"
        "    s()\n"
        "p.compile()\n"
    )
    loaded = _modules_after(code)
    assert sorted(m for m in loaded if m.split(".")[0] in HEAVY) == []


def test_a_pipeline_run_through_the_local_service_never_imports_pydantic(tmp_path) -> None:
    """The pipeline process speaks plain records to the local service, which validates with the models:
    importing pydantic and building the schemas would be most of a short run's overhead."""
    import os
    import tempfile

    runtime = tempfile.mkdtemp(prefix="ry", dir="/tmp")  # Unix socket paths must stay short
    env = {**os.environ, "RUNYARD_HOME": str(tmp_path / "home"), "RUNYARD_LOCAL_SERVICE": "1",
           "RUNYARD_LOCAL_SERVICE_IDLE_S": "2", "XDG_RUNTIME_DIR": runtime}
    script = tmp_path / "flow.py"
    script.write_text(
        "import json, sys\n"
        "from typing import Annotated\n"
        "from runyard import step, pipeline, get_step_context, log_metadata\n"
        "@step\n"
        "def load(n: int = 3) -> tuple[Annotated[list, 'rows'], Annotated[int, 'count']]:\n"
        "    log_metadata({'n': n})\n"
        "    log_metadata({'stage': 'load'}, on_run=True)\n"
        "    return list(range(n)), n\n"
        "@step\n"
        "def total(rows: list, count: int) -> Annotated[float, 'mean']:\n"
        "    assert get_step_context().invocation_id == 'total'\n"
        "    print('summing', count)\n"
        "    return sum(rows) / count\n"
        "@pipeline(enable_cache=True)\n"
        "def flow(n: int = 3):\n"
        "    rows, count = load(n=n)\n"
        "    total(rows, count)\n"
        "first = flow()\n"
        "again = flow()\n"
        "print(json.dumps({'status': [str(first.status), str(again.status)],\n"
        "                  'cached': str(again.steps['total'].status),\n"
        "                  'mean': again.steps['total'].outputs['mean'].load(),\n"
        "                  'version': again.steps['total'].outputs['mean'].version,\n"
        "                  'modules': sorted(m for m in sys.modules if m.split('.')[0] in\n"
        "                                    ('pydantic', 'pydantic_core', 'sqlalchemy', 'fastapi'))}))\n"
    )
    try:
        out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, env=env, timeout=120,
                             cwd=tmp_path)
        assert out.returncode == 0, out.stderr
        found = json.loads(out.stdout.strip().splitlines()[-1])
    finally:  # stop the service this test started (it would exit on its own after 2 idle seconds)
        import signal
        from pathlib import Path

        for pid_file in Path(runtime, "runyard").glob("*.pid"):
            try:
                os.kill(int(pid_file.read_text()), signal.SIGTERM)
            except (OSError, ValueError):
                pass
    assert found["status"] == ["completed", "completed"]
    assert found["cached"] == "cached"
    assert found["mean"] == 1.0 and found["version"] == 1
    assert found["modules"] == []
