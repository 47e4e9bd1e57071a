"""``/steps``: step runs, their reports (status + outputs + metadata), cache look-ups."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi.testclient import TestClient

from runyard.schemas import ArtifactVersionFilter, StepRunFilter
from runyard.workspace.services import artifacts, steps


def test_create_get_update_step_run(client: TestClient, make: Any, stored: Any) -> None:
    run = make.run()
    step_id = str(uuid.uuid4())
    created = client.post("/api/v1/steps", json={"id": step_id, "run_id": run["id"], "invocation_id": "train",
                                                 "step_name": "train", "parameters": {"lr": 0.5}})
    assert created.status_code == 201 and created.json()["status"] == "running"
    assert client.get(f"/api/v1/steps/{step_id}").json() == created.json()

    report = {"status": "completed", "attempts": 2, "metadata": {"accuracy": 0.9},
              "new_outputs": [make.output("model", output_name="model")]}
    updated = client.patch(f"/api/v1/steps/{step_id}", json=report)
    assert updated.status_code == 200
    body = updated.json()
    assert body["status"] == "completed" and body["attempts"] == 2
    assert body["outputs"]["model"]["name"] == "model" and body["outputs"]["model"]["version"] == 1
    assert body["metadata"] == {"accuracy": 0.9}

    kept = stored(steps.get_step_run, step_run_id=uuid.UUID(step_id))
    assert kept.status == "completed" and kept.ended is not None and kept.parameters == {"lr": 0.5}
    assert kept.outputs["model"].id == uuid.UUID(report["new_outputs"][0]["id"])
    assert kept.metadata == {"accuracy": 0.9}


def test_retried_step_report_registers_its_output_once(client: TestClient, make: Any, stored: Any) -> None:
    run = make.run()
    step = make.step(run["id"], "load")
    report = {"status": "completed", "new_outputs": [make.output("dataset", output_name="dataset")]}
    for _ in range(3):
        assert client.patch(f"/api/v1/steps/{step['id']}", json=report).status_code == 200
    versions = stored(artifacts.list_artifact_versions, filter=ArtifactVersionFilter(name="dataset")).items
    assert [v.version for v in versions] == [1]


def test_retried_step_create_stores_one_row(client: TestClient, make: Any, stored: Any) -> None:
    run = make.run()
    body = {"id": str(uuid.uuid4()), "run_id": run["id"], "invocation_id": "a", "step_name": "a"}
    assert {client.post("/api/v1/steps", json=body).status_code for _ in range(3)} == {201}
    listed = stored(steps.list_step_runs, filter=StepRunFilter(run_id=uuid.UUID(run["id"])))
    assert [s.invocation_id for s in listed.items] == ["a"]


def test_second_step_for_the_same_invocation_is_409(client: TestClient, make: Any) -> None:
    run = make.run()
    make.step(run["id"], "a")
    again = client.post("/api/v1/steps", json={"run_id": run["id"], "invocation_id": "a", "step_name": "a"})
    assert again.status_code == 409 and again.json()["error"] == "conflict"


def test_step_invalid_transition_is_409(client: TestClient, make: Any, stored: Any) -> None:
    run = make.run()
    step = make.step(run["id"], "a", status="pending")
    response = client.patch(f"/api/v1/steps/{step['id']}", json={"status": "completed"})
    assert response.status_code == 409
    assert response.json()["error"] == "invalid_transition" and "Allowed next" in response.json()["hint"]
    assert stored(steps.get_step_run, step_run_id=uuid.UUID(step["id"])).status == "pending"


def test_step_of_unknown_run_is_404(client: TestClient) -> None:
    response = client.post("/api/v1/steps", json={"run_id": str(uuid.uuid4()), "invocation_id": "a", "step_name": "a"})
    assert response.status_code == 404
    assert client.get(f"/api/v1/steps/{uuid.uuid4()}").status_code == 404
    assert client.patch(f"/api/v1/steps/{uuid.uuid4()}", json={"status": "failed"}).status_code == 404


def test_list_steps_of_a_run_filters_by_status_and_invocation(client: TestClient, make: Any) -> None:
    run, other = make.run(), make.run()
    make.finished_step(run["id"], "a1", invocation_id="first")
    make.step(run["id"], "second")
    make.step(other["id"], "first")
    listed = client.get("/api/v1/steps", params={"run_id": run["id"]}).json()["items"]
    assert sorted(s["invocation_id"] for s in listed) == ["first", "second"]
    done = client.get("/api/v1/steps", params={"run_id": run["id"], "status": "completed"}).json()["items"]
    assert [s["invocation_id"] for s in done] == ["first"] and done[0]["outputs"]["output"]["name"] == "a1"
    by_inv = client.get("/api/v1/steps", params={"invocation_id": "first"}).json()["items"]
    assert {s["run_id"] for s in by_inv} == {run["id"], other["id"]}


def test_cache_lookup_hit_and_miss(client: TestClient, make: Any) -> None:
    run = make.run()
    pipeline_id = run["pipeline_id"]
    step = make.step(run["id"], "train", cache_key="k1", cache_parts={"source": "s1"})
    client.patch(f"/api/v1/steps/{step['id']}", json={"status": "completed"})

    hit = client.post("/api/v1/steps/cache-lookup",
                      json={"cache_key": "k1", "invocation_id": "train", "pipeline_id": pipeline_id})
    assert hit.status_code == 200 and hit.json()["hit"]["id"] == step["id"]

    miss = client.post("/api/v1/steps/cache-lookup",
                       json={"cache_key": "k2", "invocation_id": "train", "pipeline_id": pipeline_id})
    assert miss.status_code == 200
    assert miss.json()["hit"] is None and miss.json()["previous_parts"] == {"source": "s1"}


def test_a_refused_write_is_rolled_back_before_the_answer(client: TestClient, make: Any, db: Any) -> None:
    """The session dependency hands the route's exception to the rollback, which runs (and returns the
    connection to the pool) before the error response is sent, not later when a generator is collected."""
    run = make.run()
    step = make.step(run["id"], "load")
    assert client.patch(f"/api/v1/steps/{step['id']}", json={"status": "completed"}).status_code == 200
    refused = client.patch(f"/api/v1/steps/{step['id']}", json={"status": "running"})
    assert refused.status_code == 409 and refused.json()["error"] == "invalid_transition"
    assert db.write_engine.pool.checkedout() == 0
