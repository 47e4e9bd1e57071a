"""The default artifact store: a folder on this machine (``RUNYARD_HOME/artifacts`` unless configured)."""

from __future__ import annotations

import atexit
import os
import queue
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from runyard.artifacts.stores.base import ArtifactStore


class LocalArtifactStore(ArtifactStore):
    flavor = "local"

    def __init__(self, root: str, **kwargs: Any) -> None:
        super().__init__(str(Path(root).expanduser().resolve()), **kwargs)
        os.makedirs(self.root, exist_ok=True)

    def open(self, uri: str, mode: str = "rb") -> IO[Any]:
        return open(uri, mode)  # the caller owns (and closes) the handle

    def exists(self, uri: str) -> bool:
        return os.path.exists(uri)

    def makedirs(self, uri: str) -> None:
        os.makedirs(uri, exist_ok=True)

    def walk_files(self, uri: str) -> Iterator[str]:
        found: list[str] = []
        for dirpath, _dirs, files in os.walk(uri):
            for name in files:
                found.append(os.path.relpath(os.path.join(dirpath, name), uri))
        yield from sorted(found)

    def move(self, src: str, dst: str) -> bool:
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        try:
            os.rename(src, dst)  # atomic on one file system; fails if dst is a non-empty folder
        except OSError:
            if os.path.exists(dst):
                return False
            raise
        return True

    def discard_temp(self, uri: str) -> None:
        """Deleting costs a journal write per file on some file systems: do it off the step's path."""
        _remover().put(uri)

    def remove(self, uri: str) -> None:
        if os.path.isdir(uri):
            shutil.rmtree(uri, ignore_errors=True)
        elif os.path.exists(uri):
            os.remove(uri)

    def local_path(self, uri: str) -> str | None:
        return uri


_queue: queue.Queue[str] | None = None
_queue_lock = threading.Lock()


def _remover() -> queue.Queue[str]:
    global _queue
    with _queue_lock:
        if _queue is None:
            _queue = queue.Queue()
            threading.Thread(target=_remove_forever, args=(_queue,), name="runyard-tmp-cleaner", daemon=True).start()
            atexit.register(_drain, _queue)
        return _queue


def _remove_forever(q: queue.Queue[str]) -> None:
    while True:
        path = q.get()
        shutil.rmtree(path, ignore_errors=True)
        q.task_done()


def _drain(q: queue.Queue[str]) -> None:
    """At exit, finish pending deletions so no temp folders are left behind."""
    while True:
        try:
            path = q.get_nowait()
        except queue.Empty:
            return
        shutil.rmtree(path, ignore_errors=True)
