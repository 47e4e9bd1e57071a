"""Fixtures of the security tests: a protected Workspace Server (for ``ws-a``) beside an in-process control
plane holding the test world (see ``tests/control_plane/cp_world.py``)."""

from __future__ import annotations

import sys
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message=".*httpx2")
    from fastapi.testclient import TestClient

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "control_plane"))

from cp_world import World, build_world

from runyard.control_plane.audit_sink import LocalAuditSink
from runyard.control_plane.core import ControlPlane
from runyard.control_plane.db.engine import reset_control_plane_databases
from runyard.control_plane.guard import Authenticator, install_auth


@pytest.fixture(autouse=True)
def fast_password_hashing(monkeypatch: pytest.MonkeyPatch, runyard_home: Path) -> Iterator[None]:
    from runyard.settings import get_settings

    monkeypatch.setenv("RUNYARD_PASSWORD_HASH_MEMORY_KIB", "8192")
    monkeypatch.setenv("RUNYARD_PASSWORD_HASH_TIME_COST", "1")
    get_settings.cache_clear()
    yield
    reset_control_plane_databases()


@pytest.fixture
def world(runyard_home: Path) -> World:
    return build_world(ControlPlane(f"sqlite:///{runyard_home / 'control-plane.db'}"))


@pytest.fixture
def protected_app(world: World, runyard_home: Path) -> FastAPI:
    """Workspace ``ws-a``'s server with auth on, verifying tokens in-process, auditing into the control plane."""
    from runyard.workspace.app import create_app

    app = create_app(f"sqlite:///{runyard_home / 'ws-a.db'}")
    install_auth(app, Authenticator(world.cp.verifier(world.ws_a.audience), audit=LocalAuditSink(world.cp),
                                    org_id=str(world.org.id)))
    return app


@pytest.fixture
def ws_client(protected_app: FastAPI) -> Iterator[TestClient]:
    with TestClient(protected_app, raise_server_exceptions=False) as client:
        yield client
