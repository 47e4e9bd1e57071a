"""Workload tokens: one run's writes only, and dead once the run has finished."""

from __future__ import annotations

import uuid
from typing import Any

from cp_world import World, bearer
from fastapi.testclient import TestClient

from runyard.control_plane.api.app import create_control_plane_app


def _ok(response: Any, status: int = 200) -> dict[str, Any]:
    assert response.status_code == status, (response.status_code, response.text)
    return response.json()  # type: ignore[no-any-return]


def _run(client: TestClient, headers: dict[str, str], snapshot_id: str | None = None) -> tuple[str, str]:
    if snapshot_id is None:
        pipe = _ok(client.post("/api/v1/pipelines", json={"name": f"p-{uuid.uuid4().hex[:6]}"}, headers=headers), 201)
        stack = _ok(client.get("/api/v1/stacks/default", headers=headers))
        snapshot_id = _ok(client.post("/api/v1/snapshots", headers=headers, json={
            "id": str(uuid.uuid4()), "pipeline_id": pipe["id"], "stack_id": stack["id"], "spec": {"steps": []},
            "spec_hash": "h" * 16}), 201)["id"]
    run = _ok(client.post("/api/v1/runs", headers=headers, json={
        "id": str(uuid.uuid4()), "snapshot_id": snapshot_id, "status": "running"}), 201)
    return run["id"], snapshot_id


def test_a_workload_token_writes_its_own_run_only_and_dies_with_it(world: World, ws_client: TestClient) -> None:
    dev = bearer(world.token("developer"))
    mine, snapshot = _run(ws_client, dev)
    other, _ = _run(ws_client, dev, snapshot)
    cp = TestClient(create_control_plane_app(control_plane=world.cp), raise_server_exceptions=False)
    dev_cp = bearer(world.cp.login_token(user_id=world.users["developer"].id, audience=None)[0])
    viewer_cp = bearer(world.cp.login_token(user_id=world.users["viewer"].id, audience=None)[0])
    body = {"audience": world.ws_a.audience, "run_id": mine}
    assert cp.post("/api/v1/auth/workload-token", json=body, headers=viewer_cp).status_code == 403
    issued = _ok(cp.post("/api/v1/auth/workload-token", json=body, headers=dev_cp))
    workload = bearer(issued["access_token"])
    assert issued["expires_in"] > 900  # lives as long as a run may, and ends with the run

    assert ws_client.get(f"/api/v1/runs/{other}", headers=workload).status_code == 200  # reads are fine
    step = {"id": str(uuid.uuid4()), "run_id": mine, "invocation_id": "s1", "step_name": "s1"}
    assert ws_client.post("/api/v1/steps", json=step, headers=workload).status_code == 201
    foreign = {**step, "id": str(uuid.uuid4()), "run_id": other}
    assert ws_client.post("/api/v1/steps", json=foreign, headers=workload).status_code == 403
    assert ws_client.patch(f"/api/v1/steps/{step['id']}", json={"status": "running"},
                           headers=workload).status_code == 200
    assert ws_client.patch(f"/api/v1/runs/{other}", json={"heartbeat": True}, headers=workload).status_code == 403
    assert ws_client.post("/api/v1/metadata", headers=workload, json={
        "resource_type": "run", "resource_id": other, "values": {"x": 1}}).status_code == 403
    assert ws_client.delete(f"/api/v1/runs/{mine}", headers=workload).status_code == 403  # no delete at all
    assert ws_client.post("/api/v1/pipelines", json={"name": "sneaky"}, headers=workload).status_code == 403
    assert ws_client.patch(f"/api/v1/runs/{mine}", json={"heartbeat": True}, headers=workload).status_code == 200

    _ok(ws_client.patch(f"/api/v1/runs/{mine}", json={"status": "completed"}, headers=dev))
    response = ws_client.get(f"/api/v1/runs/{mine}", headers=workload)
    assert response.status_code == 401 and "finished" in response.json()["message"]


def test_a_project_developers_workload_token_works_in_that_project_only(world: World, ws_client: TestClient) -> None:
    in_p1 = {**bearer(world.token("project")), "X-Runyard-Project": "p1"}
    mine, _ = _run(ws_client, in_p1)
    cp = TestClient(create_control_plane_app(control_plane=world.cp), raise_server_exceptions=False)
    project_cp = bearer(world.cp.login_token(user_id=world.users["project"].id, audience=None)[0])
    body: dict[str, Any] = {"audience": world.ws_a.audience, "run_id": mine}
    assert cp.post("/api/v1/auth/workload-token", json=body, headers=project_cp).status_code == 403  # no p1: none
    assert cp.post("/api/v1/auth/workload-token", json={**body, "project": "p2"},
                   headers=project_cp).status_code == 403  # no grant there
    issued = _ok(cp.post("/api/v1/auth/workload-token", json={**body, "project": "p1"}, headers=project_cp))
    workload = bearer(issued["access_token"])

    step = {"id": str(uuid.uuid4()), "run_id": mine, "invocation_id": "s1", "step_name": "s1"}
    created = ws_client.post("/api/v1/steps", json=step, headers={**workload, "X-Runyard-Project": "p1"})
    assert created.status_code == 201
    assert ws_client.get("/api/v1/runs", headers=workload).status_code == 403  # the default project is closed
    assert ws_client.get("/api/v1/runs", headers={**workload, "X-Runyard-Project": "p2"}).status_code == 403


def test_a_workspace_developers_project_workload_token_is_narrowed_to_the_project(world: World,
                                                                                   ws_client: TestClient) -> None:
    dev = bearer(world.token("developer"))
    mine, _ = _run(ws_client, {**dev, "X-Runyard-Project": "p2"})
    cp = TestClient(create_control_plane_app(control_plane=world.cp), raise_server_exceptions=False)
    dev_cp = bearer(world.cp.login_token(user_id=world.users["developer"].id, audience=None)[0])
    issued = _ok(cp.post("/api/v1/auth/workload-token", headers=dev_cp,
                         json={"audience": world.ws_a.audience, "run_id": mine, "project": "p2"}))
    workload = bearer(issued["access_token"])
    assert ws_client.get(f"/api/v1/runs/{mine}", headers={**workload, "X-Runyard-Project": "p2"}).status_code == 200
    assert ws_client.get("/api/v1/runs", headers=workload).status_code == 403  # its creator could; it cannot
