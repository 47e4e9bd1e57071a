"""The administration routes added for the CLI and the Settings pages: show and delete, each with its
permission check (refusals audited), and the rule table every control-plane route must appear in."""

from __future__ import annotations

from typing import Any

import pytest
from cp_world import World, bearer, build_world
from fastapi.testclient import TestClient
from sqlalchemy import select

from runyard.control_plane.api.app import create_control_plane_app
from runyard.control_plane.api.deps import Require
from runyard.control_plane.core import ControlPlane
from runyard.control_plane.db.models import ApiKeyRow, AuditEventRow, GrantRow, ProjectRow, ServiceAccountRow

#: operationId -> what the route demands: a permission (``Require``), ``member`` (any member; finer checks in
#: the service layer), ``caller`` (any authenticated caller) or ``public``. Hand-written: a new route without
#: a rule fails :func:`test_every_control_plane_route_has_a_rule`.
RULES: dict[str, str] = {
    "auth-token": "public", "auth-device_code": "public", "auth-jwks": "public", "auth-revocations": "public",
    "auth-logout": "caller", "auth-workload_token": "caller", "auth-me": "caller", "audit-ingest": "caller",
    "orgs-create": "caller", "orgs-list": "caller", "orgs-get": "member",
    "workspaces-create": "workspaces:create", "workspaces-list": "workspaces:read",
    "projects-create": "projects:create", "projects-list": "projects:read", "projects-delete": "projects:delete",
    "teams-create": "teams:create", "teams-list": "teams:read", "teams-get": "teams:read",
    "teams-delete": "teams:delete", "teams-add_member": "teams:update", "teams-remove_member": "teams:update",
    "users-create": "users:create", "users-list": "users:read", "users-get": "users:read",
    "users-deactivate": "users:delete", "sessions-revoke": "sessions:delete",
    "service_accounts-create": "service_accounts:create", "service_accounts-list": "service_accounts:read",
    "service_accounts-delete": "service_accounts:delete",
    "api_keys-create": "api_keys:create", "api_keys-list": "api_keys:read", "api_keys-rotate": "member",
    "api_keys-revoke": "member", "personal_tokens-create": "member", "personal_tokens-list": "member",
    "roles-list": "roles:read", "roles-create": "roles:create", "roles-delete": "roles:delete",
    "grants-list": "roles:read", "grants-create": "member", "grants-delete": "member",
    "audit-list": "audit:read", "audit-export": "audit:read",
    # shares: `<type>:share` at the resource's project, checked in the service layer
    "shares-create": "member", "shares-list": "member", "shares-delete": "member",
}


@pytest.fixture
def world(cp: ControlPlane) -> World:
    """The test world on SQLite and on PostgreSQL (the conftest's ``world`` is SQLite only)."""
    return build_world(cp)


def _declared(dependant: Any) -> list[str]:
    found = [dependant.call.permission] if isinstance(dependant.call, Require) else []
    names = {getattr(dependant.call, "__name__", "")}
    if "org_access" in names:
        found.append("member")
    if "current_actor" in names:
        found.append("caller")
    for sub in dependant.dependencies:
        found.extend(_declared(sub))
    return found


def test_every_control_plane_route_has_a_rule(world: World) -> None:
    app = create_control_plane_app(control_plane=world.cp)
    seen = {}
    in_schema = {item["operationId"] for methods in app.openapi()["paths"].values() for item in methods.values()}
    for route in app.routes:
        for ctx in getattr(route, "effective_route_contexts", lambda: [])():
            if ctx.operation_id not in in_schema:
                continue
            declared = _declared(ctx.dependant)
            permission = next((d for d in declared if ":" in d), None)
            seen[ctx.operation_id] = permission or ("member" if "member" in declared else
                                                    "caller" if "caller" in declared else "public")
    assert set(seen) - set(RULES) == set(), "new control-plane routes need a rule in RULES"
    assert set(RULES) - set(seen) == set(), "rules for routes that no longer exist"
    assert {op: seen[op] for op in RULES if seen[op] != RULES[op]} == {}


@pytest.fixture
def client(world: World) -> TestClient:
    return TestClient(create_control_plane_app(control_plane=world.cp), raise_server_exceptions=False)


def _as(world: World, who: str) -> dict[str, str]:
    return bearer(world.cp.login_token(user_id=world.users[who].id, audience=None)[0])


def test_org_show_for_members_only(world: World, client: TestClient) -> None:
    shown = client.get("/api/v1/orgs/acme", headers=_as(world, "admin")).json()
    assert shown["workspaces"] == ["ws-a", "ws-b"] and shown["members"] == 7 and shown["permissions"] == ["*"]
    assert shown["service_accounts"] == 1
    viewer = client.get("/api/v1/orgs/acme", headers=_as(world, "viewer")).json()
    assert viewer["permissions"] == []  # granted on ws-a only: nothing organization-wide
    assert client.get("/api/v1/orgs/globex", headers=_as(world, "admin")).status_code == 404
    assert client.get("/api/v1/orgs/acme").status_code == 401


def test_teams_show_and_delete_take_their_grants(world: World, client: TestClient) -> None:
    admin = _as(world, "admin")
    assert client.post("/api/v1/orgs/acme/teams", json={"name": "ds"}, headers=admin).status_code == 201
    assert client.post("/api/v1/orgs/acme/teams/ds/members", json={"email": "viewer@acme.test"},
                       headers=admin).status_code == 204
    grant = client.post("/api/v1/orgs/acme/grants", headers=admin, json={
        "role": "developer", "subject_type": "team", "subject": "ds", "scope_type": "workspace", "scope": "ws-a"})
    assert grant.status_code == 201 and grant.json()["subject"] == "ds" and grant.json()["scope"] == "ws-a"
    team = client.get("/api/v1/orgs/acme/teams/ds", headers=_as(world, "admin")).json()
    assert team["members"] == ["viewer@acme.test"] and [g["role"] for g in team["grants"]] == ["developer"]
    assert client.delete("/api/v1/orgs/acme/teams/ds", headers=_as(world, "developer")).status_code == 403
    assert client.delete("/api/v1/orgs/acme/teams/ds", headers=admin).status_code == 204
    assert client.get("/api/v1/orgs/acme/teams/ds", headers=admin).status_code == 404
    with world.cp.db.session(write=False) as s:
        assert s.scalars(select(GrantRow).where(GrantRow.subject_type == "team")).all() == []
        actions = set(s.scalars(select(AuditEventRow.action)))
    assert {"team.delete", "auth.forbidden"} <= actions


def test_user_show_lists_teams_and_grants(world: World, client: TestClient) -> None:
    shown = client.get("/api/v1/orgs/acme/users/developer@acme.test", headers=_as(world, "admin")).json()
    assert shown["teams"] == [] and shown["grants"][0]["role"] == "developer"
    assert shown["grants"][0]["scope"] == "ws-a"
    assert client.get("/api/v1/orgs/acme/users/nobody@acme.test", headers=_as(world, "admin")).status_code == 404


def test_projects_delete_with_their_grants(world: World, client: TestClient) -> None:
    admin = _as(world, "admin")
    path = "/api/v1/orgs/acme/workspaces/ws-a/projects/p1"
    with world.cp.db.session(write=False) as s:
        p1 = s.scalars(select(ProjectRow.id).where(ProjectRow.name == "p1")).one()
        others = s.scalars(select(GrantRow.id).where(GrantRow.scope_type == "project", GrantRow.scope_id != p1)).all()
        assert s.scalars(select(GrantRow).where(GrantRow.scope_id == p1)).all() != []
    assert client.delete(path, headers=_as(world, "viewer")).status_code == 403
    assert client.delete(path, headers=admin).status_code == 204
    assert client.delete(path, headers=admin).status_code == 404
    with world.cp.db.session(write=False) as s:
        assert s.scalars(select(GrantRow).where(GrantRow.scope_id == p1)).all() == []
        # another project's grants stay
        assert s.scalars(select(GrantRow.id).where(GrantRow.scope_type == "project")).all() == others


def test_roles_delete_custom_unused_only(world: World, client: TestClient) -> None:
    admin = _as(world, "admin")
    assert client.delete("/api/v1/orgs/acme/roles/viewer", headers=admin).status_code == 409
    client.post("/api/v1/orgs/acme/roles", json={"name": "auditor", "permissions": ["audit:read"]}, headers=admin)
    granted = client.post("/api/v1/orgs/acme/grants", headers=admin, json={
        "role": "auditor", "subject_type": "user", "subject": "viewer@acme.test"}).json()
    in_use = client.delete("/api/v1/orgs/acme/roles/auditor", headers=admin)
    assert in_use.status_code == 409 and "grant revoke" in in_use.json()["hint"]
    assert client.delete(f"/api/v1/orgs/acme/grants/{granted['id']}", headers=admin).status_code == 204
    assert client.delete("/api/v1/orgs/acme/roles/auditor", headers=_as(world, "developer")).status_code == 403
    assert client.delete("/api/v1/orgs/acme/roles/auditor", headers=admin).status_code == 204
    assert "auditor" not in {r["name"] for r in client.get("/api/v1/orgs/acme/roles", headers=admin).json()}


def test_service_account_delete_revokes_its_keys(world: World, client: TestClient) -> None:
    admin = _as(world, "admin")
    assert client.get("/api/v1/me", headers=bearer(world.api_key)).status_code == 200
    assert client.delete("/api/v1/orgs/acme/service-accounts/ci", headers=_as(world, "developer")).status_code == 403
    assert client.delete("/api/v1/orgs/acme/service-accounts/ci", headers=admin).status_code == 204
    assert client.get("/api/v1/me", headers=bearer(world.api_key)).status_code == 401
    assert str(world.api_key_id) in client.get("/api/v1/revocations").json()["api_keys"]
    assert client.get("/api/v1/orgs/acme/service-accounts", headers=admin).json() == []
    assert client.post("/api/v1/orgs/acme/service-accounts", json={"name": "ci"}, headers=admin).status_code == 201
    with world.cp.db.session(write=False) as s:
        key = s.get(ApiKeyRow, world.api_key_id)
        assert key is not None and key.revoked_at is not None
        names = {a.name for a in s.scalars(select(ServiceAccountRow))}
    assert "ci" in names and any(n.startswith("ci~deleted~") for n in names)
