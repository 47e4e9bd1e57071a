"""Fixtures of the control-plane tests: a control plane on SQLite and on PostgreSQL, its app and client."""

from __future__ import annotations

import os
import secrets
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message=".*httpx2")
    from fastapi.testclient import TestClient

from cp_world import World, build_world

from runyard.control_plane.core import ControlPlane
from runyard.control_plane.db.engine import reset_control_plane_databases


@pytest.fixture(autouse=True)
def fast_password_hashing(monkeypatch: pytest.MonkeyPatch, runyard_home: Path) -> Iterator[None]:
    """argon2id at its production cost takes ~0.3 s per hash; tests use the cheapest allowed profile."""
    from runyard.settings import get_settings

    monkeypatch.setenv("RUNYARD_PASSWORD_HASH_MEMORY_KIB", "8192")
    monkeypatch.setenv("RUNYARD_PASSWORD_HASH_TIME_COST", "1")
    get_settings.cache_clear()
    yield
    reset_control_plane_databases()


@pytest.fixture(scope="session")
def cp_pg_session_url() -> Iterator[str]:
    """A fresh PostgreSQL database for the control plane during this test session, dropped at the end."""
    import sqlalchemy

    from runyard.control_plane.db.engine import reset_control_plane_databases as reset

    admin_url = os.environ.get("RUNYARD_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
    name = f"runyard_cp_test_{secrets.token_hex(4)}"
    admin = sqlalchemy.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f"CREATE DATABASE {name}")
    yield admin_url.rsplit("/", 1)[0] + "/" + name
    reset()
    with admin.connect() as conn:
        conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    admin.dispose()


@pytest.fixture
def cp_pg_database(cp_pg_session_url: str) -> str:
    """The session's control-plane database, emptied (and its built-in roles re-seeded) for this test."""
    from sqlalchemy import text

    from runyard.control_plane.db.engine import get_control_plane_database
    from runyard.control_plane.db.migrate import seed
    from runyard.control_plane.db.models import Base

    db = get_control_plane_database(cp_pg_session_url)
    with db.session(write=True) as session:
        session.execute(text(f"TRUNCATE {', '.join(t.name for t in Base.metadata.sorted_tables)} CASCADE"))
    seed(db)
    return cp_pg_session_url


@pytest.fixture(params=["sqlite", "postgresql"])
def cp_url(request: pytest.FixtureRequest, runyard_home: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{runyard_home / 'control-plane.db'}"
    url: str = request.getfixturevalue("cp_pg_database")
    return url


@pytest.fixture
def cp(cp_url: str) -> ControlPlane:
    return ControlPlane(cp_url)


@pytest.fixture
def sqlite_cp(runyard_home: Path) -> ControlPlane:
    return ControlPlane(f"sqlite:///{runyard_home / 'control-plane.db'}")


@pytest.fixture
def world(sqlite_cp: ControlPlane) -> World:
    return build_world(sqlite_cp)


@pytest.fixture
def cp_client(sqlite_cp: ControlPlane) -> Iterator[TestClient]:
    from runyard.control_plane.api.app import create_control_plane_app

    with TestClient(create_control_plane_app(control_plane=sqlite_cp), raise_server_exceptions=False) as client:
        yield client
