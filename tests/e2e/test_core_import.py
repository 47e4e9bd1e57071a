"""``import runyard`` stays light: no heavy library is imported until it is used."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

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


def test_import_runyard_defers_the_standard_modules_it_uses_later() -> None:
    """uuid (with platform), pathlib (with urllib.parse and ipaddress), hashlib (with OpenSSL) and json are
    loaded where an id is parsed, a file read, a spec hashed: a quarter of ``import runyard`` when they were
    not (figure 4). Compared with a bare interpreter, which may load some of them itself."""
    added = _modules_after("import runyard") - _modules_after("pass")
    assert sorted(added & {"uuid", "platform", "pathlib", "urllib.parse", "hashlib", "json"}) == []


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


_FLOW = (
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


def _run_flow(tmp_path: Path, env: dict[str, str]) -> dict[str, Any]:
    """Runs a cached two-step pipeline with metadata twice in a fresh process; what it saw and imported."""
    script = tmp_path / "flow.py"
    script.write_text(_FLOW)
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, env=env, timeout=120,
                         cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    found: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    assert found["status"] == ["completed", "completed"]
    assert found["cached"] == "cached"
    assert found["mean"] == 1.0 and found["version"] == 1
    return found


def test_a_pipeline_run_through_the_local_service_never_imports_pydantic(tmp_path: Path) -> None:
    """The pipeline process speaks plain records to the local service, which validates with the models:
    importing pydantic and building the schemas would be most of a short run's overhead."""
    runtime = tempfile.mkdtemp(prefix="ry", dir="/tmp")  # Unix socket paths must stay short
    env = {**os.environ, "RUNYARD_HOME": str(tmp_path / "home"), "RUNYARD_LOCAL_SERVICE": "1",
           "RUNYARD_LOCAL_SERVICE_IDLE_S": "2", "XDG_RUNTIME_DIR": runtime}
    try:
        found = _run_flow(tmp_path, env)
    finally:  # stop the service this test started (it would exit on its own after 2 idle seconds)
        for pid_file in Path(runtime, "runyard").glob("*.pid"):
            try:
                os.kill(int(pid_file.read_text()), signal.SIGTERM)
            except (OSError, ValueError):
                pass
    assert found["modules"] == []


def test_a_pipeline_run_against_a_server_never_imports_pydantic(tmp_path: Path) -> None:
    """A runner on a remote worker talks HTTP: records go out as JSON and answers come back as records."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {**os.environ, "RUNYARD_HOME": str(tmp_path / "server-home"), "PYTHONWARNINGS": "ignore"}
    env.pop("RUNYARD_URL", None)
    server = subprocess.Popen(
        [sys.executable, "-m", "runyard.cli.main", "up", "--port", str(port), "--database-url",
         f"sqlite:///{tmp_path / 'server.db'}"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(url + "/health", timeout=1) as answer:
                    if answer.status == 200:
                        break
            except OSError:
                pass
            assert server.poll() is None and time.monotonic() < deadline, "the server did not start"
            time.sleep(0.1)
        found = _run_flow(tmp_path, {**os.environ, "RUNYARD_HOME": str(tmp_path / "client-home"),
                                     "RUNYARD_URL": url})
    finally:
        server.terminate()
        server.wait(timeout=20)
    assert found["modules"] == []
    assert not (tmp_path / "client-home" / "workspace.db").exists()  # it really went to the server
