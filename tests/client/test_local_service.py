"""The embedded workspace through the resident local service: what users get by default."""

from __future__ import annotations

import json
import logging
import os
import socket
import subprocess
import sys
import textwrap
import time
import uuid
from pathlib import Path

import pytest

from runyard import Client, pipeline, step
from runyard.client import connection
from runyard.client.local_service import (
    ERROR,
    LocalServiceTransport,
    recv_frame,
    send_frame,
    service_key,
)
from runyard.exceptions import NotFound


@step
def make_number(base: int = 41) -> int:
    return base + 1


@step
def double(x: int) -> int:
    return 2 * x


@pipeline(enable_cache=False)
def small():
    double(make_number())


def _transport() -> LocalServiceTransport:
    transport = connection.workspace_api().transport
    assert isinstance(transport, LocalServiceTransport), transport
    return transport


def _use_service(on: bool) -> None:
    from runyard.settings import get_settings

    os.environ["RUNYARD_LOCAL_SERVICE"] = "1" if on else "0"
    get_settings.cache_clear()
    connection.reset()


def _service_pids(runtime: Path) -> list[int]:
    return sorted(int(p.read_text()) for p in runtime.glob("*.pid"))


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def _wait_for(predicate, timeout: float = 15.0) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def test_a_pipeline_runs_through_a_service_started_on_first_use(local_service: Path) -> None:
    run = small()
    assert str(run.status) == "completed"
    assert run.steps["double"].outputs["output"].load() == 84
    transport = _transport()
    assert transport._fallback is None  # really over the socket, not the in-process fallback
    pids = _service_pids(local_service)
    assert len(pids) == 1 and pids[0] != os.getpid() and _alive(pids[0])
    assert transport.path.stat().st_mode & 0o777 == 0o600
    assert local_service.stat().st_mode & 0o777 == 0o700
    # the same rows, read in-process: one database, two ways in
    _use_service(False)
    try:
        again = Client().get_run(run.id)
        assert not isinstance(connection.workspace_api().transport, LocalServiceTransport)
    finally:
        _use_service(True)
    assert again.id == run.id and str(again.status) == "completed"


def test_errors_arrive_as_the_same_exceptions(local_service: Path) -> None:
    missing = uuid.uuid4()
    with pytest.raises(NotFound) as over_socket:
        Client().get_run(missing)
    assert _transport()._fallback is None
    _use_service(False)
    try:
        with pytest.raises(NotFound) as in_process:
            Client().get_run(missing)
    finally:
        _use_service(True)
    assert str(over_socket.value) == str(in_process.value)


SCRIPT = textwrap.dedent(
    """
    import json, sys
    from runyard import pipeline, step

    @step
    def one() -> int:
        return 1

    @pipeline(enable_cache=False)
    def tiny():
        one()

    run = tiny()
    print(json.dumps({"status": str(run.status), "sqlalchemy": "sqlalchemy" in sys.modules}))
    """
)


def _run_script(tmp_path: Path, name: str = "tiny.py") -> subprocess.Popen[str]:
    script = tmp_path / name
    script.write_text(SCRIPT)
    return subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=dict(os.environ))


def test_pipeline_processes_share_one_service_and_never_import_sqlalchemy(local_service: Path,
                                                                           tmp_path: Path) -> None:
    first = [_run_script(tmp_path, f"s{i}.py") for i in range(3)]  # at once: they race to start it
    results = []
    for process in first:
        out, err = process.communicate(timeout=120)
        assert process.returncode == 0, err
        results.append(json.loads(out.strip().splitlines()[-1]))
    assert all(r == {"status": "completed", "sqlalchemy": False} for r in results), results
    pids = _service_pids(local_service)
    assert len(pids) == 1, pids
    later = _run_script(tmp_path)
    out, err = later.communicate(timeout=120)
    assert later.returncode == 0, err
    assert _service_pids(local_service) == pids  # reused, not restarted
    assert len(Client().list_runs(pipeline="tiny")) == 4


def test_the_service_exits_when_idle(local_service: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RUNYARD_LOCAL_SERVICE_IDLE_S", "0.5")
    _use_service(True)
    small()
    (pid,) = _service_pids(local_service)
    assert _alive(pid)
    time.sleep(1.5)
    assert _alive(pid), "it must not leave while a client is connected"
    connection.reset()  # the client goes away
    assert _wait_for(lambda: not list(local_service.glob("*.sock")) and not list(local_service.glob("*.pid")))
    assert _wait_for(lambda: not _alive(pid) or _zombie(pid))
    assert str(small().status) == "completed"  # and the next client starts a new one
    assert _service_pids(local_service) != [pid]


def _zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] == "Z"
    except OSError:
        return True


def test_a_deleted_workspace_is_never_written_by_a_stale_service(local_service: Path, runyard_home: Path) -> None:
    small()
    (old,) = _service_pids(local_service)
    for name in ("workspace.db", "workspace.db-wal", "workspace.db-shm"):
        (runyard_home / name).unlink(missing_ok=True)
    assert list(Client().list_runs()) == []  # a new, empty workspace: the old service did not answer
    run = small()
    assert [r.id for r in Client().list_runs()] == [run.id]
    assert (runyard_home / "workspace.db").exists()
    assert _wait_for(lambda: not _alive(old) or _zombie(old))


def test_server_side_settings_pick_their_own_service() -> None:
    base = {"RUNYARD_HOME": "/h", "RUNYARD_PROJECT": "a"}
    assert service_key("sqlite:///x", base) == service_key("sqlite:///x", {**base, "RUNYARD_PROJECT": "b"})
    assert service_key("sqlite:///x", base) != service_key("sqlite:///x", {**base, "RUNYARD_SECRETS_STORE": "aws"})
    assert service_key("sqlite:///x", base) != service_key("sqlite:///y", base)
    assert service_key("sqlite:///x", base) != service_key("sqlite:///x", {**base, "AWS_PROFILE": "prod"})
    assert service_key("sqlite:///x", base) == service_key("sqlite:///x", {**base, "EDITOR": "vi"})


def test_an_unsafe_runtime_folder_falls_back_to_in_process(local_service: Path, tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch,
                                                           caplog: pytest.LogCaptureFixture) -> None:
    shared = tmp_path / "shared"
    (shared / "runyard").mkdir(parents=True)
    (shared / "runyard").chmod(0o777)  # others could plant or read a socket here
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(shared))
    _use_service(True)
    with caplog.at_level(logging.WARNING, logger="runyard"):
        run = small()
    assert str(run.status) == "completed"
    assert "not a private folder" in caplog.text and "in-process" in caplog.text
    assert not list((shared / "runyard").glob("*.sock"))


def test_garbage_on_the_socket_gets_an_error_and_the_service_stays_up(local_service: Path) -> None:
    small()
    path = _transport().path
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as raw:
        raw.connect(str(path))
        for body in (b"not json", b'{"op": "no-such-op"}', b'{"op": "runs-get", "args": {"run_id": "x"}}',
                     b'{"op": "runs-get", "args": {"nope": 1}}'):
            send_frame(raw, body)
            reply = recv_frame(raw)
            assert reply is not None and reply[:1] == ERROR, (body, reply)
            assert json.loads(reply[1:])["message"]
    assert str(small().status) == "completed"


def test_parallel_orchestrator_workers_use_their_own_connections(local_service: Path) -> None:
    @pipeline(enable_cache=False, orchestrator="local_parallel")
    def fan():
        a = make_number(1)
        b = make_number(2)
        double(a)
        double(b)

    run = fan()
    assert str(run.status) == "completed"
    assert sorted(s.outputs["output"].load() for n, s in run.steps.items() if n.startswith("double")) == [4, 6]


def test_an_interrupted_request_never_hands_its_reply_to_the_next_one(local_service: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    run = small()
    transport = _transport()
    from runyard.client import local_service as module

    real_recv = module.recv_frame

    def interrupted(sock: socket.socket, **_: float) -> bytes | None:
        raise KeyboardInterrupt

    monkeypatch.setattr(module, "recv_frame", interrupted)
    with pytest.raises(KeyboardInterrupt):
        Client().get_run(run.id)  # sent; its reply is never read
    monkeypatch.setattr(module, "recv_frame", real_recv)
    assert transport._fallback is None
    with pytest.raises(NotFound):
        Client().get_run(uuid.uuid4())  # answered by its own reply, not by the run above
    assert Client().get_run(run.id).id == run.id


def test_submitted_requests_run_in_order_and_each_keeps_its_own_error(local_service: Path) -> None:
    """Reports go out without waiting; a later call on the same thread finds them stored, answers are
    matched to their requests by order, and an error stays with the request that caused it."""
    from runyard import schemas as s
    from runyard.client.operations import operation

    api = connection.workspace_api()
    transport = _transport()
    create, get = operation("pipelines-create"), operation("pipelines-get")
    first = transport.submit(create, pipeline=s.PipelineCreate(name="pipelined_a"), project=api.project)
    missing = transport.submit(get, name_or_id="no_such_pipeline", project=api.project)
    second = transport.submit(create, pipeline=s.PipelineCreate(name="pipelined_b"), project=api.project)
    assert not (first.done or missing.done or second.done)  # nothing was awaited yet
    assert api.get_pipeline("pipelined_b").name == "pipelined_b"  # sent after them: sees them stored
    assert first.done and missing.done and second.done
    assert first.result().name == "pipelined_a" and second.result().name == "pipelined_b"
    with pytest.raises(NotFound, match="no_such_pipeline"):
        missing.result()
    assert transport._fallback is None


def _request(op: str, **args: object) -> bytes:
    return json.dumps({"op": op, "args": args}).encode()


def test_queued_writes_share_one_commit_and_a_failing_one_undoes_only_itself(tmp_path: Path) -> None:
    from sqlalchemy import event

    from runyard.client.local_service import OK
    from runyard.workspace.local_service import Dispatcher

    dispatcher = Dispatcher(f"sqlite:///{tmp_path}/ws.db")
    dispatcher.open()
    commits: list[int] = []
    event.listen(dispatcher.transport.database.write_engine, "commit", lambda conn: commits.append(1))

    replies = dispatcher.handle_many([
        _request("pipelines-create", pipeline={"name": "grouped_a"}, project="default"),
        _request("pipelines-create", pipeline={"name": "grouped_b"}, project="default"),
    ])
    assert [r[:1] for r in replies] == [OK, OK]
    assert len(commits) == 1  # one transaction for both

    commits.clear()
    orphan = {"run_id": str(uuid.uuid4()), "invocation_id": "x", "step_name": "x"}
    replies = dispatcher.handle_many([
        _request("pipelines-create", pipeline={"name": "grouped_c"}, project="default"),
        _request("steps-create", step=orphan, project="default"),  # no such run: refused
        _request("pipelines-create", pipeline={"name": "grouped_d"}, project="default"),
        _request("pipelines-get", name_or_id="grouped_c", project="default"),  # a read after the writes
    ])
    assert [r[:1] for r in replies] == [OK, ERROR, OK, OK]
    assert json.loads(replies[1][1:])["code"] == "not_found"
    assert json.loads(replies[3][1:])["name"] == "grouped_c"
    assert len(commits) == 2  # the group was undone, then each write ran on its own
    names = {json.loads(dispatcher.handle(_request("pipelines-get", name_or_id=n, project="default"))[1:])["name"]
             for n in ("grouped_a", "grouped_b", "grouped_c", "grouped_d")}
    assert names == {"grouped_a", "grouped_b", "grouped_c", "grouped_d"}


def test_a_fast_chain_of_steps_is_stored_behind_the_runner(local_service: Path) -> None:
    """Through the service, steps do not wait for their reports' answers; the run still ends with every
    step, output and lineage link stored."""

    @pipeline(enable_cache=False)
    def chain():
        x = make_number()
        for _ in range(40):
            x = plus_one(x)

    run = chain()
    assert str(run.status) == "completed"
    steps = run.steps
    assert len(steps) == 41 and all(str(st.status) == "completed" for st in steps.values())
    assert sorted(st.outputs["output"].load() for st in steps.values()) == list(range(42, 83))
    produced = {st.outputs["output"].id: st for st in steps.values()}
    for st in steps.values():  # each input is the version its upstream step registered, one less
        for version in st.inputs.values():
            assert produced[version.id].outputs["output"].load() == st.outputs["output"].load() - 1


@step
def plus_one(x: int) -> int:
    return x + 1


@step
def kill_the_service(x: int, runtime: str) -> int:
    """Kills the local service (SIGKILL: no goodbye) while this run's reports are in flight."""
    import signal

    for pid_file in Path(runtime).glob("*.pid"):
        os.kill(int(pid_file.read_text()), signal.SIGKILL)
    return x + 1


def test_reports_in_flight_survive_a_killed_service(local_service: Path) -> None:
    """The requests not answered yet are sent again, in order, to a fresh service: every write is
    idempotent (client-chosen ids), so nothing is lost or stored twice."""

    @pipeline(enable_cache=False)
    def doomed():
        x = make_number()
        for _ in range(5):
            x = plus_one(x)
        x = kill_the_service(x, runtime=str(local_service))
        for _ in range(5):
            x = plus_one(x)

    first_pid = _service_pids(local_service)
    run = doomed()
    assert str(run.status) == "completed"
    assert _transport()._fallback is None  # a new service took over, not the in-process fallback
    assert _service_pids(local_service) != first_pid or not first_pid
    steps = Client().get_run(run.id).steps
    assert len(steps) == 12 and all(str(st.status) == "completed" for st in steps.values())
    assert sorted(st.outputs["output"].load() for st in steps.values()) == list(range(42, 54))
    # a report sent twice registered its outputs once: every output is version 1 of its name (a fresh home)
    assert {st.outputs["output"].data.version for st in steps.values()} == {1}


def test_the_service_checkpoints_its_wal_file_when_idle(local_service: Path, runyard_home: Path) -> None:
    """Commits never pay for a checkpoint (the service turns SQLite's automatic ones off); once no
    request comes for a moment it folds the WAL file back into the database and empties it."""
    run = small()
    wal = next(runyard_home.glob("*.db-wal"))
    assert _wait_for(lambda: wal.stat().st_size == 0, timeout=10), wal.stat().st_size
    assert Client().get_run(run.id).steps["double"].outputs["output"].load() == 84  # nothing lost


def test_checkpoints_never_bring_back_a_deleted_workspace(tmp_path: Path) -> None:
    from runyard.workspace.db.checkpoints import BackgroundCheckpoints
    from runyard.workspace.db.engine import Database

    path = tmp_path / "ws.db"
    database = Database(f"sqlite:///{path}")
    with database.session(write=True) as session:
        session.connection().exec_driver_sql("CREATE TABLE t (x INTEGER)")
    checkpoints = BackgroundCheckpoints(database, str(path))
    with database.session(write=True) as session:
        session.connection().exec_driver_sql("INSERT INTO t VALUES (1)")
        # the write connections no longer checkpoint inside a commit
        assert session.connection().exec_driver_sql("PRAGMA wal_autocheckpoint").scalar() == 0
    assert Path(str(path) + "-wal").stat().st_size > 0
    checkpoints.checkpoint("TRUNCATE")
    assert checkpoints.done == 1 and Path(str(path) + "-wal").stat().st_size == 0
    database.dispose()
    for leftover in tmp_path.glob("ws.db*"):
        leftover.unlink()
    checkpoints.checkpoint("TRUNCATE")  # e.g. `rm -rf ~/.runyard` under a running service
    assert checkpoints.done == 1 and not path.exists()
