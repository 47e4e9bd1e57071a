"""Engines and sessions for the workspace database.

SQLite is tuned for several processes writing at once (the local parallel orchestrator, two terminals):
WAL so readers never block, a busy timeout, and ``BEGIN IMMEDIATE`` for writing transactions so two
writers queue on the lock instead of failing with "database is locked" on lock upgrade.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

T = TypeVar("T")

#: Times a transaction the database aborted to break a deadlock is run, in all.
CONFLICT_ATTEMPTS = 5
#: MariaDB/MySQL: deadlock found, lock wait timeout. PostgreSQL (SQLSTATE): deadlock, serialization failure.
_MYSQL_CONFLICTS = frozenset({1213, 1205})
_POSTGRES_CONFLICTS = frozenset({"40P01", "40001"})


def is_transient_conflict(exc: BaseException) -> bool:
    """True when the database rolled the transaction back only to break a deadlock or a serialization
    conflict with another one: running it again is the documented answer, not an error for the caller."""
    if not isinstance(exc, DBAPIError):
        return False
    orig = exc.orig
    if getattr(orig, "sqlstate", None) in _POSTGRES_CONFLICTS:  # psycopg 3
        return True
    args: tuple[Any, ...] = getattr(orig, "args", ())
    return bool(args) and isinstance(args[0], int) and args[0] in _MYSQL_CONFLICTS


def _sqlite_engine(url: str, *, immediate: bool, busy_timeout_ms: int) -> Engine:
    engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": busy_timeout_ms / 1000})

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # we emit BEGIN ourselves
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine


#: The C scanner ``json.loads`` ends in, without its per-call set-up (``scan_once`` is not in typeshed).
_scan_json: Callable[[str, int], tuple[Any, int]] = json.JSONDecoder().scan_once  # type: ignore[attr-defined]


def load_json(data: str | bytes) -> Any:
    """``json.loads`` for the JSON columns the database hands back, ~3x faster on their small documents.

    ``json.loads`` of bytes first sniffs their encoding and wraps the scanner in Python calls: ~10 us for a
    ``{}``, which a page of 500 step runs pays ~2,500 times. Whatever the fast path cannot take whole (white
    space around the document, trailing text, invalid JSON) goes to ``json.loads``, which parses or raises.
    """
    text = data if isinstance(data, str) else bytes(data).decode()
    try:
        value, end = _scan_json(text, 0)
    except StopIteration:
        return json.loads(text)
    return value if end == len(text) else json.loads(text)


class Database:
    """A workspace database: one engine for reads and one for writes (the same one off SQLite)."""

    def __init__(self, url: str, *, busy_timeout_ms: int = 30_000, pool_size: int = 15) -> None:
        self.url = url
        self.is_sqlite = url.startswith("sqlite")
        if self.is_sqlite:
            path = url.split("///", 1)[-1]
            if path and path != ":memory:":
                Path(path).parent.mkdir(parents=True, exist_ok=True)
            self.write_engine = _sqlite_engine(url, immediate=True, busy_timeout_ms=busy_timeout_ms)
            self.read_engine = _sqlite_engine(url, immediate=False, busy_timeout_ms=busy_timeout_ms)
        else:
            # every connection is kept (no overflow): a pool smaller than the server's concurrency closes each
            # connection above its size when it is returned, so under load every request past the 5th opened a
            # new PostgreSQL connection (1,400 in 35 s of 16 concurrent runners; p99 +50%)
            self.write_engine = create_engine(url, pool_size=pool_size, max_overflow=0, pool_pre_ping=True,
                                              json_deserializer=load_json)
            self.read_engine = self.write_engine
        self._writer = sessionmaker(self.write_engine, expire_on_commit=False)
        self._reader = sessionmaker(self.read_engine, expire_on_commit=False)
        self._autocommit: Engine | None = None
        self._autocommit_lock = threading.Lock()

    @contextlib.contextmanager
    def session(self, *, write: bool) -> Iterator[Session]:
        """A short transaction: committed on success, rolled back on any error."""
        factory = self._writer if write else self._reader
        with factory() as session, session.begin():
            yield session

    def run(self, fn: Callable[..., T], /, *, write: bool, **kwargs: Any) -> T:
        """``fn(session, **kwargs)`` in one transaction, run again when the database aborted it to break a
        deadlock (:func:`is_transient_conflict`).

        Why: on MariaDB two steps finishing together that create the same new artifact name deadlock on its
        unique key, and InnoDB picks one to abort; PostgreSQL does the same on rare lock cycles. The rolled
        back transaction left nothing behind, so running it again after a short random pause is safe."""
        for attempt in range(1, CONFLICT_ATTEMPTS + 1):
            try:
                with self.session(write=write) as session:
                    return fn(session, **kwargs)
            except DBAPIError as exc:
                if attempt == CONFLICT_ATTEMPTS or not is_transient_conflict(exc):
                    raise
            time.sleep(random.uniform(0.0, 0.005 * 2**attempt))  # apart, so they do not collide again
        raise AssertionError("unreachable")

    @contextlib.contextmanager
    def autocommit_connection(self) -> Iterator[Any]:
        """A driver connection on which each statement commits by itself, from a pool without pre-ping.

        For single-statement writes on the server's hot path (a runner's status report, PostgreSQL only): no
        ``BEGIN``/``COMMIT`` and no ping round trip per request. A connection the database dropped is not
        pinged first, so its statement fails instead: the connection is then discarded (so is any connection
        whose statement failed) and the caller answers through its checked path, in a normal session.
        """
        if self.is_sqlite:
            raise ValueError("autocommit_connection is for server databases; SQLite writers use BEGIN IMMEDIATE")
        engine = self._autocommit
        if engine is None:
            with self._autocommit_lock:
                if self._autocommit is None:
                    # a small pool: only status reports use it (from as many threads), each for one statement
                    self._autocommit = create_engine(self.url, pool_size=8, max_overflow=0, pool_pre_ping=False,
                                                     isolation_level="AUTOCOMMIT")
                engine = self._autocommit
        raw = engine.raw_connection()
        try:
            yield raw.driver_connection
        except BaseException:
            raw.invalidate()
            raise
        finally:
            raw.close()

    def dispose(self) -> None:
        if self._autocommit is not None:
            self._autocommit.dispose()
        self.write_engine.dispose()
        if self.read_engine is not self.write_engine:
            self.read_engine.dispose()


_lock = threading.Lock()
_databases: dict[tuple[str, int], Database] = {}


def _new_lock_after_fork() -> None:
    """The parent's lock may be held by one of its threads at the fork; a forked worker needs its own."""
    global _lock
    _lock = threading.Lock()


os.register_at_fork(after_in_child=_new_lock_after_fork)


def get_database(url: str, *, busy_timeout_ms: int = 30_000) -> Database:
    """One migrated :class:`Database` per URL and process (a forked worker gets its own)."""
    key = (url, os.getpid())
    with _lock:
        db = _databases.get(key)
        if db is None:
            from runyard.workspace.db.migrate import ensure_schema

            db = Database(url, busy_timeout_ms=busy_timeout_ms)
            ensure_schema(db)
            _databases[key] = db
        return db


def reset_databases() -> None:
    """Forget cached databases (tests, forked workers)."""
    with _lock:
        for db in _databases.values():
            with contextlib.suppress(Exception):
                db.dispose()
        _databases.clear()
