"""``/runs``: create (idempotent), read, update through the state machine, delete."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from fastapi.testclient import TestClient

from runyard.exceptions import NotFound
from runyard.schemas import RunFilter
from runyard.workspace.services import runs


def test_create_get_update_delete_run(client: TestClient, make: Any, stored: Any) -> None:
    snapshot = make.snapshot()
    run_id = str(uuid.uuid4())
    created = client.post("/api/v1/runs", json={"id": run_id, "snapshot_id": snapshot["id"], "name": "first",
                                                "parameters": {"lr": 0.1}, "tags": ["nightly"]})
    assert created.status_code == 201
    assert created.json()["status"] == "initializing" and created.json()["tags"] == ["nightly"]
    assert stored(runs.get_run, run_id=uuid.UUID(run_id)).parameters == {"lr": 0.1}

    assert client.get(f"/api/v1/runs/{run_id}").json() == created.json()

    for status in ("running", "completed"):
        updated = client.patch(f"/api/v1/runs/{run_id}", json={"status": status, "add_tags": ["x"]})
        assert updated.status_code == 200 and updated.json()["status"] == status
    row = stored(runs.get_run, run_id=uuid.UUID(run_id))
    assert row.status == "completed" and row.ended is not None and row.tags == ["nightly", "x"]

    assert client.delete(f"/api/v1/runs/{run_id}").status_code == 204
    with pytest.raises(NotFound):
        stored(runs.get_run, run_id=uuid.UUID(run_id))
    assert client.get(f"/api/v1/runs/{run_id}").status_code == 404
    assert client.delete(f"/api/v1/runs/{run_id}").status_code == 404


def test_retried_create_with_the_same_id_stores_one_run(client: TestClient, make: Any, stored: Any) -> None:
    snapshot = make.snapshot()
    body = {"id": str(uuid.uuid4()), "snapshot_id": snapshot["id"], "status": "running"}
    answers = [client.post("/api/v1/runs", json=body) for _ in range(3)]
    assert {a.status_code for a in answers} == {201}
    assert len({a.json()["id"] for a in answers}) == 1
    assert len(stored(runs.list_runs, filter=RunFilter()).items) == 1


@pytest.mark.parametrize(("path", "refused"), [
    (["completed"], "running"),
    (["failed"], "completed"),
    (["cancelling"], "completed"),
    (["cancelled"], "running"),
])
def test_invalid_transition_is_409_with_the_reason(
    client: TestClient, make: Any, stored: Any, path: list[str], refused: str
) -> None:
    run = make.run(status="running")
    for status in path:
        assert client.patch(f"/api/v1/runs/{run['id']}", json={"status": status}).status_code == 200
    response = client.patch(f"/api/v1/runs/{run['id']}", json={"status": refused})
    assert response.status_code == 409
    error = response.json()
    assert error["error"] == "invalid_transition"
    assert f"from '{path[-1]}' to '{refused}'" in error["message"] and error["hint"]
    assert stored(runs.get_run, run_id=uuid.UUID(run["id"])).status == path[-1]


def test_repeating_the_same_status_is_accepted(client: TestClient, make: Any) -> None:
    run = make.run(status="running")
    for _ in range(2):
        assert client.patch(f"/api/v1/runs/{run['id']}", json={"status": "completed"}).status_code == 200


def test_run_of_unknown_snapshot_is_404_and_stores_nothing(client: TestClient, stored: Any) -> None:
    response = client.post("/api/v1/runs", json={"snapshot_id": str(uuid.uuid4())})
    assert response.status_code == 404 and "snapshot" in response.json()["message"]
    assert stored(runs.list_runs, filter=RunFilter()).items == []


def test_bad_tags_are_422(client: TestClient, make: Any) -> None:
    snapshot = make.snapshot()
    response = client.post("/api/v1/runs", json={"snapshot_id": snapshot["id"], "tags": [""]})
    assert response.status_code == 422 and response.json()["error"] == "invalid_input"
