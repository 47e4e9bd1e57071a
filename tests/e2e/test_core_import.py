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
