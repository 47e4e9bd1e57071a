"""Shared fixtures: every test gets its own RUNYARD_HOME; workspace tests run on SQLite, PostgreSQL and MariaDB."""

from __future__ import annotations

import os
import secrets
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

MARIADB_ADMIN_URL = os.environ.get("RUNYARD_TEST_MARIADB_URL", "mysql+pymysql://root@127.0.0.1:3306/mysql")
PG_ADMIN_URL = os.environ.get("RUNYARD_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")


def _reset_runyard_state() -> None:
    from runyard.client import connection
    from runyard.settings import get_settings
    from runyard.stack import resolve
    from runyard.workspace.db import engine

    get_settings.cache_clear()
    connection.reset()
    engine.reset_databases()
    resolve.clear_cache()


@pytest.fixture(autouse=True)
def runyard_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """An isolated embedded workspace per test (never the user's ~/.runyard)."""
    home = tmp_path / "runyard-home"
    monkeypatch.setenv("RUNYARD_HOME", str(home))
    for var in ("RUNYARD_URL", "RUNYARD_API_KEY", "RUNYARD_DATABASE_URL"):
        monkeypatch.delenv(var, raising=False)
    # in-process by default: a resident service per test home would pile up processes and database
    # connections; tests that want the default user path take the `local_service` fixture.
    # RUNYARD_TEST_LOCAL_SERVICE=1 runs every test through a short-lived service instead.
    if os.environ.get("RUNYARD_TEST_LOCAL_SERVICE") == "1":
        runtime = Path("/tmp") / f"ryt-{os.getpid()}"
        runtime.mkdir(mode=0o700, exist_ok=True)
        monkeypatch.setenv("XDG_RUNTIME_DIR", str(runtime))
        monkeypatch.setenv("RUNYARD_LOCAL_SERVICE", "1")
        monkeypatch.setenv("RUNYARD_LOCAL_SERVICE_IDLE_S", "1")
    else:
        monkeypatch.setenv("RUNYARD_LOCAL_SERVICE", "0")
    _reset_runyard_state()
    yield home
    _reset_runyard_state()


@pytest.fixture
def local_service(monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The embedded workspace through the local service (as users run it), with its own short runtime
    folder; every service started under it is stopped at the end. Yields that runtime folder."""
    import shutil
    import signal
    import tempfile

    runtime = Path(tempfile.mkdtemp(prefix="ry", dir="/tmp"))  # Unix socket paths must stay short
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(runtime))
    monkeypatch.setenv("RUNYARD_LOCAL_SERVICE", "1")
    monkeypatch.setenv("RUNYARD_LOCAL_SERVICE_IDLE_S", "30")
    _reset_runyard_state()
    yield runtime / "runyard"
    _reset_runyard_state()
    for pid_file in (runtime / "runyard").glob("*.pid"):
        try:
            os.kill(int(pid_file.read_text()), signal.SIGTERM)
        except (OSError, ValueError):
            pass
    shutil.rmtree(runtime, ignore_errors=True)


def _fresh_database(admin_url: str, what: str, create: str, drop: str) -> Iterator[str]:
    """A new database (``CREATE DATABASE <create>``) for this test session, dropped at the end."""
    sqlalchemy = pytest.importorskip("sqlalchemy")
    name = f"runyard_test_{secrets.token_hex(4)}"
    admin = sqlalchemy.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.exec_driver_sql(create.format(name=name))
    except Exception as exc:  # pragma: no cover - the machine promises it; say so loudly
        pytest.fail(f"{what} is not reachable ({exc}); start it (see shared/TESTING.md).")
    yield admin_url.rsplit("/", 1)[0] + "/" + name
    from runyard.workspace.db import engine

    engine.reset_databases()
    with admin.connect() as conn:
        conn.exec_driver_sql(drop.format(name=name))
    admin.dispose()


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A fresh PostgreSQL database for this test session, dropped at the end."""
    yield from _fresh_database(PG_ADMIN_URL, "PostgreSQL at 127.0.0.1:5432", "CREATE DATABASE {name}",
                               "DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture(scope="session")
def mariadb_url() -> Iterator[str]:
    """A fresh MariaDB database for this test session, dropped at the end."""
    yield from _fresh_database(MARIADB_ADMIN_URL, "MariaDB at 127.0.0.1:3306",
                               "CREATE DATABASE {name} CHARACTER SET utf8mb4", "DROP DATABASE IF EXISTS {name}")


#: RUNYARD_TEST_MARIADB=0 leaves MariaDB out (it is on every development and CI machine, so it is in by default)
DATABASES = ["sqlite", "postgresql"] + ([] if os.environ.get("RUNYARD_TEST_MARIADB") == "0" else ["mariadb"])


@pytest.fixture(params=DATABASES)
def database_url(request: pytest.FixtureRequest, runyard_home: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """The workspace database URL, once each for SQLite, PostgreSQL and MariaDB; sets RUNYARD_DATABASE_URL."""
    if request.param == "sqlite":
        url = f"sqlite:///{runyard_home / 'workspace.db'}"
    elif request.param == "mariadb":
        url = request.getfixturevalue("mariadb_url")
        _truncate_all(url)
    else:
        url = request.getfixturevalue("postgres_url")
        _truncate_all(url)
    monkeypatch.setenv("RUNYARD_DATABASE_URL", url)
    _reset_runyard_state()
    return url


def _truncate_all(url: str) -> None:
    from sqlalchemy import text

    from runyard.workspace.db.engine import get_database
    from runyard.workspace.db.models import Base

    db = get_database(url)
    with db.session(write=True) as session:
        if db.url.startswith("mysql"):
            session.execute(text("SET FOREIGN_KEY_CHECKS=0"))
            for table in Base.metadata.sorted_tables:
                session.execute(text(f"TRUNCATE {table.name}"))
            session.execute(text("SET FOREIGN_KEY_CHECKS=1"))
        else:
            names = ", ".join(t.name for t in Base.metadata.sorted_tables)
            session.execute(text(f"TRUNCATE {names} CASCADE"))
    from runyard.workspace.db.migrate import seed

    seed(db)  # a fresh workspace has the default stack


@pytest.fixture
def api(database_url: str):  # type: ignore[no-untyped-def]
    """The typed workspace API over the in-process transport, on the parametrized database."""
    from runyard.client.connection import workspace_api

    return workspace_api()


def new_id() -> uuid.UUID:
    return uuid.uuid4()


def _database_schema(url: str) -> dict[str, object]:
    """Tables with their columns (name, base type, nullable), indexes and unique constraints."""
    from sqlalchemy import create_engine, inspect

    engine = create_engine(url)
    insp = inspect(engine)
    out: dict[str, object] = {}
    for table in sorted(insp.get_table_names()):
        cols = sorted((c["name"], str(c["type"]).split("(")[0], c["nullable"]) for c in insp.get_columns(table))
        idx = sorted((i["name"], tuple(i["column_names"]), bool(i["unique"])) for i in insp.get_indexes(table))
        uniq = sorted(tuple(u["column_names"]) for u in insp.get_unique_constraints(table))
        out[table] = (cols, idx, uniq)
    engine.dispose()
    return out


@pytest.fixture
def schema_of():  # type: ignore[no-untyped-def]
    """Reads a database's schema, to compare a freshly created one with a migrated one."""
    return _database_schema
