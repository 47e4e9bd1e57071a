"""The control plane over HTTP: token grants, device flow states, keys, personal tokens, audit, isolation."""

from __future__ import annotations

import csv
import io
import json
import stat
from datetime import timedelta
from pathlib import Path

import jwt
from cp_world import World, bearer
from fastapi.testclient import TestClient
from sqlalchemy import update

from runyard.control_plane.actor import SYSTEM
from runyard.control_plane.api.app import create_control_plane_app
from runyard.control_plane.db.models import DeviceCodeRow
from runyard.control_plane.services import orgs, users
from runyard.workspace.db.types import utcnow

PASSWORD = "an honest passphrase"


def _client(world: World) -> TestClient:
    return TestClient(create_control_plane_app(control_plane=world.cp), raise_server_exceptions=False)


def _admin(world: World) -> dict[str, str]:
    return bearer(world.cp.login_token(user_id=world.users["admin"].id, audience=None)[0])


def test_password_and_refresh_grants(world: World) -> None:
    client = _client(world)
    with world.cp.db.session(write=True) as s:
        users.set_password(s, user=s.merge(world.users["developer"]), password=PASSWORD, actor=SYSTEM)
    form = {"grant_type": "password", "username": "developer@acme.test", "password": PASSWORD,
            "audience": world.ws_a.audience}
    response = client.post("/api/v1/auth/token", data=form)
    assert response.status_code == 200 and response.headers["cache-control"] == "no-store"
    body = response.json()
    assert body["token_type"] == "Bearer" and 0 < body["expires_in"] <= 900
    assert world.cp.verifier(world.ws_a.audience).verify(body["access_token"])["roles"] == ["developer"]
    refreshed = client.post("/api/v1/auth/token", data={"grant_type": "refresh_token",
                                                         "refresh_token": body["refresh_token"]})
    assert refreshed.status_code == 200 and "refresh_token" not in refreshed.json()
    me = client.get("/api/v1/me", headers=bearer(refreshed.json()["access_token"])).json()
    assert me["user"]["email"] == "developer@acme.test" and me["organizations"] == ["acme"]
    bad = client.post("/api/v1/auth/token", data={**form, "password": "wrong password!"})
    assert bad.status_code == 401 and PASSWORD not in bad.text
    assert client.post("/api/v1/auth/token", data={"grant_type": "client_credentials"}).status_code == 400


def test_device_flow_states(world: World) -> None:
    client = _client(world)
    start = client.post("/api/v1/auth/device/code", data={"audience": world.ws_a.audience}).json()
    assert start["verification_uri"].endswith("/device") and start["interval"] >= 5
    poll = {"grant_type": "urn:ietf:params:oauth:grant-type:device_code", "device_code": start["device_code"]}
    assert client.post("/api/v1/auth/token", data=poll).json()["error"] == "authorization_pending"
    assert client.post("/api/v1/auth/token", data=poll).json()["error"] == "slow_down"  # polled at once again
    # the browser: not signed in -> sent to the sign-in page, keeping where it was going
    page = client.get(f"/device?user_code={start['user_code']}", follow_redirects=False)
    assert page.status_code == 303 and page.headers["location"].startswith("/login?next=%2Fdevice")
    with world.cp.db.session(write=True) as s:
        users.set_password(s, user=s.merge(world.users["viewer"]), password=PASSWORD, actor=SYSTEM)
    login_page = client.get("/login?next=/device")
    assert "frame-ancestors 'none'" in login_page.headers["content-security-policy"]
    csrf = client.cookies.get("ry_cp_csrf")
    forged = client.post("/login", data={"email": "viewer@acme.test", "password": PASSWORD, "csrf": "nope"})
    assert forged.status_code == 403
    signed_in = client.post("/login", data={"email": "viewer@acme.test", "password": PASSWORD, "csrf": csrf,
                                            "next": "https://evil.example/"}, follow_redirects=False)
    assert signed_in.status_code == 303 and signed_in.headers["location"] == "/device"  # no open redirect
    cookie = signed_in.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie.replace("Lax", "lax")
    denied = client.post("/device", data={"user_code": start["user_code"].lower().replace("-", ""),
                                          "decision": "deny", "csrf": csrf})
    assert denied.status_code == 200
    assert client.post("/api/v1/auth/token", data=poll).json()["error"] == "access_denied"
    expired = client.post("/api/v1/auth/device/code", data={}).json()
    with world.cp.db.session(write=True) as s:
        s.execute(update(DeviceCodeRow).values(expires=utcnow() - timedelta(seconds=1)))
    assert client.post("/api/v1/auth/token", data={**poll, "device_code": expired["device_code"]}).json()[
        "error"] == "expired_token"


def test_service_account_keys_over_http(world: World) -> None:
    client, admin = _client(world), _admin(world)
    created = client.post("/api/v1/orgs/acme/service-accounts/ci/api-keys", json={"name": "deploy"}, headers=admin)
    assert created.status_code == 201 and created.headers["cache-control"] == "no-store"
    key = created.json()
    assert key["key"].startswith(f"ry_{key['prefix']}_")
    listed = client.get("/api/v1/orgs/acme/service-accounts/ci/api-keys", headers=admin).json()
    assert key["key"] not in json.dumps(listed) and {k["prefix"] for k in listed} >= {key["prefix"]}
    exchanged = client.post("/api/v1/auth/token", data={"grant_type": "api_key", "api_key": key["key"],
                                                         "audience": world.ws_a.audience})
    assert exchanged.status_code == 200
    rotated = client.post(f"/api/v1/orgs/acme/api-keys/{key['id']}/rotate", json={"grace_s": 0}, headers=admin).json()
    assert rotated["key"] != key["key"]
    assert client.post("/api/v1/auth/token", data={"grant_type": "api_key", "api_key": key["key"]}).status_code == 401
    assert client.delete(f"/api/v1/orgs/acme/api-keys/{rotated['id']}", headers=admin).status_code == 204
    assert client.post("/api/v1/auth/token", data={"grant_type": "api_key", "api_key": rotated["key"]}).status_code \
        == 401
    assert rotated["id"] in client.get("/api/v1/revocations").json()["api_keys"]
    developer = bearer(world.cp.login_token(user_id=world.users["developer"].id, audience=None)[0])
    assert client.post("/api/v1/orgs/acme/service-accounts/ci/api-keys", json={"name": "mine"},
                       headers=developer).status_code == 403


def test_personal_access_tokens(world: World) -> None:
    client = _client(world)
    developer = bearer(world.cp.login_token(user_id=world.users["developer"].id, audience=None)[0])
    created = client.post("/api/v1/orgs/acme/personal-tokens", json={"name": "laptop", "expires_in_days": 7},
                          headers=developer).json()
    assert created["key"].startswith("ryp_") and created["kind"] == "pat"
    as_pat = client.get("/api/v1/me", headers=bearer(created["key"])).json()
    assert as_pat["user"]["email"] == "developer@acme.test"
    token = client.post("/api/v1/auth/token", data={"grant_type": "api_key", "api_key": created["key"],
                                                     "audience": world.ws_a.audience}).json()["access_token"]
    assert world.cp.verifier(world.ws_a.audience).verify(token)["roles"] == ["developer"]
    assert client.delete(f"/api/v1/orgs/acme/api-keys/{created['id']}", headers=developer).status_code == 204


def test_audit_is_scoped_to_the_org_paginated_and_exported(world: World) -> None:
    client, admin = _client(world), _admin(world)
    with world.cp.db.session(write=True) as s:
        other = orgs.create_org(s, name="globex", actor=SYSTEM)
        orgs.create_team(s, org_id=other.id, name="secret-team", actor=SYSTEM)
    first = client.get("/api/v1/orgs/acme/audit", params={"limit": 5}, headers=admin).json()
    assert len(first["items"]) == 5 and first["next_cursor"]
    second = client.get("/api/v1/orgs/acme/audit", params={"limit": 5, "cursor": first["next_cursor"]},
                        headers=admin).json()
    assert not {e["id"] for e in first["items"]} & {e["id"] for e in second["items"]}
    exported = client.get("/api/v1/orgs/acme/audit/export", params={"format": "csv"}, headers=admin)
    rows = list(csv.DictReader(io.StringIO(exported.text)))
    assert rows and "secret-team" not in exported.text and world.api_key not in exported.text
    assert {r["action"] for r in rows} >= {"user.create", "grant.create", "api_key.create"}
    # an admin of acme sees nothing of globex, not even that it exists
    assert client.get("/api/v1/orgs/globex/audit", headers=admin).status_code == 404
    assert client.get("/api/v1/orgs/acme/audit", headers=bearer(world.cp.login_token(
        user_id=world.users["viewer"].id, audience=None)[0])).status_code == 403
    assert client.get("/api/v1/orgs/acme/audit/export", headers=admin).headers["content-type"].startswith(
        "application/x-ndjson")


def test_credentials_file_is_private(runyard_home: Path) -> None:
    from runyard.client import credentials

    credentials.save("http://127.0.0.1:1", credentials.Login(control_plane_url="http://127.0.0.1:2", audience="a",
                                                              refresh_token="ryr_x", access_token="t"))
    assert stat.S_IMODE(credentials.path().stat().st_mode) == 0o600
    assert "ryr_x" not in repr(credentials.load("http://127.0.0.1:1"))


def test_an_org_admin_cannot_lock_someone_out_of_another_org(world: World) -> None:
    client, admin = _client(world), _admin(world)
    from runyard.control_plane.db.models import UserRow
    from runyard.control_plane.services import roles

    with world.cp.db.session(write=True) as s:
        other = orgs.create_org(s, name="globex", actor=SYSTEM)
        orgs.add_member(s, org_id=other.id, user_id=world.users["viewer"].id, actor=SYSTEM)
        roles.create_grant(s, org_id=other.id, role=roles.get_role(s, org_id=other.id, name="viewer"),
                           subject_type="user", subject_id=world.users["viewer"].id, scope_type="org",
                           scope_id=other.id, actor=SYSTEM, actor_permissions=frozenset({"*"}))
    token, refresh = world.session_token("developer")
    assert client.delete("/api/v1/orgs/acme/users/viewer@acme.test", headers=admin).status_code == 204
    assert client.delete("/api/v1/orgs/acme/users/developer@acme.test", headers=admin).status_code == 204
    with world.cp.db.session(write=False) as s:
        viewer = s.get(UserRow, world.users["viewer"].id)
        developer = s.get(UserRow, world.users["developer"].id)
        assert viewer is not None and viewer.is_active  # still a member of globex
        assert not orgs.is_member(s, org_id=world.org.id, user_id=viewer.id)
        assert developer is not None and not developer.is_active
    assert client.post("/api/v1/auth/token", data={"grant_type": "refresh_token", "refresh_token": refresh}
                       ).status_code == 401
    sid = jwt.decode(token, options={"verify_signature": False})["sid"]
    assert sid in client.get("/api/v1/revocations").json()["sessions"]
