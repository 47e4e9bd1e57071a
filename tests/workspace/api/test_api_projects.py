"""Projects: every request works inside one (``X-Runyard-Project``, default ``default``), and another
project's rows are never found, listed, changed or used, by id or by name. Runs on SQLite and PostgreSQL."""

from __future__ import annotations

import uuid
import warnings
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi import FastAPI

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message=".*httpx2")
    from fastapi.testclient import TestClient

from runyard.client.transport import InProcessTransport
from runyard.client.workspace_api import WorkspaceAPI
from runyard.schemas import RunFilter
from runyard.workspace.services import runs


@pytest.fixture
def in_project(app: FastAPI) -> Iterator[Callable[[str], TestClient]]:
    clients: list[TestClient] = []

    def make(project: str) -> TestClient:
        client = TestClient(app, raise_server_exceptions=False, headers={"X-Runyard-Project": project})
        client.__enter__()
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.__exit__(None, None, None)


def _p1_world(client: TestClient, factory: Any) -> dict[str, Any]:
    make = factory(client)
    pipeline = make.pipeline("training")
    snapshot = make.snapshot(pipeline["id"])
    run = make.run(snapshot["id"], tags=["p1"])
    step = make.finished_step(run["id"], "model", cache_key="k" * 64)
    version = step["outputs"]["output"]
    component = make._ok("POST", "/components", json={"type": "orchestrator", "name": "o1", "flavor": "local"})
    stack = make._ok("POST", "/stacks", json={"name": "s1", "components": {"orchestrator": "o1",
                                                                           "artifact_store": "default"}})
    return {"pipeline": pipeline, "snapshot": snapshot, "run": run, "step": step, "version": version,
            "component": component, "stack": stack}


def test_names_are_unique_per_project(in_project: Callable[[str], TestClient], factory_for: Any,
                                      client: TestClient) -> None:
    p1, p2 = factory_for(in_project("p1")), factory_for(in_project("p2"))
    ids = {p1.pipeline("training")["id"], p2.pipeline("training")["id"], factory_for(client).pipeline("training")["id"]}
    assert len(ids) == 3
    assert p1.pipeline("training")["id"] in ids  # still idempotent by name within a project
    for make in (p1, p2):  # artifact versions are numbered per project
        step = make.finished_step(make.run()["id"], "model")
        assert step["outputs"]["output"]["version"] == 1
    assert p1.stack()["id"] != p2.stack()["id"]  # each project gets its own default stack


def test_another_projects_rows_are_not_found(in_project: Callable[[str], TestClient], factory_for: Any) -> None:
    p1 = in_project("p1")
    world = _p1_world(p1, factory_for)
    p2 = in_project("p2")
    run_id, step_id, version_id = world["run"]["id"], world["step"]["id"], world["version"]["id"]
    for path in (f"/pipelines/{world['pipeline']['id']}", "/pipelines/training",
                 f"/snapshots/{world['snapshot']['id']}",
                 f"/runs/{run_id}", f"/steps/{step_id}", f"/artifact-versions/{version_id}", "/artifact-versions/model",
                 f"/artifact-versions/{version_id}/lineage", f"/runs/{run_id}/logs", f"/runs/{run_id}/logs/stream",
                 "/stacks/s1", f"/stacks/{world['stack']['id']}", "/components/orchestrator/o1",
                 f"/components/orchestrator/{world['component']['id']}"):
        response = p2.get("/api/v1" + path)
        assert response.status_code == 404, (path, response.status_code, response.text)
        assert response.json()["error"] == "not_found"  # the answer a made-up id gets: nothing is confirmed
    for path in ("/pipelines", "/runs", "/steps", "/artifacts", "/artifact-versions"):
        assert p2.get("/api/v1" + path).json()["items"] == [], path
    assert p2.get("/api/v1/steps", params={"run_id": run_id}).json()["items"] == []
    assert {s["name"] for s in p2.get("/api/v1/stacks").json()} == {"default"}
    assert {c["name"] for c in p2.get("/api/v1/components").json()} == {"default"}

    writes = [
        ("PATCH", f"/runs/{run_id}", {"status": "failed"}),
        ("PATCH", f"/steps/{step_id}", {"status": "failed"}),
        ("POST", "/steps", {"run_id": run_id, "invocation_id": "sneaky", "step_name": "sneaky"}),
        ("POST", "/metadata", {"resource_type": "run", "resource_id": run_id, "values": {"x": 1}}),
        ("POST", "/metadata", {"resource_type": "step_run", "resource_id": step_id, "values": {"x": 1}}),
        ("POST", "/metadata", {"resource_type": "artifact_version", "resource_id": version_id, "values": {"x": 1}}),
        ("POST", "/runs", {"id": str(uuid.uuid4()), "snapshot_id": world["snapshot"]["id"], "status": "running"}),
        ("POST", "/snapshots", {"id": str(uuid.uuid4()), "pipeline_id": world["pipeline"]["id"], "spec": {},
                                "spec_hash": "h"}),
        ("POST", f"/runs/{run_id}/logs", {"key": "run", "first_offset": 0, "lines": []}),
        ("PATCH", "/stacks/s1", {"components": {}}),
        ("DELETE", f"/runs/{run_id}", None),
        ("DELETE", f"/pipelines/{world['pipeline']['id']}", None),
        ("DELETE", "/stacks/s1", None),
        ("DELETE", "/components/orchestrator/o1", None),
    ]
    for method, path, body in writes:
        response = p2.request(method, "/api/v1" + path, json=body)
        assert response.status_code == 404, (method, path, response.status_code, response.text)
    assert p2.post("/api/v1/runs", json={"id": run_id, "snapshot_id": world["snapshot"]["id"]}).status_code == 409

    # and in p1 everything is still there, unchanged
    run = p1.get(f"/api/v1/runs/{run_id}").json()
    assert run["status"] == "running" and run["metadata"] == {}
    assert p1.get(f"/api/v1/steps/{step_id}").json()["status"] == "completed"
    assert [s["invocation_id"] for s in p1.get("/api/v1/steps", params={"run_id": run_id}).json()["items"]] == [
        world["step"]["invocation_id"]]
    assert p1.get("/api/v1/stacks/s1").status_code == 200


def test_cache_hits_stay_in_their_project(in_project: Callable[[str], TestClient], factory_for: Any) -> None:
    world = _p1_world(in_project("p1"), factory_for)
    lookup = {"cache_key": "k" * 64, "pipeline_id": world["pipeline"]["id"],
              "invocation_id": world["step"]["invocation_id"]}
    assert in_project("p1").post("/api/v1/steps/cache-lookup", json=lookup).json()["hit"]["id"] == world["step"]["id"]
    assert in_project("p2").post("/api/v1/steps/cache-lookup", json=lookup).json()["hit"] is None


def test_a_malformed_project_name_is_a_clear_422(in_project: Callable[[str], TestClient]) -> None:
    response = in_project("Not A Project!").get("/api/v1/runs")
    assert response.status_code == 422
    body = response.json()
    assert body["error"] == "invalid_input" and "x-runyard-project" in response.text.lower(), body


def test_the_in_process_client_works_in_its_project(database_url: str, in_project: Callable[[str], TestClient],
                                                    factory_for: Any, stored: Any) -> None:
    world = _p1_world(in_project("p1"), factory_for)
    transport = InProcessTransport(database_url)
    mine, default = WorkspaceAPI(transport, project="p1"), WorkspaceAPI(transport)
    assert [r.id for r in mine.list_runs(RunFilter()).items] == [uuid.UUID(world["run"]["id"])]
    assert default.project == "default" and default.list_runs(RunFilter()).items == []
    assert mine.get_pipeline("training").id == uuid.UUID(world["pipeline"]["id"])
    assert stored(runs.list_runs, filter=RunFilter(), project="p2").items == []
