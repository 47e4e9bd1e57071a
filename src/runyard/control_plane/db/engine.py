"""The control-plane database: one migrated :class:`Database` per URL and process.

It reuses the workspace's engine set-up (SQLite in WAL with ``BEGIN IMMEDIATE`` writers, pooled
PostgreSQL), but never its schema: the two databases are separate even when one process serves both.
"""

from __future__ import annotations

import contextlib
import os
import threading

from runyard.workspace.db.engine import Database

_lock = threading.Lock()
_databases: dict[tuple[str, int], Database] = {}


def get_control_plane_database(url: str) -> Database:
    """Opens (and migrates, and seeds the built-in roles of) the control-plane database at ``url``."""
    key = (url, os.getpid())
    with _lock:
        db = _databases.get(key)
        if db is None:
            from runyard.control_plane.db.migrate import ensure_schema

            db = Database(url)
            ensure_schema(db)
            _databases[key] = db
        return db


def reset_control_plane_databases() -> None:
    """Forget cached databases (tests, forked workers)."""
    with _lock:
        for db in _databases.values():
            with contextlib.suppress(Exception):
                db.dispose()
        _databases.clear()
