"""The default artifact store: a folder on this machine (``RUNYARD_HOME/artifacts`` unless configured)."""

from __future__ import annotations

import atexit
import contextlib
import os
import queue
import shutil
import threading
import uuid
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

    def new_temp_folder(self) -> str:
        spare = _spare_folders.get(self.root)
        if spare:
            return spare.pop()
        uri = f"{self.root}/.tmp/{uuid.uuid4().hex}"
        try:
            os.mkdir(uri)  # one system call on the hot path; the parent exists after the first artifact
        except FileNotFoundError:
            os.makedirs(uri, exist_ok=True)
        return uri

    def move(self, src: str, dst: str) -> bool:
        for attempt in range(2):
            try:
                os.rename(src, dst)  # atomic on one file system; fails if dst is a non-empty folder
                return True
            except FileNotFoundError:
                if attempt or not os.path.exists(src):
                    raise
                os.makedirs(os.path.dirname(dst), exist_ok=True)  # the first artifact under this prefix
            except OSError:
                if os.path.exists(dst):
                    return False
                raise
        return True  # pragma: no cover - the loop returns or raises

    def discard_temp(self, uri: str, *, size: int | None = None) -> None:
        """Small folders go at once (cheaper than waking a thread); big ones off the step's path, since
        deleting costs a journal write per file on some file systems."""
        if size is not None and size <= _INLINE_DELETE_BYTES:
            if _empty_flat_folder(uri):
                _keep_spare(self.root, uri)
            else:
                shutil.rmtree(uri, ignore_errors=True)
        else:
            _remover().put(uri)

    def remove(self, uri: str) -> None:
        if os.path.isdir(uri):
            shutil.rmtree(uri, ignore_errors=True)
        elif os.path.exists(uri):
            os.remove(uri)

    def local_path(self, uri: str) -> str | None:
        return uri


def _empty_flat_folder(uri: str) -> bool:
    """Deletes the files of a folder without subfolders (True), leaving it empty for the next artifact."""
    with os.scandir(uri) as entries:
        names = [(entry.name, entry.is_dir(follow_symlinks=False)) for entry in entries]
    if any(is_dir for _name, is_dir in names):
        return False
    for name, _is_dir in names:
        os.unlink(f"{uri}/{name}")
    return True


#: Emptied temp folders of this process, per store root, reused by ``new_temp_folder``. Re-saving content
#: that is stored already (a re-run without the cache) would otherwise pay an ``rmdir`` per output, which
#: waits for the file system journal: 1.5 ms a step here while other processes wrote files.
_spare_folders: dict[str, list[str]] = {}
_MAX_SPARE = 64


def _keep_spare(root: str, uri: str) -> None:
    spare = _spare_folders.setdefault(root, [])
    if len(spare) >= _MAX_SPARE:
        os.rmdir(uri)
        return
    global _spares_cleanup_registered
    if not _spares_cleanup_registered:
        _spares_cleanup_registered = True
        atexit.register(_remove_spares)
    spare.append(uri)


_spares_cleanup_registered = False


def _remove_spares() -> None:
    for spare in _spare_folders.values():
        for uri in spare:
            with contextlib.suppress(OSError):
                os.rmdir(uri)
    _spare_folders.clear()


#: Temp folders up to this size are deleted inline by :meth:`LocalArtifactStore.discard_temp`.
_INLINE_DELETE_BYTES = 1 << 20
_queue: queue.Queue[str] | None = None
_queue_lock = threading.Lock()


def _forget_remover_after_fork() -> None:
    """A forked worker inherits the queue (and its lock, maybe held by the parent's cleaner thread) but not
    the thread: it starts its own on first use."""
    global _queue, _queue_lock
    _queue = None
    _queue_lock = threading.Lock()
    _spare_folders.clear()  # the parent reuses them; two processes must never write into one folder


os.register_at_fork(after_in_child=_forget_remover_after_fork)


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
