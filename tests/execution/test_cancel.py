"""Cancelling a running pipeline: from another thread (Client, in-process), another process (Client on
the same embedded workspace), and the orchestrators stop at the next step boundary."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import pytest

from runyard import Client, pipeline, step
from runyard.client.models import Run
from runyard.exceptions import Conflict

PARALLEL = {"name": "local_parallel", "max_workers": 2}


@step(enable_cache=False)
def first() -> Annotated[int, "c_first"]:
    return 1


@step(enable_cache=False)
def slow(x: int, flag: str = "") -> Annotated[int, "c_slow"]:
    """Sleeps until the test has cancelled the run (or 20 s), so the cancel lands while it runs."""
    deadline = time.time() + 20
    while flag and not Path(flag).exists() and time.time() < deadline:
        time.sleep(0.05)
    return x + 1


@step(enable_cache=False)
def after(x: int) -> Annotated[int, "c_after"]:
    return x * 10


@step(enable_cache=False)
def last(x: int) -> Annotated[int, "c_last"]:
    return x + 5


@pipeline
def cancellable(flag: str = "") -> None:
    last(after(slow(first(), flag=flag)))


def _wait_for(predicate: Callable[[], Any], timeout: float = 30.0) -> Any:
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError("timed out waiting")


def _running_slow_step(client: Client) -> Run | None:
    for run in client.list_runs(pipeline="cancellable", status="running"):
        if run.steps.get("slow") is not None and run.steps["slow"].status == "running":
            return run
    return None


def _run_in_thread(call: Callable[[], Run]) -> tuple[threading.Thread, dict[str, Any]]:
    result: dict[str, Any] = {}

    def target() -> None:
        try:
            result["run"] = call()
        except BaseException as exc:  # pragma: no cover - surfaced by the assertion below
            result["error"] = exc

    thread = threading.Thread(target=target)
    thread.start()
    return thread, result


@pytest.mark.parametrize("orchestrator", [None, PARALLEL], ids=["local", "local_parallel"])
def test_cancel_from_another_thread_stops_at_the_next_step(tmp_path: Path, orchestrator: Any) -> None:
    flag = tmp_path / "go"
    pipe = cancellable.with_options(orchestrator=orchestrator) if orchestrator else cancellable
    thread, result = _run_in_thread(lambda: pipe(flag=str(flag)))
    client = Client()
    run = _wait_for(lambda: _running_slow_step(client))
    answered = client.cancel_run(run.id)
    assert answered.status == "cancelling"
    assert client.cancel_run(str(run.id)).status == "cancelling"  # repeating it is harmless
    flag.touch()  # let the running step finish
    thread.join(60)
    assert "error" not in result, result.get("error")
    returned = result["run"]
    assert returned.status == "cancelled"
    stored = client.get_run(run.id)
    assert stored.status == "cancelled" and stored.ended is not None
    assert "Cancelled on request" in (stored.error or "")
    steps = {name: st.status for name, st in stored.steps.items()}
    # the running step finished; the next one was refused by the server; the rest never started
    assert steps == {"first": "completed", "slow": "completed", "after": "cancelled", "last": "skipped"}
    assert stored.steps["after"].data.started is None


def test_cancel_a_finished_run_is_a_conflict_that_says_how_it_ended() -> None:
    run = cancellable()
    assert run.status == "completed"
    with pytest.raises(Conflict, match="has already completed"):
        Client().cancel_run(run.id)


def test_cancel_from_another_process(tmp_path: Path, runyard_home: Path) -> None:
    """The pipeline runs in a child process on the same embedded workspace; this process cancels it."""
    flag = tmp_path / "go"
    script = tmp_path / "job.py"
    script.write_text(textwrap.dedent(f"""
        import sys
        sys.path.insert(0, {str(Path(__file__).parent)!r})
        from test_cancel import cancellable
        run = cancellable(flag={str(flag)!r})
        print("STATUS", run.status)
    """))
    env = {**os.environ, "RUNYARD_HOME": str(runyard_home)}
    child = subprocess.Popen([sys.executable, str(script)], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True)
    try:
        client = Client()
        run = _wait_for(lambda: _running_slow_step(client), timeout=60)
        client.cancel_run(run.id)
        flag.touch()
        out, err = child.communicate(timeout=60)
    finally:
        if child.poll() is None:
            child.kill()
    assert "STATUS cancelled" in out, err
    assert "was cancelled" in err
    assert client.get_run(run.id).status == "cancelled"


@pipeline
def one_slow_step(flag: str = "") -> None:
    slow(1, flag=flag)


def test_cancel_during_the_last_step_still_ends_the_run_cancelled(tmp_path: Path) -> None:
    """Nothing is left to refuse: the runner's "completed" is refused instead, and it ends the run cancelled."""
    flag = tmp_path / "go"
    thread, result = _run_in_thread(lambda: one_slow_step(flag=str(flag)))
    client = Client()

    def running() -> Run | None:
        for run in client.list_runs(pipeline="one_slow_step", status="running"):
            if run.steps.get("slow") is not None and run.steps["slow"].status == "running":
                return run
        return None

    run = _wait_for(running)
    client.cancel_run(run.id)
    flag.touch()
    thread.join(60)
    assert "error" not in result, result.get("error")
    stored = client.get_run(run.id)
    assert stored.status == "cancelled" and "while its last steps ran" in (stored.error or "")
    assert stored.steps["slow"].status == "completed"


@step(enable_cache=False)
def tick(x: int, log: str, cancel_here: bool = False) -> int:
    with open(log, "a") as out:
        out.write(f"{x}\n")
    if cancel_here:
        from runyard import get_step_context

        Client().cancel_run(get_step_context().run_id)
    time.sleep(0.005)  # a chain of short steps: how far a runner may run ahead is a matter of time
    return x + 1


@pipeline
def ticking(log: str) -> None:
    x = tick(0, log=log)
    for i in range(1, 40):
        x = tick(x, log=log, cancel_here=i == 5)


def _check_cancelled_chain(run: Run, log: Path) -> int:
    """The run ends cancelled; every step up to the one that cancelled completed, none after it did, and
    every step is on record. Returns how many step functions ran after the cancel."""
    assert run.status == "cancelled"
    stored = Client().get_run(run.id).steps
    assert len(stored) == 40
    by_input = sorted(stored.values(), key=lambda st: st.data.created)
    statuses = [str(st.status) for st in by_input]
    assert statuses[:6] == ["completed"] * 6, statuses
    assert set(statuses[6:]) <= {"cancelled", "skipped"}, statuses
    assert statuses[6] == "cancelled" and "skipped" in statuses
    for st in by_input[6:]:
        assert st.outputs == {}
        assert st.data.started is None or str(st.status) == "skipped"
    ran = log.read_text().split()
    assert ran[:6] == [str(i) for i in range(6)]
    return len(ran) - 6


def _ahead_allowed() -> int:
    """Steps that may run after a cancel: none when each report is answered at once; through the local
    service, those that fit in the runner's window of unanswered reports (CANCEL_WINDOW_S, 5 ms steps)."""
    from runyard.client.connection import workspace_api
    from runyard.client.local_service import LocalServiceTransport
    from runyard.execution.step_runner import CANCEL_WINDOW_S

    if not isinstance(workspace_api().transport, LocalServiceTransport):
        return 0
    return int(CANCEL_WINDOW_S / 0.005) + 3


def test_a_cancel_from_inside_a_step_stops_the_chain(tmp_path: Path) -> None:
    log = tmp_path / "ticks"
    after = _check_cancelled_chain(ticking(log=str(log)), log)
    assert after <= _ahead_allowed()


def test_a_cancel_stops_a_fast_chain_through_the_local_service(tmp_path: Path, local_service: Path) -> None:
    """Through the service a fast chain runs ahead of its reports' answers: a few steps may run before
    the refusal arrives; their reports are refused and the run ends cancelled all the same."""
    log = tmp_path / "ticks"
    after = _check_cancelled_chain(ticking(log=str(log)), log)
    assert after <= _ahead_allowed()
