"""Runners' status reports (``PATCH /steps/{id}`` with a status only) are answered past FastAPI's handler
(``workspace/api/status_reports.py``): the same callers must be refused, with the same answers and audit."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from cp_world import World, bearer
from fastapi.testclient import TestClient
from http_runs import ok, running_run
from sqlalchemy import func, select

from runyard.control_plane.api.app import create_control_plane_app
from runyard.control_plane.db.models import AuditEventRow
from runyard.workspace.api import status_reports


def _pending_step(client: TestClient, headers: dict[str, str]) -> tuple[str, str]:
    """A running run of a new pipeline with one pending step: (run id, step id)."""
    run = running_run(client, headers, f"p-{uuid.uuid4().hex[:6]}")["run"]
    step = ok(client.post("/api/v1/steps", headers=headers, json={
        "id": str(uuid.uuid4()), "run_id": run["id"], "invocation_id": "s", "step_name": "s", "status": "pending"}),
        201)
    return run["id"], step["id"]


def _denied(world: World) -> int:
    with world.cp.db.session(write=False) as s:
        return s.scalar(select(func.count()).select_from(AuditEventRow).where(AuditEventRow.outcome == "denied")) or 0


def test_status_reports_refuse_whom_the_route_refuses(
    world: World, ws_client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    answered: list[Any] = []
    real = status_reports._Coalescer.report

    async def spy(self: Any, *args: Any) -> bytes:
        answered.append(args)
        return await real(self, *args)

    monkeypatch.setattr(status_reports._Coalescer, "report", spy)
    dev = bearer(world.token("developer"))
    run_id, step_id = _pending_step(ws_client, dev)
    other_run, _ = _pending_step(ws_client, dev)
    cp = TestClient(create_control_plane_app(control_plane=world.cp), raise_server_exceptions=False)
    dev_cp = bearer(world.cp.login_token(user_id=world.users["developer"].id, audience=None)[0])
    foreign = ok(cp.post("/api/v1/auth/workload-token", json={"audience": world.ws_a.audience, "run_id": other_run},
                          headers=dev_cp))
    refused = {
        "anonymous": ({}, 401),
        "garbage": (bearer("not-a-token"), 401),
        "other workspace": (bearer(world.token("other_ws", "b")), 401),
        "viewer": (bearer(world.token("viewer")), 403),
        "project grant elsewhere": (bearer(world.token("other_project")), 403),
        "project grant, other project": ({**bearer(world.token("project")), "X-Runyard-Project": "p2"}, 403),
        "another run's workload token": (bearer(foreign["access_token"]), 403),
    }
    denied_before = _denied(world)
    for who, (headers, status) in refused.items():
        response = ws_client.patch(f"/api/v1/steps/{step_id}", json={"status": "running"}, headers=headers)
        assert response.status_code == status, (who, response.status_code, response.text)
        assert response.json()["error"] == ("unauthenticated" if status == 401 else "permission_denied"), who
    assert answered == []  # refused before any statement ran
    ws_client.app.state.authenticator.audit.flush()  # type: ignore[attr-defined]
    assert _denied(world) - denied_before == len(refused)  # each refusal audited once, as on every route
    assert ok(ws_client.get(f"/api/v1/steps/{step_id}", headers=dev))["status"] == "pending"

    mine = ok(cp.post("/api/v1/auth/workload-token", json={"audience": world.ws_a.audience, "run_id": run_id},
                       headers=dev_cp))
    assert ok(ws_client.patch(f"/api/v1/steps/{step_id}", json={"status": "running"},
                               headers=bearer(mine["access_token"])))["status"] == "running"
    assert ok(ws_client.patch(f"/api/v1/steps/{step_id}", json={"status": "completed"}, headers=dev))["status"] == \
        "completed"
    assert len(answered) == 2
