"""Status-only step reports (``PATCH /steps/{id}`` without outputs or metadata): one guarded UPDATE where
the database can return rows, the checked path otherwise; both must keep the state machine's answers."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from fastapi.testclient import TestClient

from runyard.schemas.status import StepStatus
from runyard.workspace.services import steps
from runyard.workspace.state import STEP_TRANSITIONS


def test_sources_are_the_state_machine_read_backwards() -> None:
    for new in StepStatus:
        assert set(steps._SOURCES[new]) == {str(old) for old, allowed in STEP_TRANSITIONS.items() if new in allowed}


def test_start_and_end_set_times_once_and_the_answer_carries_the_inputs(
    client: TestClient, make: Any, stored: Any
) -> None:
    run = make.run()
    producer = make.finished_step(run["id"], "data")
    version_id = producer["outputs"]["output"]["id"]
    step = make.step(run["id"], "train", status="pending", inputs={"data": version_id})

    running = client.patch(f"/api/v1/steps/{step['id']}", json={"status": "running"})
    assert running.status_code == 200
    body = running.json()
    assert body["status"] == "running" and body["started"] is not None and body["ended"] is None
    assert body["inputs"]["data"]["id"] == version_id  # the full read, artifacts inline

    retrying = client.patch(f"/api/v1/steps/{step['id']}", json={"status": "retrying", "attempts": 2,
                                                                   "error": "flaky"})
    assert retrying.status_code == 200 and retrying.json()["attempts"] == 2 and retrying.json()["error"] == "flaky"
    again = client.patch(f"/api/v1/steps/{step['id']}", json={"status": "running"}).json()
    assert again["started"] == body["started"]  # a second start keeps the first start time

    done = client.patch(f"/api/v1/steps/{step['id']}", json={"status": "completed"}).json()
    assert done["status"] == "completed" and done["ended"] is not None
    kept = stored(steps.get_step_run, step_run_id=uuid.UUID(step["id"]))
    assert kept.status == "completed" and kept.attempts == 2 and kept.error == "flaky"
    assert kept.started is not None and kept.started.isoformat().replace("+00:00", "Z") == body["started"]
    assert kept.model_dump(mode="json") == done


def test_a_repeated_report_is_idempotent(client: TestClient, make: Any, stored: Any) -> None:
    run = make.run()
    step = make.step(run["id"], "a")  # created running
    first = client.patch(f"/api/v1/steps/{step['id']}", json={"status": "failed", "error": "boom"})
    repeat = client.patch(f"/api/v1/steps/{step['id']}", json={"status": "failed", "error": "boom"})
    assert first.status_code == repeat.status_code == 200
    assert repeat.json()["ended"] == first.json()["ended"]  # nothing moved the second time
    assert stored(steps.get_step_run, step_run_id=uuid.UUID(step["id"])).status == "failed"


@pytest.mark.parametrize(("start", "report"), [
    ("completed", "running"), ("completed", "failed"), ("pending", "retrying"), ("cancelled", "running"),
])
def test_refused_transitions_are_409_and_change_nothing(
    client: TestClient, make: Any, stored: Any, start: str, report: str
) -> None:
    run = make.run()
    step = make.step(run["id"], "a", status=start)
    before = stored(steps.get_step_run, step_run_id=uuid.UUID(step["id"]))
    response = client.patch(f"/api/v1/steps/{step['id']}", json={"status": report, "error": "late"})
    assert response.status_code == 409 and response.json()["error"] == "invalid_transition"
    assert f"from '{start}' to '{report}'" in response.json()["message"]
    assert stored(steps.get_step_run, step_run_id=uuid.UUID(step["id"])) == before


def test_a_step_of_another_project_is_404_and_untouched(client: TestClient, make: Any, stored: Any) -> None:
    run = make.run()
    step = make.step(run["id"], "a", status="pending")
    response = client.patch(f"/api/v1/steps/{step['id']}", json={"status": "running"},
                            headers={"X-Runyard-Project": "elsewhere"})
    assert response.status_code == 404
    assert stored(steps.get_step_run, step_run_id=uuid.UUID(step["id"])).status == "pending"


def test_brief_answers_leave_out_links_and_metadata_but_store_everything(
    client: TestClient, make: Any, stored: Any
) -> None:
    """``?brief=true`` (what runners send): the answer is the step's own fields; nothing stored differs."""
    run = make.run()
    version_id = make.finished_step(run["id"], "brief_data")["outputs"]["output"]["id"]
    step_id = str(uuid.uuid4())
    created = client.post("/api/v1/steps?brief=true", json={
        "id": step_id, "run_id": run["id"], "invocation_id": "train", "step_name": "train",
        "inputs": {"data": version_id}})
    assert created.status_code == 201, created.text
    assert created.json()["status"] == "running" and created.json()["inputs"] == {}
    output = make.output("brief_model")
    ended = client.patch(f"/api/v1/steps/{step_id}?brief=true", json={
        "status": "completed", "new_outputs": [output], "metadata": {"loss": 0.5}})
    assert ended.status_code == 200, ended.text
    body = ended.json()
    assert body["status"] == "completed" and body["ended"] is not None
    assert body["outputs"] == {} and body["metadata"] == {}
    kept = stored(steps.get_step_run, step_run_id=uuid.UUID(step_id))
    assert str(kept.inputs["data"].id) == version_id and str(kept.outputs["output"].id) == output["id"]
    assert kept.metadata == {"loss": 0.5}
    full = client.get(f"/api/v1/steps/{step_id}").json()
    assert full == kept.model_dump(mode="json")
    assert {k: v for k, v in full.items() if k not in ("inputs", "outputs", "metadata")} == {
        k: v for k, v in body.items() if k not in ("inputs", "outputs", "metadata")}
    assert client.patch(f"/api/v1/steps/{step_id}?brief=maybe", json={"status": "completed"}).status_code == 422
