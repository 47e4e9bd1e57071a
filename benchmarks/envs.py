"""Virtual environments for the competitors, created on demand and cached across runs.

Each competitor gets its own venv under ``<repo>/.bench/envs/<tool>`` made with ``python3 -m venv``
and filled with pip. Nothing is ever installed into the project's own ``.venv``: Runyard and the
plain-Python floor run on the interpreter that runs ``benchmarks/run.py`` (``make bench`` uses
``.venv/bin/python``).

A venv is reused while its marker file records the same requirement list; change ``REQUIREMENTS``
(or delete ``.bench/envs``) to rebuild it.

    python benchmarks/envs.py zenml prefect     # build ahead of time
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
BENCH_DIR = REPO / ".bench"
ENVS_DIR = BENCH_DIR / "envs"

# Workload packages every env needs for the pipelines (figure 2 and 5).
_WORKLOAD = ["numpy", "scikit-learn"]

REQUIREMENTS: dict[str, list[str]] = {
    # zenml 0.98.0 is on PyPI. The [local] extra brings the SQL store (SQLite) used without a server.
    "zenml": ["zenml[local]==0.98.*", *_WORKLOAD],
    "prefect": ["prefect>=3,<4", *_WORKLOAD],
}

MARKER = ".runyard-bench.json"


class EnvError(RuntimeError):
    pass


def _base_python() -> str:
    """A system python3 to build venvs from (not the project venv's interpreter)."""
    exe = shutil.which("python3")
    if exe is None:
        return sys.executable
    return exe


def env_python(tool: str) -> Path:
    return ENVS_DIR / tool / "bin" / "python"


def is_ready(tool: str) -> bool:
    marker = ENVS_DIR / tool / MARKER
    if not marker.exists() or not env_python(tool).exists():
        return False
    try:
        data = json.loads(marker.read_text())
    except ValueError:
        return False
    return data.get("requirements") == REQUIREMENTS[tool]


def ensure_env(tool: str, log=print) -> Path:
    """Return the venv's python for ``tool``, creating and filling the venv first if needed."""
    if tool not in REQUIREMENTS:
        raise EnvError(f"no venv recipe for {tool!r}")
    if is_ready(tool):
        return env_python(tool)
    env_dir = ENVS_DIR / tool
    if env_dir.exists():
        shutil.rmtree(env_dir)
    ENVS_DIR.mkdir(parents=True, exist_ok=True)
    log_path = ENVS_DIR / f"{tool}-install.log"
    log(f"[envs] creating venv for {tool} in {env_dir} (log: {log_path}); this can take minutes")
    t0 = time.monotonic()
    with open(log_path, "w") as out:
        steps = [
            [_base_python(), "-m", "venv", str(env_dir)],
            [str(env_python(tool)), "-m", "pip", "install", "-q", "--upgrade", "pip"],
            [str(env_python(tool)), "-m", "pip", "install", *REQUIREMENTS[tool]],
        ]
        for cmd in steps:
            out.write(f"$ {' '.join(cmd)}\n")
            out.flush()
            rc = subprocess.call(cmd, stdout=out, stderr=subprocess.STDOUT)
            if rc != 0:
                raise EnvError(f"{' '.join(cmd)} failed with exit code {rc}; see {log_path}")
    versions = installed_versions(tool)
    (env_dir / MARKER).write_text(json.dumps({"requirements": REQUIREMENTS[tool], "versions": versions}, indent=2))
    log(f"[envs] {tool} ready in {time.monotonic() - t0:.0f}s: {versions}")
    return env_python(tool)


def installed_versions(tool: str) -> dict[str, str]:
    code = (
        "import importlib.metadata as m, json, sys;"
        "names = sys.argv[1:];"
        "print(json.dumps({n: m.version(n) for n in names}))"
    )
    names = [tool, "numpy", "scikit-learn"]
    out = subprocess.run([str(env_python(tool)), "-c", code, *names], capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


_DROP = ("VIRTUAL_ENV", "PYTHONPATH", "PYTHONDONTWRITEBYTECODE", "PYTHONHOME")


def clean_env() -> dict[str, str]:
    """Environment for benchmark subprocesses: no inherited venv/tool settings leaking in."""
    env = dict(os.environ)
    for key in list(env):
        # PYTHONDONTWRITEBYTECODE too: fresh processes should find cached byte-code, as a user's do.
        if key.startswith(("ZENML_", "PREFECT_", "RUNYARD_")) or key in _DROP:
            del env[key]
    return env


if __name__ == "__main__":
    for name in sys.argv[1:] or list(REQUIREMENTS):
        print(ensure_env(name))
