"""Logs as a user meets them: `runyard run logs`, following a live step, a killed step, the SSE stream."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from typer.testing import CliRunner

from runyard import Client, pipeline, step
from runyard.cli.main import app


@step(enable_cache=False)
def speaker(n: int = 2) -> int:
    import logging

    for i in range(n):
        print(f"spoken {i}")
    logging.getLogger("speaker").warning("watch out")
    return n


@pipeline(enable_cache=False)
def speech(n: int = 2) -> None:
    speaker(n=n)


def test_cli_prints_filters_and_exports_json() -> None:
    run = speech(n=3)
    runner = CliRunner()
    result = runner.invoke(app, ["run", "logs", str(run.id)])
    assert result.exit_code == 0, result.output
    assert "spoken 0" in result.output and "spoken 2" in result.output and "watch out" in result.output
    warnings = runner.invoke(app, ["run", "logs", str(run.id), "--step", "speaker", "--level", "WARNING",
                                   "-o", "json"])
    assert warnings.exit_code == 0, warnings.output
    assert [line["message"] for line in json.loads(warnings.output)] == ["watch out"]
    missing = runner.invoke(app, ["run", "logs", str(run.id), "--step", "nope"])
    assert missing.exit_code == 1 and "has no step 'nope'" in missing.output


SLOW = """
import sys, time
from runyard import step, pipeline

@step(enable_cache=False)
def slow() -> int:
    for i in range(int(sys.argv[1])):
        print(f"tick {i}", flush=True)
        time.sleep(0.2)
    if len(sys.argv) > 2:
        import os, signal
        os.kill(os.getpid(), signal.SIGKILL)
    return 1

@pipeline(enable_cache=False)
def slowpipe():
    slow()

slowpipe()
"""


def _start(tmp_path: Path, *args: str) -> subprocess.Popen[bytes]:
    script = tmp_path / "slow.py"
    script.write_text(textwrap.dedent(SLOW))
    return subprocess.Popen([sys.executable, str(script), *args], env=dict(os.environ),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _wait_for_run(timeout: float = 20) -> str:
    deadline = time.time() + timeout
    while time.time() < deadline:
        runs = Client().list_runs(pipeline="slowpipe")
        if runs and runs[0].steps.get("slow"):
            return str(runs[0].id)
        time.sleep(0.1)
    raise AssertionError("the run did not start")


def test_follow_streams_lines_while_the_step_runs(tmp_path: Path) -> None:
    proc = _start(tmp_path, "8")
    try:
        run_id = _wait_for_run()
        result = CliRunner().invoke(app, ["run", "logs", run_id, "--follow"])
    finally:
        proc.wait(timeout=30)
    assert result.exit_code == 0, result.output
    assert [f"tick {i}" in result.output for i in range(8)] == [True] * 8


def test_a_killed_step_keeps_the_lines_written_before(tmp_path: Path) -> None:
    proc = _start(tmp_path, "6", "kill")
    proc.wait(timeout=30)
    assert proc.returncode == -9
    run = Client().list_runs(pipeline="slowpipe")[0]
    page = Client().api.read_logs(run.id, __import__("runyard.schemas.logs", fromlist=["LogQuery"]).LogQuery(
        step="slow"))
    messages = [line.message for line in page.lines]
    # flushed while it ran: what the last flush interval (0.25 s) wrote may be lost, nothing before
    assert len(messages) >= 3 and messages == [f"tick {i}" for i in range(len(messages))]
    assert not page.complete


def test_server_sent_events_stream_ends_with_the_run(database_url: str) -> None:
    from fastapi.testclient import TestClient

    from runyard.workspace.app import create_app

    run = speech(n=2)
    with TestClient(create_app(database_url)) as client:
        response = client.get(f"/api/v1/runs/{run.id}/logs/stream")
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        events = [block for block in response.text.split("\n\n") if block.strip()]
        data = [json.loads(e.split("data: ", 1)[1]) for e in events if e.startswith("id: ")]
        assert [d["message"] for d in data if d["step"] == "speaker"] == ["spoken 0", "spoken 1", "watch out"]
        assert events[-1].startswith("event: end")
        assert client.get("/api/v1/runs/00000000-0000-0000-0000-000000000000/logs/stream").status_code == 404
