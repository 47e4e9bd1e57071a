"""Secrets behind the control-plane guard: metadata for readers, values for `read_secret_values` only, and
every value read (and every refusal) in the audit log, without the value."""

from __future__ import annotations

from cp_world import World, bearer
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select

from runyard.control_plane.db.models import AuditEventRow

VALUE = "s3cr3t-warehouse-password"


def _audit(world: World, action: str) -> list[AuditEventRow]:
    with world.cp.db.session(write=False) as s:
        return list(s.scalars(select(AuditEventRow).where(AuditEventRow.action == action)
                              .order_by(AuditEventRow.time)))


def test_who_may_see_what_and_the_audit_trail(world: World, ws_client: TestClient, protected_app: FastAPI) -> None:
    h = {who: bearer(world.token(who)) for who in ("admin", "developer", "viewer", "stack_admin")}
    body = {"name": "warehouse", "values": {"user": "etl", "password": VALUE}}
    assert ws_client.post("/api/v1/secrets", json=body, headers=h["developer"]).status_code == 403
    created = ws_client.post("/api/v1/secrets", json=body, headers=h["stack_admin"])
    assert created.status_code == 201 and created.json()["created_by"] == "stack_admin@acme.test"

    for who in ("developer", "viewer"):  # metadata yes, values no
        listed = ws_client.get("/api/v1/secrets", headers=h[who])
        assert listed.status_code == 200 and listed.json()[0]["keys"] == ["password", "user"]
        assert ws_client.get("/api/v1/secrets/warehouse", headers=h[who]).status_code == 200
        refused = ws_client.get("/api/v1/secrets/warehouse/values", headers=h[who])
        assert refused.status_code == 403 and VALUE not in refused.text
        assert "read_secret_values" in refused.json()["hint"]
    for who in ("stack_admin", "admin"):
        values = ws_client.get("/api/v1/secrets/warehouse/values", headers=h[who])
        assert values.status_code == 200 and values.json()["values"]["password"] == VALUE
    assert ws_client.get("/api/v1/secrets/warehouse/values").status_code == 401  # no token at all
    assert ws_client.get("/api/v1/secrets/missing/values", headers=h["admin"]).status_code == 404
    assert ws_client.patch("/api/v1/secrets/warehouse", json={"values": {"port": "1"}},
                           headers=h["stack_admin"]).status_code == 200
    assert ws_client.delete("/api/v1/secrets/warehouse", headers=h["viewer"]).status_code == 403

    protected_app.state.authenticator.audit.flush()
    reads = _audit(world, "secret.read_values")
    assert [(e.actor_name, e.outcome, e.target) for e in reads] == [
        ("stack_admin@acme.test", "success", "/secrets/warehouse/values"),
        ("admin@acme.test", "success", "/secrets/warehouse/values"),
    ]  # the 404 read is not a read of a value
    assert all(e.ip and e.workspace == world.ws_a.audience for e in reads)
    refusals = [e for e in _audit(world, "auth.forbidden")
                if e.details.get("permission") == "secrets:read_secret_values"]
    assert sorted(str(e.actor_name) for e in refusals) == ["developer@acme.test", "viewer@acme.test"]
    changes = [(e.action, e.actor_name) for e in _audit(world, "secret.create") + _audit(world, "secret.update")]
    assert changes == [("secret.create", "stack_admin@acme.test"), ("secret.update", "stack_admin@acme.test")]
    with world.cp.db.session(write=False) as s:
        trail = " ".join(str((e.details, e.target)) for e in s.scalars(select(AuditEventRow)))
    assert VALUE not in trail
