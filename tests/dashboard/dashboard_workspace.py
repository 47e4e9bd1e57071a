"""The filled workspaces the dashboard tests share, and how to make one current (used by conftest.py)."""

from __future__ import annotations

import secrets
import socket
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from dashboard_pipelines import fragile, weather

PG_ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


@dataclass(frozen=True)
class Filled:
    """A workspace after three real runs: ``weather`` twice (the second partly cached) and ``fragile``."""

    kind: str
    home: Path
    url: str
    first: uuid.UUID  # weather(scale=1.0), tagged "nightly"
    second: uuid.UUID  # weather(scale=2.0): load_table cached, featurize re-ran with a cache-miss explanation
    failed: uuid.UUID  # fragile(): explode failed, after_explode skipped


def reset_runyard_state() -> None:
    from runyard.client import connection
    from runyard.settings import get_settings
    from runyard.stack import resolve
    from runyard.workspace.db import engine

    get_settings.cache_clear()
    connection.reset()
    engine.reset_databases()
    resolve.clear_cache()


def _fill(kind: str, home: Path, url: str) -> Filled:
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("RUNYARD_HOME", str(home))
        mp.setenv("RUNYARD_DATABASE_URL", url)
        reset_runyard_state()
        first = weather.with_options(tags=["nightly"])(scale=1.0)
        second = weather(scale=2.0)
        failed = fragile()
        assert (first.status, second.status, failed.status) == ("completed", "completed", "failed")
    reset_runyard_state()
    return Filled(kind, home, url, first.id, second.id, failed.id)


def filled_workspace(kind: str, cache: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> Filled:
    if kind not in cache:
        home = tmp_path_factory.mktemp(f"dashboard-{kind}")
        if kind == "sqlite":
            url = f"sqlite:///{home / 'workspace.db'}"
        else:
            import sqlalchemy

            name = f"runyard_dash_{secrets.token_hex(4)}"
            admin = sqlalchemy.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
            try:
                with admin.connect() as conn:
                    conn.exec_driver_sql(f"CREATE DATABASE {name}")
            except Exception as exc:  # pragma: no cover - the machine promises PostgreSQL
                pytest.fail(f"PostgreSQL at 127.0.0.1:5432 is not reachable ({exc}); see shared/TESTING.md.")
            finally:
                admin.dispose()
            url = PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name
        cache[kind] = _fill(kind, home, url)
    return cache[kind]  # type: ignore[no-any-return]


def use_workspace(ws: Filled, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RUNYARD_HOME", str(ws.home))
    monkeypatch.setenv("RUNYARD_DATABASE_URL", ws.url)
    reset_runyard_state()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass(frozen=True)
class Served:
    url: str
    ws: Filled
