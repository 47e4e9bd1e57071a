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


def test_a_page_write_needs_the_csrf_header_that_repeats_the_cookie(all_in_one: TestClient) -> None:
    """The run page's Cancel button: a cookie-signed-in browser may write only with ``X-CSRF-Token`` equal
    to the ``SameSite=Strict`` CSRF cookie, from this origin. A cross-site form can do neither."""
    import re

    from runyard.schemas import PipelineCreate, RunCreate, RunStatus, SnapshotCreate
    from runyard.workspace.services import pipelines, runs, stacks

    client = all_in_one
    client.get("/login")
    csrf = client.cookies.get("ry_cp_csrf") or ""
    client.post("/login", data={"email": "admin@example.com", "password": PASSWORD, "csrf": csrf, "next": "/runs"},
                follow_redirects=False)
    with client.app.state.database.get().session(write=True) as session:  # type: ignore[attr-defined]
        stack = stacks.ensure_default_stack(session)
        pipe = pipelines.get_or_create_pipeline(session, pipeline=PipelineCreate(name="p"))
        snap = pipelines.create_snapshot(session, snapshot=SnapshotCreate(pipeline_id=pipe.id, stack_id=stack.id,
                                                                          spec={"steps": []}, spec_hash="h"))
        run = runs.create_run(session, run=RunCreate(snapshot_id=snap.id, status=RunStatus.RUNNING))
    page = client.get(f"/runs/{run.id}")
    assert page.status_code == 200 and 'id="cancel-run"' in page.text
    token = re.search(r'<meta name="csrf-token" content="([^"]+)">', page.text)
    assert token is not None and token.group(1) == csrf  # the page hands its scripts the cookie's value

    path = f"/api/v1/runs/{run.id}/cancel"
    assert client.post(path).status_code == 401  # the cookie alone
    assert client.post(path, headers={"X-CSRF-Token": "a guess"}).status_code == 401
    cross_site = client.post(path, headers={"X-CSRF-Token": csrf, "Origin": "https://evil.example"})
    assert cross_site.status_code in (401, 403)
    assert client.get(f"/api/v1/runs/{run.id}").json()["status"] == "running"
    done = client.post(path, headers={"X-CSRF-Token": csrf, "Origin": "http://testserver"})
    assert done.status_code == 200 and done.json()["status"] == "cancelling"


def test_a_browser_without_the_csrf_cookie_gets_one_with_the_page(all_in_one: TestClient) -> None:
    client = all_in_one
    client.get("/login")
    csrf = client.cookies.get("ry_cp_csrf") or ""
    client.post("/login", data={"email": "admin@example.com", "password": PASSWORD, "csrf": csrf, "next": "/runs"},
                follow_redirects=False)
    client.cookies.delete("ry_cp_csrf")  # a session cookie outlives the browser's CSRF cookie
    page = client.get("/runs")
    fresh = page.cookies.get("ry_cp_csrf")
    assert fresh and fresh in page.text
    cookie_header = page.headers["set-cookie"].lower()
    assert "samesite=strict" in cookie_header and "httponly" in cookie_header
