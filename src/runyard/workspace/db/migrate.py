"""Schema migrations, applied automatically and cheaply.

Opening a workspace reads one row (``alembic_version``) and compares it with :data:`HEAD_REVISION`;
Alembic itself (slow to import) is loaded only when the schema really has to change. Upgrades hold a lock
(a file lock on SQLite, an advisory lock on PostgreSQL) so several processes or replicas starting at
once migrate exactly once.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

from sqlalchemy import Connection, inspect, text
from sqlalchemy.exc import DBAPIError

from runyard.exceptions import VersionMismatch
from runyard.workspace.db.engine import Database

#: The newest migration in ``workspace/migrations/versions``; a test keeps the two in step.
HEAD_REVISION = "0003_artifact_size_bigint"
KNOWN_REVISIONS = ("0001_initial", "0002_log_lines", "0003_artifact_size_bigint")

_MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"
_PG_LOCK_ID = 7_246_813_001


def current_revision(conn: Connection) -> str | None:
    try:
        with conn.begin_nested() if conn.in_transaction() else contextlib.nullcontext():
            row = conn.execute(text("SELECT version_num FROM alembic_version")).first()
    except DBAPIError:
        return None
    return row[0] if row else None


def ensure_schema(db: Database) -> None:
    with db.read_engine.connect() as conn:
        rev = current_revision(conn)
        conn.rollback()
    if rev == HEAD_REVISION:
        return
    if rev is not None and rev not in KNOWN_REVISIONS:
        raise VersionMismatch(
            f"The workspace database is at schema revision {rev!r}, newer than this Runyard knows.",
            hint="Upgrade runyard (pip install -U runyard) to use this workspace.",
        )
    with _migration_lock(db):
        upgrade(db)
        seed(db)


def seed(db: Database) -> None:
    """Rows every workspace has from the start (the default stack), so reads never need to write."""
    from runyard.workspace.services.stacks import ensure_default_stack

    with db.session(write=True) as session:
        ensure_default_stack(session)


def upgrade(db: Database) -> None:
    with db.write_engine.connect() as conn:
        rev = current_revision(conn)
        conn.rollback()
        if rev == HEAD_REVISION:  # another process won the race
            return
        empty = rev is None and not inspect(conn).get_table_names()
        conn.rollback()
        if empty:
            _create_fresh(conn)
            return
    from alembic import command
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(_MIGRATIONS_DIR))
    with db.write_engine.connect() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")
        conn.commit()


def _create_fresh(conn: Connection) -> None:
    """An empty database gets the current schema directly and is stamped at head.

    Equivalent to running every migration (a test compares the two), without importing Alembic: the
    first run on a new machine stays fast.
    """
    from sqlalchemy.orm import Session

    from runyard.workspace.db.models import Base
    from runyard.workspace.services.stacks import ensure_default_stack

    with conn.begin():
        Base.metadata.create_all(conn)
        # seeded in the same transaction: a process that sees the schema stamped also sees the default stack
        with Session(bind=conn, join_transaction_mode="create_savepoint") as session:
            ensure_default_stack(session)
            session.flush()
        conn.execute(text("CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL PRIMARY KEY)"))
        conn.execute(text("INSERT INTO alembic_version (version_num) VALUES (:v)"), {"v": HEAD_REVISION})


@contextlib.contextmanager
def _migration_lock(db: Database) -> Iterator[None]:
    if db.is_sqlite:
        path = db.url.split("///", 1)[-1]
        if not path or path == ":memory:":
            yield
            return
        import fcntl

        with open(path + ".migrate.lock", "a+") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)
    elif db.write_engine.dialect.name == "postgresql":
        with db.write_engine.connect() as conn:
            conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": _PG_LOCK_ID})
            conn.commit()
            try:
                yield
            finally:
                conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": _PG_LOCK_ID})
                conn.commit()
    else:
        yield
