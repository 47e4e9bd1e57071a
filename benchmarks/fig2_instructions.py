"""Figure 2 in instructions: where Runyard's overhead over the plain floor goes (callgrind counts).

Wall time on the shared 2-core machines swings by 2x with other people's work; instruction counts do not.
This script counts the instructions of fresh processes under ``valgrind --tool=callgrind`` (one warm-up run
each first, as ``run.py`` does), with one BLAS/OpenMP thread (spinning BLAS threads otherwise add billions
of instructions at random):

- ``plain``: ``pipelines/fig2_plain.py`` (the floor);
- ``runyard``: ``pipelines/fig2_runyard.py``;
- ``imports: ...``: the floor, then importing modules the Runyard run loads that the floor does not
  (listed by running both scripts once and comparing ``sys.modules``), in the order Runyard loads them:
  all of them; only SQLAlchemy + sqlite3; only pydantic (+ its helpers) and ``runyard.schemas``; and all
  but the database layer (SQLAlchemy, sqlite3, ``runyard.workspace``), which is what a pipeline process
  that reaches its workspace through another process would still import.

So: runyard - plain = Runyard's overhead; (all imports) - plain = its import part; the rest is work done
while running (first-use SQL compilation, ORM mapper configuration, pydantic schema builds, the steps'
artifact saves and loads, the workspace writes). Needs valgrind (Debian: apt-get install valgrind).

    .venv/bin/python benchmarks/fig2_instructions.py            # ~10 min on a quiet machine
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
PIPELINES = HERE / "pipelines"
ONE_THREAD = {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}

_LIST_MODULES = """
import runpy, sys
sys.argv = [sys.argv[1]]; sys.path.insert(0, ".")
runpy.run_path(sys.argv[0], run_name="__main__")
print("MODULES " + " ".join(m for m in sys.modules if not m.startswith("__")))
"""

_FLOOR_PLUS_IMPORTS = """
import importlib, json, os, sys
sys.path.insert(0, ".")
exec(open("fig2_plain.py").read())
for name in json.loads(os.environ["FIG2_IMPORTS"]):
    try:
        importlib.import_module(name)
    except Exception:
        pass
"""


def modules_of(script: str, env: dict[str, str]) -> list[str]:
    out = subprocess.run([sys.executable, "-c", _LIST_MODULES, script], cwd=PIPELINES, env=env,
                         capture_output=True, text=True, check=True).stdout
    line = next(ln for ln in out.splitlines() if ln.startswith("MODULES "))
    return line.split()[1:]


def instructions(args: list[str], env: dict[str, str]) -> int:
    subprocess.run([sys.executable, *args], cwd=PIPELINES, env=env, capture_output=True, check=True)  # warm-up
    done = subprocess.run(["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", sys.executable, *args],
                          cwd=PIPELINES, env=env, capture_output=True, text=True, check=True)
    line = next(ln for ln in done.stderr.splitlines() if "Collected" in ln)
    return int(line.split()[-1])


def main() -> None:
    home = tempfile.mkdtemp(prefix="fig2-instr-")
    env = {**os.environ, **ONE_THREAD, "RUNYARD_HOME": home}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    floor_modules = set(modules_of("fig2_plain.py", env))
    extra = [m for m in modules_of("fig2_runyard.py", env) if m not in floor_modules and m != "workloads"]
    sqlalchemy = [m for m in extra if m.split(".")[0] in ("sqlalchemy", "sqlite3", "_sqlite3")]
    no_database = [m for m in extra if m not in sqlalchemy and not m.startswith("runyard.workspace")]
    schemas = [m for m in extra if m.split(".")[0] in ("pydantic", "pydantic_core", "typing_inspection",
                                                       "annotated_types", "typing_extensions")
               or m.startswith("runyard.schemas")]
    rows: dict[str, int] = {}
    rows["plain"] = instructions(["fig2_plain.py"], env)
    rows["runyard"] = instructions(["fig2_runyard.py"], env)
    for label, names in (("imports: all", extra), ("imports: SQLAlchemy + sqlite3", sqlalchemy),
                         ("imports: pydantic + runyard.schemas", schemas),
                         ("imports: all but SQLAlchemy, sqlite3, runyard.workspace", no_database)):
        rows[label] = instructions(["-c", _FLOOR_PLUS_IMPORTS], {**env, "FIG2_IMPORTS": json.dumps(names)})
    floor = rows["plain"]
    overhead = rows["runyard"] - floor
    print(f"modules Runyard adds: {len(extra)} ({len(sqlalchemy)} SQLAlchemy + sqlite3, "
          f"{len(extra) - len(sqlalchemy) - len(no_database)} runyard.workspace, {len(schemas)} pydantic + schemas)")
    print("| process | instructions | over the floor | share of the overhead |")
    print("|---|---|---|---|")
    for label, count in rows.items():
        over = count - floor
        share = f"{100 * over / overhead:.0f}%" if label != "plain" else ""
        print(f"| {label} | {count / 1e9:.2f} G | {over / 1e9:+.2f} G | {share} |")
    work = rows["runyard"] - rows["imports: all"]
    print(f"| running (overhead - all imports) | | {work / 1e9:+.2f} G | {100 * work / overhead:.0f}% |")


if __name__ == "__main__":
    main()
