"""Keeping a database's schema current, cheaply: shared by the workspace and the control plane.

Opening a database reads one row (the Alembic version table) and compares it with the code's head
revision; Alembic itself (slow to import) is loaded only when the schema really has to change. An empty
database gets the current schema straight from the models and is stamped at head (a test per service
checks this equals running every migration). Upgrades hold a lock (a file lock on SQLite, an advisory
lock on PostgreSQL) so several processes or replicas starting at once migrate exactly once. A database
at a revision newer than the code knows is refused with a clear message.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Connection, MetaData, inspect, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from runyard.exceptions import VersionMismatch
from runyard.workspace.db.engine import Database

if TYPE_CHECKING:
    from alembic.config import Config


@dataclass(frozen=True)
class SchemaManager:
    label: str  # "workspace" / "control-plane", for messages
    head: str
    known: tuple[str, ...]
    migrations_dir: Path
    version_table: str
    pg_lock_id: int
    metadata: Callable[[], MetaData]
    #: Rows every database has from the start, written in the same transaction as a fresh schema (so a
    #: process that sees the schema stamped also sees them) and after every upgrade.
    seed_rows: Callable[[Session], None]

    def current_revision(self, conn: Connection) -> str | None:
        try:
            with conn.begin_nested() if conn.in_transaction() else contextlib.nullcontext():
                row = conn.execute(text(f"SELECT version_num FROM {self.version_table}")).first()
        except DBAPIError:
            return None
        return row[0] if row else None

    def ensure(self, db: Database) -> None:
        with db.read_engine.connect() as conn:
            rev = self.current_revision(conn)
            conn.rollback()
        if rev == self.head:
            return
        if rev is not None and rev not in self.known:
            raise VersionMismatch(
                f"The {self.label} database is at schema revision {rev!r}, newer than this Runyard knows.",
                hint=f"Upgrade runyard (pip install -U runyard) to use this {self.label}.",
            )
        with self.lock(db):
            self.upgrade(db)
            self.seed(db)

    def seed(self, db: Database) -> None:
        with db.session(write=True) as session:
            self.seed_rows(session)

    def upgrade(self, db: Database) -> None:
        with db.write_engine.connect() as conn:
            rev = self.current_revision(conn)
            conn.rollback()
            if rev == self.head:  # another process won the race
                return
            own = {t.name for t in self.metadata().sorted_tables} | {self.version_table}
            empty = rev is None and not (set(inspect(conn).get_table_names()) & own)
            conn.rollback()
            if empty:
                self._create_fresh(conn)
                return
        from alembic import command

        cfg = self.alembic_config()
        with db.write_engine.connect() as conn:
            raw = conn.connection.dbapi_connection if db.is_sqlite else None
            if raw is not None:  # before any BEGIN: SQLite ignores this pragma inside a transaction
                # a batch migration rebuilds a table (copy, DROP, rename); with foreign keys on, the DROP
                # would first delete the table's rows and cascade into every child table
                raw.execute("PRAGMA foreign_keys=OFF")
            try:
                cfg.attributes["connection"] = conn
                command.upgrade(cfg, "head")
                conn.commit()
            finally:
                if raw is not None:
                    conn.rollback()
                    raw.execute("PRAGMA foreign_keys=ON")  # pooled connections keep their pragmas

    def alembic_config(self) -> Config:
        from alembic.config import Config

        cfg = Config()
        cfg.set_main_option("script_location", str(self.migrations_dir))
        return cfg

    def _create_fresh(self, conn: Connection) -> None:
        with conn.begin():
            self.metadata().create_all(conn)
            with Session(bind=conn, join_transaction_mode="create_savepoint") as session:
                self.seed_rows(session)
                session.flush()
            conn.execute(text(f"CREATE TABLE {self.version_table} (version_num VARCHAR(32) NOT NULL PRIMARY KEY)"))
            conn.execute(text(f"INSERT INTO {self.version_table} (version_num) VALUES (:v)"), {"v": self.head})

    @contextlib.contextmanager
    def lock(self, db: Database) -> Iterator[None]:
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
                conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": self.pg_lock_id})
                conn.commit()
                try:
                    yield
                finally:
                    conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": self.pg_lock_id})
                    conn.commit()
        else:
            yield
