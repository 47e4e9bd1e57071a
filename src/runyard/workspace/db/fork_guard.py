"""Keeps ``fork()`` from copying a database library in the middle of a call.

``local_parallel`` forks its workers from the pipeline process. With the in-process transport, other
threads of that process (a heartbeat, or the user's own ``Client()`` calls) may be inside SQLite's or a
driver's C code at that instant, holding one of its internal mutexes; the child inherits the mutex locked
and its first connection waits forever. Once a process has said it will fork workers (:func:`enable`),
every database session holds a process-wide lock, and a fork first takes that lock and waits for the
sessions that started before: no session is in flight at the fork. Processes that never fork workers (a
server, the local service) never enable it and pay nothing but a flag check.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

_enabled = False
_lock = threading.RLock()
_untracked = 0  # sessions that started before the guard was enabled and have not ended yet


def enable() -> None:
    """From now on, sessions in this process hold the guard, and forks wait for them."""
    global _enabled
    _enabled = True


@contextmanager
def guarded() -> Iterator[None]:
    """Around one database session."""
    global _untracked
    if _enabled:
        with _lock:
            yield
        return
    _untracked += 1
    try:
        yield
    finally:
        _untracked -= 1


def _before_fork() -> None:
    if not _enabled:
        return
    _lock.acquire()
    deadline = time.monotonic() + 30
    while _untracked > 0 and time.monotonic() < deadline:  # sessions begun before enable(): let them end
        time.sleep(0.001)


def _after_fork_in_parent() -> None:
    if _enabled:
        _lock.release()


def _after_fork_in_child() -> None:
    global _lock, _untracked
    _lock = threading.RLock()  # the parent's holds its owner's count; start clean
    _untracked = 0


os.register_at_fork(before=_before_fork, after_in_parent=_after_fork_in_parent,
                    after_in_child=_after_fork_in_child)
