"""A fork never lands in the middle of a database session once a process forks workers."""

from __future__ import annotations

import os
import threading
import time

from runyard.workspace.db import fork_guard


def test_a_fork_waits_for_the_session_in_flight() -> None:
    fork_guard.enable()
    entered, leave = threading.Event(), threading.Event()
    ended_at: list[float] = []

    def session() -> None:
        with fork_guard.guarded():
            entered.set()
            leave.wait(5)
            time.sleep(0.2)
            ended_at.append(time.monotonic())

    worker = threading.Thread(target=session)
    worker.start()
    assert entered.wait(5)
    leave.set()
    pid = os.fork()  # must wait until the session above has ended
    if pid == 0:
        with fork_guard.guarded():  # the child's guard starts free
            os._exit(0)
    forked_at = time.monotonic()
    _, status = os.waitpid(pid, 0)
    worker.join(5)
    assert status == 0
    assert ended_at and forked_at >= ended_at[0]
    with fork_guard.guarded():  # the parent's guard was released after the fork
        pass
