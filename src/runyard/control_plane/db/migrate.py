"""Schema migrations of the control-plane database, the same way the workspace does it.

Opening reads ``alembic_version`` and compares it with :data:`HEAD_REVISION`; an empty database gets the
current schema directly (``create_all`` + stamp, no Alembic import), a database at an older revision is
upgraded by Alembic from ``control_plane/migrations`` under a lock, a newer one is refused. The version
table is named ``cp_alembic_version`` so pointing both services at one database by mistake cannot make
either believe the other's schema is its own.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Connection, inspect, text
from sqlalchemy.exc import DBAPIError

from runyard.exceptions import VersionMismatch
from runyard.workspace.db.engine import Database

if TYPE_CHECKING:
    from alembic.config import Config

#: The newest migration in ``control_plane/migrations/versions``; a test keeps the two in step.
HEAD_REVISION = "cp0001_initial"
KNOWN_REVISIONS = ("cp0001_initial",)
VERSION_TABLE = "cp_alembic_version"

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"
_PG_LOCK_ID = 7_246_813_101


def current_revision(conn: Connection) -> str | None:
    try:
        with conn.begin_nested() if conn.in_transaction() else contextlib.nullcontext():
            row = conn.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).first()
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
            f"The control-plane database is at schema revision {rev!r}, newer than this Runyard knows.",
            hint="Upgrade runyard (pip install -U runyard) to use this control plane.",
        )
    with _migration_lock(db):
        upgrade(db)
        seed(db)


def seed(db: Database) -> None:
    """The built-in roles exist from the start, so granting one never needs to create it."""
    from runyard.control_plane.services.roles import ensure_builtin_roles

    with db.session(write=True) as session:
        ensure_builtin_roles(session)


def upgrade(db: Database) -> None:
    with db.write_engine.connect() as conn:
        rev = current_revision(conn)
        conn.rollback()
        if rev == HEAD_REVISION:
            return
        empty = rev is None and not (set(inspect(conn).get_table_names()) & _own_tables())
        conn.rollback()
        if empty:
            _create_fresh(conn)
            return
    from alembic import command

    cfg = alembic_config()
    with db.write_engine.connect() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")
        conn.commit()


def alembic_config() -> Config:
    """Alembic configuration pointing at the control plane's own migration folder."""
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    return cfg


def _own_tables() -> set[str]:
    from runyard.control_plane.db.models import Base

    return {t.name for t in Base.metadata.sorted_tables} | {VERSION_TABLE}


def _create_fresh(conn: Connection) -> None:
    """Equivalent to running every migration (a test compares the two), without importing Alembic."""
    from runyard.control_plane.db.models import Base

    with conn.begin():
        Base.metadata.create_all(conn)
        conn.execute(text(f"CREATE TABLE {VERSION_TABLE} (version_num VARCHAR(32) NOT NULL PRIMARY KEY)"))
        conn.execute(text(f"INSERT INTO {VERSION_TABLE} (version_num) VALUES (:v)"), {"v": HEAD_REVISION})


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
