"""The dashboard's Settings pages in all-in-one mode, server-side: who sees which buttons, CSRF on every
form, the server refusing what the page hides, a new key shown once, the audit log and its export."""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message=".*httpx2")
    from fastapi.testclient import TestClient

from runyard.control_plane.actor import SYSTEM
from runyard.control_plane.core import ControlPlane
from runyard.control_plane.db.models import AuditEventRow
from runyard.control_plane.services import orgs, roles, users

ADMIN, VIEWER = "admin@example.com", "viewer@example.com"
PASSWORD = "a settings passphrase"


@pytest.fixture
def app_cp(runyard_home: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[TestClient, ControlPlane]]:
    """An all-in-one app: an admin, and a viewer granted ``viewer`` on the whole organization."""
    from runyard.control_plane.db.engine import reset_control_plane_databases
    from runyard.settings import get_settings
    from runyard.workspace.app import create_app

    monkeypatch.setenv("RUNYARD_AUTH", "all_in_one")
    monkeypatch.setenv("RUNYARD_PASSWORD_HASH_MEMORY_KIB", "8192")
    monkeypatch.setenv("RUNYARD_PASSWORD_HASH_TIME_COST", "1")
    get_settings.cache_clear()
    app = create_app(f"sqlite:///{runyard_home / 'ws.db'}")
    cp: ControlPlane = app.state.control_plane
    cp.bootstrap_admin(email=ADMIN, password=PASSWORD)
    with cp.db.session(write=True) as s:
        org = orgs.get_org(s, name="default")
        viewer = users.create_user(s, email=VIEWER, password=PASSWORD, actor=SYSTEM, org_id=org.id)
        orgs.add_member(s, org_id=org.id, user_id=viewer.id, actor=SYSTEM)
        roles.create_grant(s, org_id=org.id, role=roles.get_role(s, org_id=org.id, name="viewer"),
                           subject_type="user", subject_id=viewer.id, scope_type="org", scope_id=org.id,
                           actor=SYSTEM, actor_permissions=frozenset({"*"}))
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client, cp
    reset_control_plane_databases()


def sign_in(client: TestClient, email: str) -> None:
    client.get("/login")
    answer = client.post("/login", data={"email": email, "password": PASSWORD, "csrf": client.cookies.get("ry_cp_csrf"),
                                         "next": "/settings"}, follow_redirects=False)
    assert answer.status_code == 303, answer.text


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf" value="([0-9a-f]{64})"', html)
    assert found, "no CSRF token in the page"
    return found.group(1)


def test_signed_out_browsers_are_sent_to_sign_in(app_cp: tuple[TestClient, ControlPlane]) -> None:
    client, _ = app_cp
    answer = client.get("/settings/default/teams", follow_redirects=False)
    assert answer.status_code == 303 and answer.headers["location"] == "/login?next=%2Fsettings%2Fdefault%2Fteams"
    assert client.post("/settings/default/teams", data={"name": "x", "csrf": "y"}).status_code == 401


def test_admin_creates_a_team_with_csrf_and_sees_it(app_cp: tuple[TestClient, ControlPlane]) -> None:
    client, cp = app_cp
    sign_in(client, ADMIN)
    home = client.get("/settings", follow_redirects=False)
    assert home.status_code == 303 and home.headers["location"] == "/settings/default/members"
    page = client.get("/settings/default/teams")
    assert page.status_code == 200 and 'id="create-team"' in page.text
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
    assert page.headers["cache-control"] == "no-store" and page.headers["x-frame-options"] == "DENY"
    token = csrf_of(page.text)

    assert client.post("/settings/default/teams", data={"name": "no-token"}).status_code == 403
    forged = client.post("/settings/default/teams", data={"name": "forged", "csrf": "0" * 64})
    assert forged.status_code == 403
    cross = client.post("/settings/default/teams", data={"name": "cross", "csrf": token},
                        headers={"Origin": "https://evil.example"})
    assert cross.status_code == 403
    created = client.post("/settings/default/teams", data={"name": "data-science", "csrf": token},
                          follow_redirects=False)
    assert created.status_code == 303 and created.headers["location"] == "/settings/default/teams?done=team-created"
    listed = client.get(created.headers["location"])
    assert 'id="team-data-science"' in listed.text and "Team created." in listed.text
    assert "forged" not in listed.text and "cross" not in listed.text
    with cp.db.session(write=False) as s:
        assert [t.name for t in orgs.list_teams(s, org_id=orgs.get_org(s, name="default").id)] == ["data-science"]
        refused = s.scalars(select(AuditEventRow).where(AuditEventRow.outcome == "denied")).all()
        assert {e.details.get("permission") for e in refused} >= {"csrf"}

    joined = client.post("/settings/default/teams/data-science/members", data={"email": VIEWER, "csrf": token},
                         follow_redirects=True)
    assert joined.status_code == 200 and VIEWER in joined.text
    duplicate = client.post("/settings/default/teams", data={"name": "data-science", "csrf": token})
    assert duplicate.status_code == 409 and "exists" in duplicate.text
    invalid = client.post("/settings/default/teams", data={"name": "Not A Slug", "csrf": token})
    assert invalid.status_code == 400 and 'role="alert"' in invalid.text


def test_a_token_from_another_session_is_refused(app_cp: tuple[TestClient, ControlPlane]) -> None:
    client, _ = app_cp
    sign_in(client, ADMIN)
    first = csrf_of(client.get("/settings/default/teams").text)
    client.cookies.clear()
    sign_in(client, ADMIN)
    assert client.post("/settings/default/teams", data={"name": "stale", "csrf": first}).status_code == 403


def test_viewer_sees_no_create_buttons_and_the_server_refuses(app_cp: tuple[TestClient, ControlPlane]) -> None:
    client, cp = app_cp
    sign_in(client, VIEWER)
    page = client.get("/settings/default/teams")
    assert page.status_code == 200
    assert 'id="create-team"' not in page.text and "Delete team" not in page.text
    members = client.get("/settings/default/members")
    assert 'id="add-member"' not in members.text and ">Disable<" not in members.text
    nav = re.findall(r'href="/settings/default/([a-z-]+)"', page.text)
    assert set(nav) == {"members", "teams", "projects"}  # the viewer role reads the directory only
    assert client.get("/settings/default/audit").status_code == 403
    assert client.get("/settings", follow_redirects=False).headers["location"] == "/settings/default/members"
    assert client.get("/settings/default/roles").status_code == 403
    token = csrf_of(page.text)
    refused = client.post("/settings/default/teams", data={"name": "sneaky", "csrf": token})
    assert refused.status_code == 403 and "teams:create" in refused.text
    with cp.db.session(write=False) as s:
        assert orgs.list_teams(s, org_id=orgs.get_org(s, name="default").id) == []
        denied = s.scalars(select(AuditEventRow).where(AuditEventRow.outcome == "denied",
                                                       AuditEventRow.actor_name == VIEWER)).all()
        assert any(e.details.get("permission") == "teams:create" for e in denied)


def test_keys_roles_grants_projects_audit(app_cp: tuple[TestClient, ControlPlane]) -> None:
    client, _ = app_cp
    sign_in(client, ADMIN)
    token = csrf_of(client.get("/settings/default/service-accounts").text)
    post = lambda path, **data: client.post(path, data={**data, "csrf": token})  # noqa: E731
    assert post("/settings/default/service-accounts", name="ci", description="GitHub").status_code == 200
    created = post("/settings/default/service-accounts/ci/keys", name="deploy", expires_in_days="30")
    assert created.status_code == 201 and created.headers["cache-control"] == "no-store"
    secret = re.search(r'id="new-key-value">(ry_[^<]+)<', created.text)
    assert secret
    again = client.get("/settings/default/service-accounts")
    assert secret.group(1) not in again.text and "deploy" in again.text  # shown once, listed by prefix after
    key_id = re.search(r"/settings/default/keys/([0-9a-f-]{36})/revoke", again.text)
    assert key_id
    rotated = post(f"/settings/default/keys/{key_id.group(1)}/rotate")
    assert rotated.status_code == 201 and secret.group(1) not in rotated.text and 'id="new-key-value"' in rotated.text

    assert post("/settings/default/roles", name="auditor", permissions="audit:read runs:read").status_code == 200
    roles_page = client.get("/settings/default/roles")
    assert 'data-role="auditor"' in roles_page.text
    granted = post("/settings/default/grants", role="auditor", subject_type="service_account", subject="ci",
                   scope_type="org", scope="")
    assert granted.status_code == 200 and "Role granted." in granted.text
    assert post("/settings/default/roles/auditor/delete").status_code == 409  # still granted
    assert post("/settings/default/projects", workspace="default", name="churn").status_code == 200
    assert "churn" in client.get("/settings/default/projects").text
    assert post("/settings/default/projects/default/churn/delete").status_code == 200
    assert post("/settings/default/service-accounts/ci/delete").status_code == 200

    audit = client.get("/settings/default/audit?action=team&outcome=success")
    assert audit.status_code == 200 and "export?since" not in audit.text
    full = client.get("/settings/default/audit")
    for action in ("service_account.create", "api_key.create", "role.create", "grant.create", "project.delete"):
        assert action in full.text, action
    exported = client.get("/settings/default/audit/export?format=csv")
    assert exported.status_code == 200 and exported.text.startswith("time,action,outcome")
    assert secret.group(1) not in exported.text


def test_sign_out_ends_the_session(app_cp: tuple[TestClient, ControlPlane]) -> None:
    client, _ = app_cp
    sign_in(client, ADMIN)
    token = csrf_of(client.get("/settings/default/members").text)
    out = client.post("/settings/sign-out", data={"csrf": token}, follow_redirects=False)
    assert out.status_code == 303
    assert client.get("/settings/default/members", follow_redirects=False).status_code == 303


def test_without_a_control_plane_settings_explain_how(runyard_home: Path) -> None:
    from runyard.workspace.app import create_app

    with TestClient(create_app(f"sqlite:///{runyard_home / 'ws.db'}"), raise_server_exceptions=False) as client:
        page = client.get("/settings")
    assert page.status_code == 400 and "runyard up --admin-email" in page.text


def test_a_control_plane_served_alone_serves_settings_too(runyard_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Split mode: the Settings pages live on the control plane; the workspace's /settings points there."""
    from runyard.control_plane.api.app import create_control_plane_app
    from runyard.control_plane.db.engine import reset_control_plane_databases
    from runyard.settings import get_settings
    from runyard.workspace.app import create_app

    monkeypatch.setenv("RUNYARD_PASSWORD_HASH_MEMORY_KIB", "8192")
    monkeypatch.setenv("RUNYARD_PASSWORD_HASH_TIME_COST", "1")
    get_settings.cache_clear()
    cp = ControlPlane(f"sqlite:///{runyard_home / 'cp.db'}")
    cp.bootstrap_admin(email=ADMIN, password=PASSWORD)
    try:
        with TestClient(create_control_plane_app(control_plane=cp), raise_server_exceptions=False) as client:
            sign_in(client, ADMIN)
            page = client.get("/settings/default/teams")
            assert page.status_code == 200 and 'id="create-team"' in page.text
            assert 'href="/runs"' not in page.text  # no workspace pages on a control plane
            assert client.get("/static/settings.css").status_code == 200
            created = client.post("/settings/default/teams", data={"name": "platform", "csrf": csrf_of(page.text)})
            assert created.status_code == 200 and 'id="team-platform"' in created.text
    finally:
        reset_control_plane_databases()

    monkeypatch.setenv("RUNYARD_AUTH", "control_plane")
    monkeypatch.setenv("RUNYARD_CONTROL_PLANE_URL", "https://cp.example.com")
    monkeypatch.setenv("RUNYARD_WORKSPACE_AUDIENCE", "runyard:default:lab")
    get_settings.cache_clear()
    with TestClient(create_app(f"sqlite:///{runyard_home / 'ws.db'}"), raise_server_exceptions=False) as workspace:
        moved = workspace.get("/settings", follow_redirects=False)
    assert moved.status_code == 303 and moved.headers["location"] == "https://cp.example.com/settings"


def test_a_member_without_any_administration_is_told_so(app_cp: tuple[TestClient, ControlPlane]) -> None:
    client, cp = app_cp
    with cp.db.session(write=True) as s:
        org = orgs.get_org(s, name="default")
        nobody = users.create_user(s, email="nobody@example.com", password=PASSWORD, actor=SYSTEM, org_id=org.id)
        orgs.add_member(s, org_id=org.id, user_id=nobody.id, actor=SYSTEM)
    sign_in(client, "nobody@example.com")
    page = client.get("/settings")
    assert page.status_code == 403 and "include no part of its settings" in page.text
    assert client.get("/settings/default/members").status_code == 403
