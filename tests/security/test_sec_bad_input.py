"""Hostile input: forged tokens, SQL and path characters in names, privilege escalation attempts.

Each refusal must be a 401/403/404/422 with the usual small error body (no stack trace, no SQL, no other
tenant's data, never the token itself), and refusals of authenticated callers leave an audit entry.
"""

from __future__ import annotations

import time
import uuid

import jwt
import pytest
from cp_world import World, bearer
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select

from runyard.control_plane.api.app import create_control_plane_app
from runyard.control_plane.db.models import AuditEventRow, GrantRow, RoleRow


def _audit(world: World, **where: str) -> list[AuditEventRow]:
    with world.cp.db.session(write=False) as s:
        query = select(AuditEventRow)
        for key, value in where.items():
            query = query.where(getattr(AuditEventRow, key) == value)
        return list(s.scalars(query))


def _clean(response_text: str, *secrets: str) -> None:
    lowered = response_text.lower()
    for marker in ("traceback", "select ", "sqlalchemy", "insert into", *(s.lower() for s in secrets)):
        assert marker not in lowered, marker


@pytest.fixture
def cp_client(world: World) -> TestClient:
    return TestClient(create_control_plane_app(control_plane=world.cp), raise_server_exceptions=False)


def _cp_token(world: World, who: str) -> str:
    return world.cp.login_token(user_id=world.users[who].id, audience=None)[0]


# --- forged tokens ---------------------------------------------------------------------------------
def test_forged_tokens_are_refused_without_saying_more(world: World, ws_client: TestClient) -> None:
    good = world.token("developer")
    claims = jwt.decode(good, options={"verify_signature": False})
    kid = jwt.get_unverified_header(good)["kid"]
    now = int(time.time())
    with world.cp.db.session(write=True) as s:
        expired = world.cp.keyring.sign(s, {**claims, "exp": now - 60, "iat": now - 700})
        future = world.cp.keyring.sign(s, {**claims, "nbf": now + 3600})
        no_exp = world.cp.keyring.sign(s, {k: v for k, v in claims.items() if k != "exp"})
        other_issuer = world.cp.keyring.sign(s, {**claims, "iss": "https://evil.example"})
    head, payload, sig = good.split(".")
    cases = {
        "alg none": jwt.encode({**claims, "perms": ["*"]}, None, algorithm="none"),
        "alg none, kid kept": jwt.encode(claims, None, algorithm="none", headers={"kid": kid}),
        "hs256 with the public key": jwt.encode(
            claims, jwt.utils.base64url_decode(world.cp.jwks()["keys"][0]["x"]), algorithm="HS256",
            headers={"kid": kid}),
        "signature of another token": f"{head}.{payload}.{world.token('viewer').split('.')[2]}",
        "truncated signature": f"{head}.{payload}.{sig[:-4]}",
        "expired": expired, "not yet valid": future, "no exp": no_exp, "other issuer": other_issuer,
        "wrong audience": world.token("other_ws", "b"),
        "made-up kid": jwt.encode(claims, "s" * 32, algorithm="HS256", headers={"kid": "k-unknown"}),
        "three dots": "a.b.c", "empty bearer": "",
    }
    for name, token in cases.items():
        response = ws_client.get("/api/v1/runs", headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 401, name
        assert set(response.json()) <= {"error", "message", "hint"}, name
        _clean(response.text, token[:40] if len(token) > 40 else "zzzz-no-token", str(claims["sub"]))
    assert ws_client.get("/api/v1/runs", headers=bearer(good)).status_code == 200


# --- names ---------------------------------------------------------------------------------------------
HOSTILE_NAMES = ["x'; DROP TABLE users;--", "../../etc/passwd", "a/b", "..", "name with space", "UPPER",
                 "%2e%2e", "<script>", "a" * 70, "\u0000nul", "robert'); --"]


@pytest.mark.parametrize("name", HOSTILE_NAMES)
def test_hostile_names_are_refused_at_the_door(world: World, cp_client: TestClient, name: str) -> None:
    h = bearer(_cp_token(world, "admin"))
    for path, body in [
        ("/api/v1/orgs/acme/workspaces", {"name": name, "url": "http://127.0.0.1:9"}),
        ("/api/v1/orgs/acme/teams", {"name": name}),
        ("/api/v1/orgs/acme/service-accounts", {"name": name}),
        ("/api/v1/orgs/acme/roles", {"name": name, "permissions": ["runs:read"]}),
    ] + ([("/api/v1/orgs/acme/users", {"email": f"{name}@x.test"})] if name not in ("UPPER", "a" * 70) else []):
        response = cp_client.post(path, json=body, headers=h)
        assert response.status_code == 422, (path, name, response.status_code)
        _clean(response.text)
    with world.cp.db.session(write=False) as s:
        assert s.scalar(select(RoleRow).where(RoleRow.name == name)) is None


def test_hostile_path_segments_find_nothing(world: World, cp_client: TestClient, ws_client: TestClient) -> None:
    h = bearer(_cp_token(world, "admin"))
    for org in ("acme'--", "..%2F..%2Facme", "acme%00", "ACME"):
        response = cp_client.get(f"/api/v1/orgs/{org}/users", headers=h)
        assert response.status_code == 404, org
        _clean(response.text)
    dev = bearer(world.token("developer"))
    for name in ("x' OR '1'='1", "..%2F..%2Fsecret", "%00"):
        response = ws_client.get(f"/api/v1/pipelines/{name}", headers=dev)
        assert response.status_code in (404, 422), name
        _clean(response.text)


def test_a_custom_role_with_unknown_permissions_is_refused(world: World, cp_client: TestClient) -> None:
    h = bearer(_cp_token(world, "admin"))
    for perms in (["runs:read; DROP"], ["runs:fly"], ["nukes:read"], ["*:*"], []):
        assert cp_client.post("/api/v1/orgs/acme/roles", json={"name": "odd", "permissions": perms},
                              headers=h).status_code == 422, perms


# --- escalation ------------------------------------------------------------------------------------------
def test_a_developer_cannot_make_themselves_admin(world: World, cp_client: TestClient) -> None:
    h = bearer(_cp_token(world, "developer"))
    for body in ({"role": "admin", "subject_type": "user", "subject": "developer@acme.test"},
                 {"role": "admin", "subject_type": "user", "subject": "developer@acme.test", "scope_type": "workspace",
                  "scope": "ws-a"},
                 {"role": "stack_admin", "subject_type": "user", "subject": "viewer@acme.test",
                  "scope_type": "workspace", "scope": "ws-a"}):
        response = cp_client.post("/api/v1/orgs/acme/grants", json=body, headers=h)
        assert response.status_code == 403, body
    response = cp_client.post("/api/v1/orgs/acme/roles", json={"name": "sneaky", "permissions": ["*"]}, headers=h)
    assert response.status_code == 403
    with world.cp.db.session(write=False) as s:
        admin = s.scalar(select(RoleRow).where(RoleRow.name == "admin"))
        assert admin is not None
        holders = list(s.scalars(select(GrantRow.subject_id).where(GrantRow.role_id == admin.id)))
    assert holders == [world.users["admin"].id]
    refused = _audit(world, action="auth.forbidden", actor_name="developer@acme.test")
    assert len(refused) == 4 and all(e.org_id == world.org.id for e in refused)
    assert "grants" in (refused[0].target or "")


def test_an_admin_may_grant_and_the_grant_takes_effect(world: World, cp_client: TestClient) -> None:
    h = bearer(_cp_token(world, "admin"))
    body = {"role": "developer", "subject_type": "user", "subject": "viewer@acme.test", "scope_type": "workspace",
            "scope": "ws-a"}
    assert cp_client.post("/api/v1/orgs/acme/grants", json=body, headers=h).status_code == 201
    claims = world.cp.verifier(world.ws_a.audience).verify(world.token("viewer"))
    assert "runs:create" in claims["perms"]
    assert _audit(world, action="grant.create", actor_name="admin@acme.test")


def test_a_viewer_cannot_trigger_or_delete_a_run(world: World, ws_client: TestClient,
                                                 protected_app: FastAPI) -> None:
    viewer = bearer(world.token("viewer"))
    response = ws_client.post("/api/v1/runs", json={"snapshot_id": str(uuid.uuid4())}, headers=viewer)
    assert response.status_code == 403 and response.json()["error"] == "permission_denied"
    assert ws_client.delete(f"/api/v1/runs/{uuid.uuid4()}", headers=viewer).status_code == 403
    protected_app.state.authenticator.audit.flush()
    refused = _audit(world, action="auth.forbidden", actor_name="viewer@acme.test")
    assert {e.details["permission"] for e in refused} == {"runs:create", "runs:delete"}
    assert all(e.ip and e.user_agent and e.workspace == world.ws_a.audience for e in refused)


def test_an_api_key_of_another_org_finds_nothing(world: World, cp_client: TestClient) -> None:
    h = bearer(_cp_token(world, "admin"))
    assert cp_client.post("/api/v1/orgs", json={"name": "other"}, headers=h).status_code == 403  # not superuser
    assert cp_client.get("/api/v1/orgs/acme/audit", headers=bearer(world.api_key)).status_code == 403
    assert cp_client.get("/api/v1/orgs/nope/audit", headers=bearer(world.api_key)).status_code == 404
