"""SQLite WAL checkpoints off the requests' path, for a process that owns the workspace's writes.

In WAL mode every commit appends pages to the ``-wal`` file, and by default the commit that takes it past
1,000 pages also copies them back into the database file and syncs it (a "checkpoint"): that one step
report then takes 5-35 ms instead of 0.1 ms, about every 60 steps of a fast chain (a third of the
embedded workspace's commit time). The local workspace service turns automatic checkpoints off on its
write connections and runs them here, on a thread of its own: a full one (``TRUNCATE``, which also
empties the file) once no request came for a moment, and a ``PASSIVE`` one, which never waits for
writers, if the file grows past a bound while requests keep coming. Other processes writing the same
file keep SQLite's automatic checkpoints, so the file stays bounded whoever writes.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import event

from runyard.workspace.db.engine import Database

log = logging.getLogger("runyard.local_service")

#: A checkpoint runs once no request came for this long.
IDLE_S = 0.2
#: ... or while requests keep coming, once the WAL file is larger than this.
MAX_WAL_BYTES = 64 * 1024 * 1024
#: How often the WAL file's size is looked at.
INTERVAL_S = 0.1


class BackgroundCheckpoints:
    def __init__(self, database: Database, database_file: str) -> None:
        self.database_file = database_file
        self.wal_file = database_file + "-wal"
        event.listen(database.write_engine, "connect", _no_automatic_checkpoints)
        database.write_engine.dispose()  # connections opened before this (the migration's) reconnect with it
        self._stop = threading.Event()
        self.done = 0  # checkpoints run, for tests and the log

    def run(self, last_active: Callable[[], float]) -> None:
        """Until :meth:`stop`: checkpoints when idle, or when the WAL file outgrows its bound."""
        while not self._stop.wait(INTERVAL_S):
            try:
                size = os.path.getsize(self.wal_file)
            except OSError:
                continue
            if not size:
                continue
            if time.monotonic() - last_active() >= IDLE_S:
                self.checkpoint("TRUNCATE")
            elif size > MAX_WAL_BYTES:
                self.checkpoint("PASSIVE")

    def stop(self) -> None:
        """Stops the thread and leaves the database file whole (a last full checkpoint)."""
        self._stop.set()
        self.checkpoint("TRUNCATE")

    def checkpoint(self, mode: str) -> None:
        try:
            # mode=rw: a deleted workspace must not come back as an empty file
            uri = Path(self.database_file).absolute().as_uri() + "?mode=rw"
            with contextlib.closing(sqlite3.connect(uri, uri=True, timeout=0.05)) as conn:
                conn.execute(f"PRAGMA wal_checkpoint({mode})")
            self.done += 1
        except sqlite3.Error as exc:  # busy (a writer or a long reader): the next round tries again
            log.debug("checkpoint (%s) deferred: %s", mode, exc)


def _no_automatic_checkpoints(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.execute("PRAGMA wal_autocheckpoint=0")
