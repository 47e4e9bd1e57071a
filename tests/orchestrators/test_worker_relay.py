"""local_parallel on an in-process workspace: forked workers reach the database through their parent only.

A worker forked while another thread of the parent was inside the database driver inherits that driver's
locks held, and its own first connection would wait forever; so workers must never open the database."""

from __future__ import annotations

import os
import tempfile
import threading
from pathlib import Path
from typing import Annotated, Any

import pytest

from runyard import Client, get_step_context, pipeline, step
from runyard.client import connection
from runyard.client.transport import InProcessTransport
from runyard.exceptions import RunyardError
from runyard.execution.worker_relay import WorkerRelay
from runyard.workspace.db import engine

PARALLEL = {"name": "local_parallel", "max_workers": 2}


@step(enable_cache=False)
def where_am_i(label: str) -> Annotated[dict[str, Any], "where"]:
    """Reports the worker's pid, whether it opened a database itself, and what its own Client sees."""
    run_id = get_step_context().run_id
    seen = Client().get_run(run_id)  # a Client made inside the step: through the parent too
    opened_here = [url for url, pid in engine._databases if pid == os.getpid()]
    return {"label": label, "pid": os.getpid(), "opened": opened_here, "run_seen": str(seen.id)}


@pipeline(orchestrator=PARALLEL)
def two_branches() -> None:
    where_am_i("a")
    where_am_i("b")


def test_workers_open_no_database_and_their_client_goes_through_the_parent(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """In-process (and through the local service too, where a worker has its own socket to it)."""
    from runyard.execution import worker_relay

    folders: list[str] = []
    make_folder = tempfile.mkdtemp

    def mkdtemp(**kwargs: Any) -> str:
        folders.append(make_folder(**kwargs))
        return folders[-1]

    monkeypatch.setattr(worker_relay.tempfile, "mkdtemp", mkdtemp)
    run = two_branches()
    assert run.status == "completed", run.data.error
    reports = [run.steps[name].output.load() for name in ("where_am_i", "where_am_i_2")]
    assert {r["label"] for r in reports} == {"a", "b"}
    for report in reports:
        assert report["pid"] != os.getpid()
        assert report["opened"] == [], f"a worker opened {report['opened']} itself"
        assert report["run_seen"] == str(run.id)
    # in-process, the run had a relay; its private socket folder is gone with the run
    relays = [folder for folder in folders if "runyard-relay-" in folder]
    assert len(relays) == (1 if isinstance(connection.workspace_api().transport, InProcessTransport) else 0)
    assert not any(os.path.exists(folder) for folder in relays)


@step(enable_cache=False)
def quick(i: int) -> Annotated[int, "quick"]:
    return i + 1


@pipeline(orchestrator=PARALLEL)
def fan_out() -> None:
    for i in range(4):
        quick(i)


def test_a_parallel_run_completes_while_another_thread_hammers_the_database(database_url: str) -> None:
    """The hazard itself: the forks happen while this test's thread is inside the driver as often as it can."""
    stop = threading.Event()
    errors: list[BaseException] = []

    def hammer() -> None:
        client = Client()
        while not stop.is_set():
            try:
                client.list_runs(limit=5)
            except BaseException as exc:  # pragma: no cover - reported below
                errors.append(exc)
                return

    thread = threading.Thread(target=hammer, daemon=True)
    thread.start()
    results: list[str] = []

    def runs() -> None:
        for _ in range(6):
            results.append(str(fan_out().status))

    runner = threading.Thread(target=runs, daemon=True)
    runner.start()
    runner.join(120)
    stop.set()
    thread.join(10)
    assert not runner.is_alive(), "a parallel run hung (a forked worker waiting on a lock it inherited)"
    assert results == ["completed"] * 6
    assert not errors, errors


def test_a_worker_transport_after_the_relay_closed_fails_with_a_clear_error(database_url: str) -> None:
    transport = InProcessTransport(database_url)
    with WorkerRelay(transport) as relay:
        worker = relay.worker_transport()
        folder = relay.path.parent
        assert (os.stat(folder).st_mode & 0o777) == 0o700
        from runyard.client.operations import operations

        assert worker.invoke(operations()["stacks-list"]) is not None
    assert not Path(folder).exists()
    with pytest.raises(RunyardError, match="Nothing serves the workspace"):
        worker.for_new_process().invoke(operations()["stacks-list"])


def test_the_decorator_takes_orchestrator_options_and_names_a_wrong_kind() -> None:
    from runyard.exceptions import ConfigurationError

    assert two_branches.config.orchestrator == PARALLEL
    with pytest.raises(ConfigurationError, match="flavor name or a dict"):
        pipeline(orchestrator=["local_parallel"])(lambda: None)  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="name must be a string"):
        two_branches.with_options(orchestrator={"name": {"x": 1}})
