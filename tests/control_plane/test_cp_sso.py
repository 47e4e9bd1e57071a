"""SSO against a real OpenID Connect provider (npm ``oidc-provider``) on loopback, browser-free.

The control plane runs under uvicorn; the test drives the provider's own login and consent forms with
plain form posts, exactly the requests a browser would send, and then approves a ``runyard login``
device code from the signed-in browser session.
"""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from oidc_fixture import CLIENT_SECRET, forms, free_port, oidc_provider, serve_in_thread, sign_in_through_provider
from sqlalchemy import select

from runyard.client.credentials import Login
from runyard.control_plane.actor import SYSTEM
from runyard.control_plane.core import ControlPlane
from runyard.control_plane.db.models import AuditEventRow, TeamMemberRow, UserRow
from runyard.control_plane.services import orgs

pytestmark = [pytest.mark.slow, pytest.mark.skipif(shutil.which("node") is None, reason="needs node and npm")]


@dataclass
class SSO:
    cp: ControlPlane
    url: str
    issuer: str


@pytest.fixture
def sso(runyard_home: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[SSO]:
    from runyard.control_plane.api.app import create_control_plane_app
    from runyard.settings import get_settings

    port = free_port()
    with oidc_provider(f"http://127.0.0.1:{port}/sso/callback") as issuer:
        monkeypatch.setenv("RUNYARD_OIDC_ISSUER", issuer)
        monkeypatch.setenv("RUNYARD_OIDC_CLIENT_ID", "runyard")
        monkeypatch.setenv("RUNYARD_OIDC_CLIENT_SECRET", CLIENT_SECRET)
        get_settings.cache_clear()
        cp = ControlPlane(f"sqlite:///{runyard_home / 'cp.db'}")
        with cp.db.session(write=True) as s:
            org = orgs.create_org(s, name="default", actor=SYSTEM)
            orgs.create_team(s, org_id=org.id, name="ml-team", actor=SYSTEM)
            orgs.create_team(s, org_id=org.id, name="old-team", actor=SYSTEM)
        with serve_in_thread(create_control_plane_app(control_plane=cp), port) as url:
            yield SSO(cp, url, issuer)


def _user(cp: ControlPlane, email: str) -> UserRow | None:
    with cp.db.session(write=False) as s:
        return s.scalar(select(UserRow).where(UserRow.email == email))


def _teams(cp: ControlPlane, user: UserRow) -> set[str]:
    with cp.db.session(write=False) as s:
        return {t.name for t in orgs.list_teams(s, org_id=orgs.get_org(s, name="default").id)
                if s.get(TeamMemberRow, (t.id, user.id)) is not None}


def test_first_sso_login_provisions_the_user_and_maps_teams(sso: SSO) -> None:
    with httpx.Client(base_url=sso.url, timeout=15) as browser:
        page = sign_in_through_provider(browser, "/sso/login?next=/device", "ml-alice")
        assert page.status_code == 200 and page.url.path == "/device", page.text[:500]
        assert "ml-alice@sso.test" in page.text
    user = _user(sso.cp, "ml-alice@sso.test")
    assert user is not None and user.sso_issuer == sso.issuer and user.sso_subject == "ml-alice"
    assert user.password_hash is None
    assert _teams(sso.cp, user) == {"ml-team"}
    with sso.cp.db.session(write=True) as s:  # a team the provider no longer lists is left at next login
        orgs.add_team_member(s, team=orgs.get_team(s, org_id=user_org(s), name="old-team"), user=s.merge(user),
                             actor=SYSTEM)
    with httpx.Client(base_url=sso.url, timeout=15) as browser:
        assert sign_in_through_provider(browser, "/sso/login", "ml-alice").status_code == 200
    assert _teams(sso.cp, user) == {"ml-team"}
    with sso.cp.db.session(write=False) as s:
        actions = [e.action for e in s.scalars(select(AuditEventRow).order_by(AuditEventRow.time))]
        logins = list(s.scalars(select(AuditEventRow).where(AuditEventRow.action == "login")))
    assert actions.count("sso.provision") == 1 and "team.member_remove" in actions
    assert [e.details["method"] for e in logins] == ["sso", "sso"]


def user_org(session):  # type: ignore[no-untyped-def]
    return orgs.get_org(session, name="default").id


def test_a_forged_callback_is_refused(sso: SSO) -> None:
    with httpx.Client(base_url=sso.url, timeout=15) as browser:
        browser.get("/sso/login", follow_redirects=False)  # a flow cookie exists, but not for this state
        response = browser.get("/sso/callback?code=stolen&state=guessed")
        assert response.status_code == 401
        assert "stolen" not in response.text
    assert _user(sso.cp, "ml-alice@sso.test") is None


def test_device_login_approved_from_an_sso_browser_session(sso: SSO) -> None:
    from runyard.client.login import device_login

    with sso.cp.db.session(write=True) as s:
        org = orgs.get_org(s, name="default")
        ws = orgs.create_workspace(s, org=org, name="main", url="http://127.0.0.1:9", audience=None, actor=SYSTEM)
    browser = httpx.Client(base_url=sso.url, timeout=15)
    sign_in_through_provider(browser, "/sso/login", "ml-bob")
    with sso.cp.db.session(write=True) as s:  # ml-team may develop in the workspace
        from runyard.control_plane.services import roles

        team = orgs.get_team(s, org_id=org.id, name="ml-team")
        roles.create_grant(s, org_id=org.id, role=roles.get_role(s, org_id=org.id, name="developer"),
                           subject_type="team", subject_id=team.id, scope_type="workspace", scope_id=ws.id,
                           actor=SYSTEM, actor_permissions=frozenset({"*"}))
    shown: dict[str, str] = {}
    ready = threading.Event()
    result: dict[str, object] = {}

    def show(start: dict[str, str]) -> None:
        shown.update(start)
        ready.set()

    def cli() -> None:  # `runyard login` polling in the background, as it would in a terminal
        try:
            result["login"] = device_login(sso.url, ws.audience, show=show, sleep=lambda _: time.sleep(0.2),
                                           max_wait_s=30)
        except Exception as exc:
            result["error"] = exc

    thread = threading.Thread(target=cli)
    thread.start()
    assert ready.wait(10)
    page = browser.get(shown["verification_uri_complete"])
    action, fields = forms(page.text)[0]
    assert fields["user_code"] == shown["user_code"]
    # a post without the CSRF token is refused
    assert browser.post(action, data={**fields, "csrf": "", "decision": "approve"}).status_code == 403
    assert browser.post(action, data={**fields, "decision": "approve"}).status_code == 200
    thread.join(30)
    browser.close()
    assert "error" not in result, result
    login = result["login"]
    assert isinstance(login, Login)
    assert shown["verification_uri"].endswith("/device") and len(shown["user_code"]) == 9
    claims = sso.cp.verifier(ws.audience).verify(login.access_token or "")
    assert claims["name"] == "ml-bob@sso.test" and "runs:create" in claims["perms"]
    assert login.refresh_token and login.refresh_token.startswith("ryr_")


CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium (apt-get install -y chromium)")
def test_sso_in_headless_chromium(sso: SSO) -> None:
    """The same sign-in, clicked through by a real browser; anything leaving loopback is blocked."""
    from urllib.parse import urlparse

    from playwright.sync_api import sync_playwright

    blocked: list[str] = []

    def only_loopback(route) -> None:  # type: ignore[no-untyped-def]
        if urlparse(route.request.url).hostname in ("127.0.0.1", "localhost"):
            route.continue_()
        else:  # the provider's dev pages load web fonts from outside
            blocked.append(route.request.url)
            route.abort()

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        try:
            context = browser.new_context()
            context.route("**/*", only_loopback)
            page = context.new_page()
            page.set_default_timeout(15_000)
            page.goto(sso.url + "/sso/login?next=/device")
            page.fill("input[name=login]", "ml-carol")
            page.fill("input[name=password]", "whatever")
            page.click("button[type=submit]")
            page.wait_for_url("**/interaction/**")
            page.click("button[type=submit]")  # consent
            page.wait_for_url(sso.url + "/device")
            assert "ml-carol@sso.test" in page.content()
            cookie = next(c for c in context.cookies() if c["name"] == "ry_cp_session")
            assert cookie["httpOnly"] and cookie["sameSite"] == "Lax"
        finally:
            browser.close()
    user = _user(sso.cp, "ml-carol@sso.test")
    assert user is not None and _teams(sso.cp, user) == {"ml-team"}
    assert all(urlparse(u).hostname not in ("127.0.0.1", "localhost") for u in blocked)
