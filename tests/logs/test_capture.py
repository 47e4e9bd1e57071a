"""Log capture: what a step prints and logs is stored, the terminal still shows it, nothing is lost."""

from __future__ import annotations

import logging
import sys
import uuid
from pathlib import Path

import pytest

from runyard.artifacts.stores.local import LocalArtifactStore
from runyard.logs.backends.artifact_store import CHUNK_BYTES, ArtifactStoreLogBackend
from runyard.logs.capture import LogCapture
from runyard.logs.masking import clear, register_secret
from runyard.logs.records import MAX_LINE_CHARS


@pytest.fixture
def backend(tmp_path: Path) -> ArtifactStoreLogBackend:
    return ArtifactStoreLogBackend(LocalArtifactStore(str(tmp_path / "store")))


def _all(backend: ArtifactStoreLogBackend, run_id: uuid.UUID, key: str = "k") -> list[str]:
    return [line.message for line in backend.read(run_id, key, offset=0, limit=10_000_000).lines]


def test_stdout_stderr_and_logging_are_captured_with_streams_and_levels(
    backend: ArtifactStoreLogBackend, capsys: pytest.CaptureFixture[str]
) -> None:
    run_id = uuid.uuid4()
    with LogCapture(backend.open_writer(run_id, "k")):
        print("hello")
        print("oops", file=sys.stderr)
        logging.getLogger("user.module").warning("careful %d", 3)
        print("partial", end="")
    seen = capsys.readouterr()
    assert "hello" in seen.out and "partial" in seen.out  # the user still sees their output
    assert "oops" in seen.err
    page = backend.read(run_id, "k")
    assert [(line.stream, line.level, line.message) for line in page.lines] == [
        ("stdout", "INFO", "hello"),
        ("stderr", "WARNING", "oops"),
        ("log", "WARNING", "careful 3"),
        ("stdout", "INFO", "partial"),
    ]
    assert page.lines[2].logger == "user.module"
    assert page.complete
    assert [line.offset for line in page.lines] == [0, 1, 2, 3]


def test_ranges_are_read_without_the_rest_and_chunks_rotate(backend: ArtifactStoreLogBackend) -> None:
    run_id = uuid.uuid4()
    line = "x" * 200
    n = (CHUNK_BYTES // 200) * 3  # about three chunks
    with LogCapture(backend.open_writer(run_id, "k"), echo=False):
        for i in range(n):
            print(f"{i:08d} {line}")
    chunks = sorted(p.name for p in Path(backend.folder(run_id, "k")).glob("*.ndjson"))
    assert len(chunks) >= 3
    middle = n // 2
    page = backend.read(run_id, "k", offset=middle, limit=5)
    assert [x.offset for x in page.lines] == list(range(middle, middle + 5))
    assert page.lines[0].message.startswith(f"{middle:08d} ")
    assert page.next_offset == middle + 5 and not page.complete
    tail = backend.read(run_id, "k", offset=n - 2, limit=100)
    assert len(tail.lines) == 2 and tail.complete


def test_huge_lines_are_split_not_dropped_and_garbage_survives(backend: ArtifactStoreLogBackend) -> None:
    run_id = uuid.uuid4()
    big = "y" * (MAX_LINE_CHARS * 3 + 10)
    with LogCapture(backend.open_writer(run_id, "k"), echo=False):
        print(big)
        print("bad \udcff surrogate and \x00 nul")
        sys.stdout.write("z" * (MAX_LINE_CHARS * 2 + 5))  # no newline at all
    messages = _all(backend, run_id)
    assert "".join(messages[:4]) == big
    assert all(len(m) <= MAX_LINE_CHARS for m in messages)
    assert messages[4].startswith("bad ") and messages[4].endswith(" nul")
    assert "".join(messages[5:]) == "z" * (MAX_LINE_CHARS * 2 + 5)


def test_secret_values_are_masked(backend: ArtifactStoreLogBackend) -> None:
    run_id = uuid.uuid4()
    register_secret("hunter2-very-secret")
    try:
        with LogCapture(backend.open_writer(run_id, "k"), echo=False):
            print("password is hunter2-very-secret, keep it safe")
            logging.getLogger("x").error("token=%s", "hunter2-very-secret")
    finally:
        clear()
    assert _all(backend, run_id) == ["password is ***, keep it safe", "token=***"]


def test_logs_are_flushed_while_the_step_runs(backend: ArtifactStoreLogBackend) -> None:
    import time

    run_id = uuid.uuid4()
    with LogCapture(backend.open_writer(run_id, "k"), echo=False, interval=0.05):
        print("early line")
        deadline = time.time() + 3
        while time.time() < deadline and not backend.read(run_id, "k").lines:
            time.sleep(0.02)
        during = backend.read(run_id, "k")
        assert [x.message for x in during.lines] == ["early line"]
        assert not during.complete  # the writer is still open
    assert backend.read(run_id, "k").complete


def test_a_nested_capture_does_not_store_lines_twice(backend: ArtifactStoreLogBackend) -> None:
    run_id = uuid.uuid4()
    with LogCapture(backend.open_writer(run_id, "run"), echo=False):
        print("runner says hi")
        with LogCapture(backend.open_writer(run_id, "step"), echo=False):
            print("step output")
            logging.getLogger("s").warning("step warning")
        print("runner again")
    assert _all(backend, run_id, "run") == ["runner says hi", "runner again"]
    assert _all(backend, run_id, "step") == ["step output", "step warning"]


def test_bytes_written_to_the_binary_buffer_are_captured_leniently(backend: ArtifactStoreLogBackend) -> None:
    run_id = uuid.uuid4()
    with LogCapture(backend.open_writer(run_id, "k"), echo=False):
        sys.stdout.buffer.write(b"raw \xff\xfe bytes\n")
        sys.stdout.buffer.write("caf\u00e9\n".encode()[:4])  # a multi-byte character split across writes
        sys.stdout.buffer.write("caf\u00e9\n".encode()[4:])
    assert _all(backend, run_id) == ["raw \ufffd\ufffd bytes", "caf\u00e9"]


def test_a_forked_worker_does_not_wait_on_locks_the_parents_threads_held() -> None:
    """local_parallel forks while the parent's log flusher (and temp cleaner) threads may hold their locks."""
    import os
    import signal

    from runyard.artifacts.stores import local as local_store
    from runyard.logs import capture

    flusher = capture._flusher()
    local_store._remover()
    with flusher._lock, local_store._queue_lock:  # as if those threads held them at the moment of the fork
        pid = os.fork()
        if pid == 0:  # the child: must get fresh, free locks (a hang would trip the alarm: exit by signal)
            signal.alarm(10)
            fresh = capture._flusher()
            ok = fresh is not flusher and not fresh._lock.locked() and not local_store._queue_lock.locked()
            local_store._remover()
            os._exit(0 if ok else 1)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
