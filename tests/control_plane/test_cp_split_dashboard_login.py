"""Split mode: a workspace dashboard signs browsers in through the control plane (code flow with state and
PKCE), with a control plane and a Workspace Server as separate uvicorn processes. The "browser" is an
httpx client with one cookie jar, following each hop by hand so every hop is asserted."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from html import unescape
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlparse

import httpx
import pytest
from cp_world import PASSWORD, World, build_world
from sqlalchemy import update
from test_cp_split_mode import SECRET, Server, _start

from runyard.control_plane.actor import SYSTEM
from runyard.control_plane.core import ControlPlane
from runyard.control_plane.db.models import WorkspaceRow
from runyard.control_plane.services import users

pytestmark = pytest.mark.slow
HTML = {"Accept": "text/html,application/xhtml+xml"}


@dataclass
class Split:
    world: World
    cp: Server
    ws: Server


@pytest.fixture
def split(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Split]:
    from runyard.settings import get_settings

    monkeypatch.setenv("RUNYARD_CONTROL_PLANE_SECRET_KEY", SECRET)
    get_settings.cache_clear()
    cp_url = f"sqlite:///{tmp_path / 'cp.db'}"
    world = build_world(ControlPlane(cp_url))
    with world.cp.db.session(write=True) as s:
        for who in ("developer", "other_ws"):
            users.set_password(s, user=s.merge(world.users[who]), password=PASSWORD, actor=SYSTEM)
    common = {"RUNYARD_CONTROL_PLANE_SECRET_KEY": SECRET, "RUNYARD_PASSWORD_HASH_MEMORY_KIB": "8192",
              "RUNYARD_PASSWORD_HASH_TIME_COST": "1"}
    servers: list[Server] = []
    try:
        cp = _start("runyard.control_plane.deploy:create_control_plane_server",
                    {**common, "RUNYARD_HOME": str(tmp_path / "cp-home"),
                     "RUNYARD_CONTROL_PLANE_DATABASE_URL": cp_url}, tmp_path / "cp.log")
        servers.append(cp)
        ws = _start("runyard.control_plane.deploy:create_protected_workspace", {
            "RUNYARD_HOME": str(tmp_path / "ws-a"), "RUNYARD_AUTH": "control_plane",
            "RUNYARD_DATABASE_URL": f"sqlite:///{tmp_path / 'ws-a.db'}", "RUNYARD_CONTROL_PLANE_URL": cp.url,
            "RUNYARD_WORKSPACE_AUDIENCE": world.ws_a.audience, "RUNYARD_REVOCATION_POLL_S": "1"},
            tmp_path / "ws-a.log")
        servers.append(ws)
        with world.cp.db.session(write=True) as s:  # registered at the URL browsers use
            s.execute(update(WorkspaceRow).where(WorkspaceRow.id == world.ws_a.id).values(url=ws.url))
        yield Split(world, cp, ws)
    finally:
        for server in servers:
            server.stop()


def _meta_refresh(html: str) -> str:
    found = re.search(r"http-equiv=refresh content='0;url=([^']+)'", html)
    assert found, html
    return unescape(found.group(1))


def _sign_in(browser: httpx.Client, split: Split, email: str) -> str:
    """From a dashboard page to the control plane's form and back; returns the callback URL with the code."""
    page = browser.get(split.ws.url + "/runs", headers=HTML)
    assert page.status_code == 303 and page.headers["location"] == "/auth/login?next=%2Fruns"
    start = browser.get(split.ws.url + page.headers["location"])
    assert start.status_code == 303 and start.headers["location"].startswith(split.cp.url + "/workspace-login?")
    assert "ry_ws_login" in start.headers["set-cookie"] and "HttpOnly" in start.headers["set-cookie"]
    authorize = start.headers["location"]
    assert browser.get(authorize).headers["location"].startswith("/login?next=%2Fworkspace-login")
    browser.get(split.cp.url + "/login")
    signed_in = browser.post(split.cp.url + "/login", data={
        "email": email, "password": PASSWORD, "csrf": browser.cookies.get("ry_cp_csrf"),
        "next": authorize.removeprefix(split.cp.url)})
    assert signed_in.status_code == 303
    handoff = browser.get(split.cp.url + signed_in.headers["location"])
    assert handoff.status_code == 200 and handoff.headers["cache-control"] == "no-store"
    callback = _meta_refresh(handoff.text)
    assert callback.startswith(split.ws.url + "/auth/callback?code=")
    return callback


def test_browser_signs_in_reads_with_the_cookie_and_is_signed_out_by_the_control_plane(split: Split) -> None:
    with httpx.Client(timeout=10) as browser:
        callback = _sign_in(browser, split, "developer@acme.test")
        landed = browser.get(callback)
        assert landed.status_code == 303 and landed.headers["location"] == "/runs"
        cookie = landed.headers["set-cookie"]
        assert "ry_ws_token=" in cookie and "HttpOnly" in cookie and "samesite=lax" in cookie.lower()
        assert browser.get(split.ws.url + "/runs", headers=HTML).status_code == 200
        assert browser.get(split.ws.url + "/api/v1/runs").status_code == 200
        write = browser.post(split.ws.url + "/api/v1/pipelines", json={"name": "via-cookie"})
        assert write.status_code == 401  # a cookie never authorizes a write: no cross-site request can act

        replay = browser.get(callback)  # the same code twice: refused
        assert replay.status_code == 401 and "ry_ws_token" not in replay.headers.get("set-cookie", "")

        csrf = browser.cookies.get("ry_cp_csrf")
        assert browser.post(split.cp.url + "/logout", data={"csrf": csrf}).status_code == 200
        deadline = time.monotonic() + 10
        while browser.get(split.ws.url + "/api/v1/runs").status_code == 200:  # within a revocation poll
            assert time.monotonic() < deadline, "the signed-out session still reads the workspace"
            time.sleep(0.3)


def test_state_and_verifier_and_callback_are_checked(split: Split) -> None:
    with httpx.Client(timeout=10) as browser:
        callback = _sign_in(browser, split, "developer@acme.test")
        query = parse_qs(urlparse(callback).query)
        forged_state = browser.get(split.ws.url + "/auth/callback?" + urlencode({"code": query["code"][0],
                                                                                 "state": "x" * 32}))
        assert forged_state.status_code == 401 and "did not start here" in forged_state.text
        stolen = httpx.post(split.cp.url + "/api/v1/auth/token", data={
            "grant_type": "authorization_code", "code": query["code"][0], "code_verifier": "y" * 64,
            "redirect_uri": split.ws.url + "/auth/callback"})
        assert stolen.status_code == 401  # without the verifier, a code is worthless
        assert browser.get(callback).status_code == 303  # and still good for the browser that started it

    evil = httpx.get(split.cp.url + "/workspace-login?" + urlencode({
        "audience": split.world.ws_a.audience, "redirect_uri": "https://evil.example/auth/callback",
        "state": "s" * 20, "code_challenge": "c" * 43}))
    assert evil.status_code == 400 and "not the one registered" in evil.text


def test_a_person_without_access_to_this_workspace_is_told_so(split: Split) -> None:
    with httpx.Client(timeout=10) as browser:
        callback = _sign_in(browser, split, "other_ws@acme.test")  # developer on ws-b only
        refused = browser.get(callback)
        assert refused.status_code == 403 and "ry_ws_token" not in refused.headers.get("set-cookie", "")
        assert "You have no access to this workspace." in refused.text
