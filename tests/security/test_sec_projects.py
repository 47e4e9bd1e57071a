"""Project scope with authentication on: a grant on one project opens that project and nothing else.

``project`` is a developer on ``p1`` only, ``other_project`` a developer on ``p2`` only, ``viewer`` a
viewer of the whole workspace (see ``tests/control_plane/cp_world.py``).
"""

from __future__ import annotations

import uuid
from typing import Any

from cp_world import World, bearer
from fastapi.testclient import TestClient


def _as(world: World, who: str, project: str | None) -> dict[str, str]:
    headers = bearer(world.token(who))
    if project is not None:
        headers["X-Runyard-Project"] = project
    return headers


def _ok(response: Any, status: int = 200) -> dict[str, Any]:
    assert response.status_code == status, (response.status_code, response.text)
    return response.json()  # type: ignore[no-any-return]


def _run_in(client: TestClient, headers: dict[str, str]) -> dict[str, Any]:
    pipe = _ok(client.post("/api/v1/pipelines", json={"name": "training"}, headers=headers), 201)
    stack = _ok(client.get("/api/v1/stacks/default", headers=headers))
    snapshot = _ok(client.post("/api/v1/snapshots", headers=headers, json={
        "id": str(uuid.uuid4()), "pipeline_id": pipe["id"], "stack_id": stack["id"], "spec": {"steps": []},
        "spec_hash": "h" * 16}), 201)
    return _ok(client.post("/api/v1/runs", headers=headers, json={
        "id": str(uuid.uuid4()), "snapshot_id": snapshot["id"], "status": "running"}), 201)


def test_a_project_grant_opens_its_project_only(world: World, ws_client: TestClient) -> None:
    in_p1 = _as(world, "project", "p1")
    run = _run_in(ws_client, in_p1)
    assert [r["id"] for r in _ok(ws_client.get("/api/v1/runs", headers=in_p1))["items"]] == [run["id"]]

    # the same user outside p1: the default project (no header) and p2 are closed
    for project in (None, "p2"):
        headers = _as(world, "project", project)
        assert ws_client.get("/api/v1/runs", headers=headers).status_code == 403
        assert ws_client.get(f"/api/v1/runs/{run['id']}", headers=headers).status_code == 403
        assert ws_client.post("/api/v1/pipelines", json={"name": "x"}, headers=headers).status_code == 403


def test_another_projects_user_can_neither_read_list_nor_guess(world: World, ws_client: TestClient) -> None:
    run = _run_in(ws_client, _as(world, "project", "p1"))
    other_in_p1 = _as(world, "other_project", "p1")
    assert ws_client.get("/api/v1/runs", headers=other_in_p1).status_code == 403
    assert ws_client.get(f"/api/v1/runs/{run['id']}", headers=other_in_p1).status_code == 403
    assert ws_client.post("/api/v1/pipelines", json={"name": "x"}, headers=other_in_p1).status_code == 403
    assert ws_client.patch(f"/api/v1/runs/{run['id']}", json={"status": "failed"},
                           headers=other_in_p1).status_code == 403

    # in its own project, p1's rows do not exist: a known id is 404, exactly like a made-up one
    other_in_p2 = _as(world, "other_project", "p2")
    known = ws_client.get(f"/api/v1/runs/{run['id']}", headers=other_in_p2)
    made_up = ws_client.get(f"/api/v1/runs/{uuid.uuid4()}", headers=other_in_p2)
    assert known.status_code == made_up.status_code == 404 and known.json()["error"] == made_up.json()["error"]
    assert ws_client.patch(f"/api/v1/runs/{run['id']}", json={"status": "failed"},
                           headers=other_in_p2).status_code == 404
    assert _ok(ws_client.get("/api/v1/runs", headers=other_in_p2))["items"] == []
    mine = _run_in(ws_client, other_in_p2)  # and it works in p2, even with the same pipeline name
    assert mine["pipeline_id"] != run["pipeline_id"]
    assert _ok(ws_client.get(f"/api/v1/runs/{run['id']}", headers=_as(world, "project", "p1")))["status"] == "running"


def test_a_workspace_wide_viewer_sees_every_project(world: World, ws_client: TestClient) -> None:
    in_p1 = _run_in(ws_client, _as(world, "project", "p1"))
    in_p2 = _run_in(ws_client, _as(world, "other_project", "p2"))
    for project, run in (("p1", in_p1), ("p2", in_p2)):
        viewer = _as(world, "viewer", project)
        assert [r["id"] for r in _ok(ws_client.get("/api/v1/runs", headers=viewer))["items"]] == [run["id"]]
        assert _ok(ws_client.get(f"/api/v1/runs/{run['id']}", headers=viewer))["id"] == run["id"]
        assert ws_client.post("/api/v1/pipelines", json={"name": "x"}, headers=viewer).status_code == 403
    assert _ok(ws_client.get("/api/v1/runs", headers=_as(world, "viewer", None)))["items"] == []


def test_the_dashboard_shows_the_default_project_whatever_the_header(world: World, ws_client: TestClient) -> None:
    """The pages read the default project only, so a p1 grant must not open them by naming p1."""
    assert ws_client.get("/runs", headers=_as(world, "project", "p1")).status_code == 403
    assert ws_client.get("/runs", headers=_as(world, "viewer", "p1")).status_code == 200


def test_secrets_belong_to_the_workspace_so_a_project_grant_does_not_reach_them(
    world: World, ws_client: TestClient
) -> None:
    admin = _as(world, "admin", None)
    _ok(ws_client.post("/api/v1/secrets", json={"name": "warehouse", "values": {"password": "s3cret"}},
                       headers=admin), 201)
    # a developer on p1 only: whatever project it names, the workspace's secrets stay closed
    for project in (None, "p1"):
        headers = _as(world, "project", project)
        assert ws_client.get("/api/v1/secrets", headers=headers).status_code == 403
        assert ws_client.get("/api/v1/secrets/warehouse", headers=headers).status_code == 403
    # a workspace-wide developer reads the metadata (never the values), in any project
    developer = _as(world, "developer", "p1")
    assert [s["name"] for s in _ok(ws_client.get("/api/v1/secrets", headers=developer))] == ["warehouse"]
    assert ws_client.get("/api/v1/secrets/warehouse/values", headers=developer).status_code == 403
