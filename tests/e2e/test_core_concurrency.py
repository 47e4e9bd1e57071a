"""Two Python processes running pipelines at once against the same embedded SQLite workspace."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from runyard import Client

SCRIPT = textwrap.dedent(
    '''
    import json, sys, time
    from pathlib import Path
    from typing import Annotated
    from runyard import pipeline, step

    @step
    def make(worker: str, i: int) -> Annotated[list[str], "made"]:
        time.sleep(0.05)  # long enough that the two processes' runs interleave
        return [worker] * (i + 1)

    @step
    def count(items: list[str]) -> Annotated[int, "counted"]:
        return len(items)

    @pipeline
    def concurrent(worker: str = "w", i: int = 0) -> None:
        count(make(worker=worker, i=i))

    worker, go = sys.argv[1], Path(sys.argv[2])
    Path(f"{go}.{worker}.ready").touch()  # imported and ready to run
    deadline = time.monotonic() + 30
    while not go.exists() and time.monotonic() < deadline:  # start both processes' runs together
        time.sleep(0.01)
    ids = []
    for i in range(4):
        run = concurrent(worker=worker, i=i)
        assert run.status == "completed", (run.status, run.error)
        assert run.steps["count"].outputs["counted"].load() == i + 1
        ids.append(str(run.id))
    print(json.dumps(ids))
    '''
)


def test_two_processes_run_pipelines_at_once_on_one_sqlite_workspace(tmp_path: Path, runyard_home: Path) -> None:
    script = tmp_path / "concurrent_pipeline.py"
    script.write_text(SCRIPT)
    go = tmp_path / "go"
    env = {**os.environ, "RUNYARD_HOME": str(runyard_home)}
    Client().get_stack("default")  # the workspace exists, as after `runyard init`
    procs = [
        subprocess.Popen([sys.executable, str(script), name, str(go)], env=env, cwd=tmp_path,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for name in ("one", "two")
    ]
    deadline = time.monotonic() + 30
    while not all(Path(f"{go}.{n}.ready").exists() for n in ("one", "two")) and time.monotonic() < deadline:
        time.sleep(0.01)
    go.touch()
    results = []
    for p in procs:
        out, err = p.communicate(timeout=60)
        assert p.returncode == 0, err
        results.append(json.loads(out.strip().splitlines()[-1]))

    client = Client()
    runs = client.list_runs(pipeline="concurrent", limit=100)
    assert len(runs) == 8
    assert {str(r.id) for r in runs} == set(results[0]) | set(results[1])
    assert all(r.status == "completed" for r in runs)
    # the two processes' runs really overlapped in time
    spans = {}
    for name in ("one", "two"):
        mine = [r for r in runs if r.parameters["worker"] == name]
        spans[name] = (min(r.started for r in mine), max(r.ended for r in mine))
    assert spans["one"][0] < spans["two"][1] and spans["two"][0] < spans["one"][1], spans
    # every run's outputs are stored and readable from a third process
    for r in runs:
        worker = r.parameters["worker"]
        assert r.steps["make"].outputs["made"].load() == [worker] * (r.parameters["i"] + 1)
    # artifact versions were numbered without gaps or duplicates under concurrent writes
    made = client.list_artifact_versions(name="made", limit=100)
    assert sorted(v.version for v in made) == list(range(1, 9))
    counted = client.list_artifact_versions(name="counted", limit=100)
    assert sorted(v.version for v in counted) == list(range(1, 9))
    assert sorted(v.load() for v in counted) == [1, 1, 2, 2, 3, 3, 4, 4]
