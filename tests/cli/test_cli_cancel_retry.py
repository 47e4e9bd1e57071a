"""``runyard run cancel`` and ``runyard run retry`` on the embedded workspace."""

from __future__ import annotations

import os
import uuid
from pathlib import Path
from typing import Annotated, Any

from typer.testing import CliRunner

from runyard import Client, pipeline, step
from runyard import schemas as s
from runyard.cli.main import app

FLAG_ENV = "RUNYARD_TEST_RETRY_FLAG"


@step
def load_rows(n: int = 3) -> Annotated[list[int], "retry_rows"]:
    return list(range(n))


@step(enable_cache=False)
def flaky(rows: list[int]) -> Annotated[int, "retry_total"]:
    """Fails until the flag file exists: the first run fails, its retry succeeds."""
    if not Path(os.environ[FLAG_ENV]).exists():
        raise RuntimeError("the upstream service is down")
    return sum(rows)


@step
def report(total: int) -> Annotated[str, "retry_report"]:
    return f"total={total}"


@pipeline
def retry_pipeline(n: int = 3) -> None:
    report(flaky(load_rows(n=n)))


def _invoke(*args: str) -> Any:
    return CliRunner().invoke(app, list(args))


def _stored_run(status: s.RunStatus, source: str = "") -> uuid.UUID:
    """A run written straight through the API (no runner): for states a real run passes through briefly."""
    api = Client().api
    stack = api.get_stack("default")
    pipe = api.create_pipeline(s.PipelineCreate(name="stored"))
    spec: dict[str, Any] = {"name": "stored", "parameters": {}, "steps": []}
    if source:
        spec["steps"] = [{"invocation_id": "a", "step_name": "a", "source": source, "source_hash": "h",
                          "parameters": {}, "inputs": {}, "after": [], "outputs": []}]
    snap = api.create_snapshot(s.SnapshotCreate(pipeline_id=pipe.id, stack_id=stack.id, spec=spec, spec_hash="h"))
    run = api.create_run(s.RunCreate(snapshot_id=snap.id, status=s.RunStatus.RUNNING))
    if status != s.RunStatus.RUNNING:
        api.update_run(run.id, s.RunUpdate(status=status))
    return run.id


def test_cancel_a_running_run_and_a_finished_one() -> None:
    run_id = _stored_run(s.RunStatus.RUNNING)
    result = _invoke("run", "cancel", str(run_id))
    assert result.exit_code == 0, result.output
    assert "Cancelling run" in result.output and "the steps running now finish" in result.output
    assert Client().get_run(run_id).status == "cancelling"

    done = _stored_run(s.RunStatus.COMPLETED)
    refused = _invoke("run", "cancel", str(done))
    assert refused.exit_code == 1
    assert "has already completed" in refused.output and "Fix:" in refused.output
    assert "Traceback" not in refused.output
    bad = _invoke("run", "cancel", "nope")
    assert bad.exit_code == 1 and "is not a run id" in bad.output


def test_retry_runs_only_the_failed_and_unrun_steps(tmp_path: Path, monkeypatch: Any) -> None:
    flag = tmp_path / "service-up"
    monkeypatch.setenv(FLAG_ENV, str(flag))
    failed = retry_pipeline(n=4)
    assert failed.status == "failed"
    assert {k: v.status for k, v in failed.steps.items()} == {
        "load_rows": "completed", "flaky": "failed", "report": "skipped"}

    flag.touch()  # the outage is over
    result = _invoke("run", "retry", str(failed.id))
    assert result.exit_code == 0, result.output
    new_id = result.output.strip().splitlines()[-1]
    assert new_id != str(failed.id)
    again = Client().get_run(new_id)
    assert again.status == "completed" and again.pipeline_name == "retry_pipeline"
    assert again.parameters == failed.parameters == {"n": 4}
    assert {k: v.status for k, v in again.steps.items()} == {
        "load_rows": "cached", "flaky": "completed", "report": "completed"}
    assert again.steps["report"].outputs["retry_report"].load() == "total=6"
    assert "2 step(s) executed" in result.output

    nothing = _invoke("run", "retry", new_id)
    assert nothing.exit_code == 1 and "nothing to retry" in nothing.output


def test_retry_says_when_the_code_is_not_available_here() -> None:
    script_run = _stored_run(s.RunStatus.FAILED, source="__main__:a")
    result = _invoke("run", "retry", str(script_run))
    assert result.exit_code == 1
    assert "script run directly (__main__)" in result.output and "Run the script again" in result.output

    gone = _stored_run(s.RunStatus.FAILED, source="no_such_module_for_runyard_tests:a")
    result = _invoke("run", "retry", str(gone))
    assert result.exit_code == 1
    assert "cannot be imported here" in result.output and "Traceback" not in result.output

    running = _stored_run(s.RunStatus.RUNNING)
    result = _invoke("run", "retry", str(running))
    assert result.exit_code == 1 and "still running" in result.output and "runyard run cancel" in result.output
