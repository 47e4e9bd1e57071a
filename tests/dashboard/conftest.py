"""Fixtures of the dashboard tests: workspaces filled by real pipeline runs, the app, a live server.

Running the pipelines is the slow part, so each database (SQLite and PostgreSQL) is filled once per
session, in its own RUNYARD_HOME (artifacts and logs live there) and, on PostgreSQL, its own database.
Each test then points RUNYARD_HOME at that workspace and builds a fresh app over it. Tests that write
(a run left "running") use the per-test ``database_url`` workspace instead, so they cannot disturb
the shared one.
"""

from __future__ import annotations

import threading
import time
import warnings
from collections.abc import Iterator
from typing import Any

import pytest

with warnings.catch_warnings():  # starlette asks for httpx2 instead of httpx; both work
    warnings.filterwarnings("ignore", message=".*httpx2")
    from fastapi.testclient import TestClient

from dashboard_workspace import (
    PG_ADMIN_URL,
    Filled,
    Served,
    filled_workspace,
    free_port,
    reset_runyard_state,
    use_workspace,
)


@pytest.fixture(scope="session")
def _workspaces(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """Filled workspaces by kind, built on first use; the PostgreSQL database is dropped at the end."""
    cache: dict[str, Any] = {}
    yield cache
    if "postgresql" in cache:
        import sqlalchemy

        reset_runyard_state()
        admin = sqlalchemy.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {cache['postgresql'].url.rsplit('/', 1)[1]} WITH (FORCE)")
        admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def filled(request: pytest.FixtureRequest, _workspaces: dict[str, Any], tmp_path_factory: pytest.TempPathFactory,
           monkeypatch: pytest.MonkeyPatch) -> Filled:
    """The filled workspace of this parametrization, made the current one (RUNYARD_HOME, database URL)."""
    ws = filled_workspace(request.param, _workspaces, tmp_path_factory)
    use_workspace(ws, monkeypatch)
    return ws


@pytest.fixture
def client(filled: Filled) -> Iterator[TestClient]:
    from runyard.workspace.app import create_app

    with TestClient(create_app(filled.url), raise_server_exceptions=False) as test_client:
        yield test_client


# --- a real server for the browser ----------------------------------------------------------------
@pytest.fixture(scope="module")
def _server(_workspaces: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """uvicorn serving ``create_app`` over the SQLite workspace on a free loopback port, in a thread."""
    import uvicorn

    from runyard.workspace.app import create_app

    ws = filled_workspace("sqlite", _workspaces, tmp_path_factory)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("RUNYARD_HOME", str(ws.home))
        reset_runyard_state()
        app = create_app(ws.url)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=free_port(), log_level="warning"))
    thread = threading.Thread(target=server.run, name="dashboard-test-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            pytest.fail("The dashboard test server did not start.")
        time.sleep(0.02)
    yield Served(f"http://127.0.0.1:{server.config.port}", ws)
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture
def served(_server: Served, monkeypatch: pytest.MonkeyPatch) -> Served:
    """The live server, with this test's environment pointing at its workspace (the server reads
    RUNYARD_HOME per request to find artifacts and logs)."""
    use_workspace(_server.ws, monkeypatch)
    return _server
