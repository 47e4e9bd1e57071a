"""The dashboard in all-in-one mode: signed-in browsers use a cookie session; cookies never authorize a
write (CSRF), signing out ends it, and pages carry the security headers."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

PASSWORD = "a dashboard passphrase"


@pytest.fixture
def all_in_one(runyard_home: Path, monkeypatch: pytest.MonkeyPatch) -> TestClient:
    from runyard.settings import get_settings
    from runyard.workspace.app import create_app

    monkeypatch.setenv("RUNYARD_AUTH", "all_in_one")
    get_settings.cache_clear()
    app = create_app(f"sqlite:///{runyard_home / 'ws.db'}")
    app.state.control_plane.bootstrap_admin(email="admin@example.com", password=PASSWORD)
    return TestClient(app, raise_server_exceptions=False)


def test_cookie_session_reads_but_never_writes(all_in_one: TestClient) -> None:
    client = all_in_one
    assert client.get("/runs").status_code == 401
    assert client.get("/.well-known/runyard").json()["control_plane_url"] == "http://testserver"
    client.get("/login")
    csrf = client.cookies.get("ry_cp_csrf")
    signed_in = client.post("/login", data={"email": "admin@example.com", "password": PASSWORD, "csrf": csrf,
                                            "next": "/runs"}, follow_redirects=False)
    assert signed_in.status_code == 303 and signed_in.headers["location"] == "/runs"
    page = client.get("/runs")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
    assert page.headers["x-content-type-options"] == "nosniff"
    assert client.get("/api/v1/runs").status_code == 200  # same-origin reads
    write = client.post("/api/v1/pipelines", json={"name": "via-cookie"})
    assert write.status_code == 401  # a cookie alone never authorizes a write: no CSRF possible
    assert client.post("/logout", data={"csrf": csrf}).status_code == 200
    client.cookies.set("ry_cp_session", signed_in.cookies.get("ry_cp_session") or "")  # replay the old cookie
    assert client.get("/runs").status_code == 401
