"""``/pipelines`` and ``/snapshots``: HTTP answers and the stored state behind them."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from fastapi.testclient import TestClient

from runyard.exceptions import NotFound
from runyard.workspace.services import pipelines


def test_create_get_list_delete_pipeline(client: TestClient, stored: Any) -> None:
    created = client.post("/api/v1/pipelines", json={"name": "training", "docstring": "Trains."})
    assert created.status_code == 201
    body = created.json()
    assert body["name"] == "training" and body["docstring"] == "Trains."
    assert stored(pipelines.get_pipeline, name_or_id="training").id == uuid.UUID(body["id"])

    by_name = client.get("/api/v1/pipelines/training")
    by_id = client.get(f"/api/v1/pipelines/{body['id']}")
    assert by_name.status_code == by_id.status_code == 200
    assert by_name.json() == by_id.json() == body

    listed = client.get("/api/v1/pipelines").json()
    assert [p["name"] for p in listed["items"]] == ["training"] and listed["next_cursor"] is None

    assert client.delete("/api/v1/pipelines/training").status_code == 204
    with pytest.raises(NotFound):
        stored(pipelines.get_pipeline, name_or_id="training")
    missing = client.get("/api/v1/pipelines/training")
    assert missing.status_code == 404
    assert missing.json()["error"] == "not_found" and "runyard pipeline list" in missing.json()["hint"]


def test_registering_a_pipeline_twice_keeps_one_row(client: TestClient, stored: Any) -> None:
    first = client.post("/api/v1/pipelines", json={"name": "p"}).json()
    again = client.post("/api/v1/pipelines", json={"name": "p", "docstring": "now documented"}).json()
    assert again["id"] == first["id"] and again["docstring"] == "now documented"
    page = stored(pipelines.list_pipelines, filter=pipelines.PipelineFilter())
    assert [p.name for p in page.items] == ["p"]


def test_list_pipelines_name_contains_treats_wildcards_literally(client: TestClient, make: Any) -> None:
    for name in ("alpha_1", "alphax1", "beta"):
        make.pipeline(name)
    names = lambda q: sorted(p["name"] for p in client.get("/api/v1/pipelines", params={"name_contains": q})  # noqa: E731
                             .json()["items"])
    assert names("alpha") == ["alpha_1", "alphax1"]
    assert names("a_1") == ["alpha_1"]  # "_" is not a LIKE wildcard here
    assert names("%") == []


def test_pipeline_name_is_validated(client: TestClient) -> None:
    for bad in ("", "has space", "../etc", "x" * 300, "é"):
        response = client.post("/api/v1/pipelines", json={"name": bad})
        assert response.status_code == 422, bad
        assert response.json()["details"][0]["loc"] == ["body", "name"]


def test_snapshot_create_get_and_idempotent_retry(client: TestClient, make: Any, stored: Any) -> None:
    pipeline = make.pipeline()
    body = {"id": str(uuid.uuid4()), "pipeline_id": pipeline["id"], "spec": {"steps": ["a"]}, "spec_hash": "abc",
            "config": {"k": 1}, "code_reference": {"module": "m"}}
    first = client.post("/api/v1/snapshots", json=body)
    retried = client.post("/api/v1/snapshots", json=body)
    assert first.status_code == retried.status_code == 201
    assert first.json() == retried.json()
    snapshot = stored(pipelines.get_snapshot, snapshot_id=uuid.UUID(body["id"]))
    assert snapshot.spec == {"steps": ["a"]} and snapshot.config == {"k": 1}
    assert client.get(f"/api/v1/snapshots/{body['id']}").json() == first.json()


def test_snapshot_of_unknown_pipeline_is_404(client: TestClient) -> None:
    response = client.post("/api/v1/snapshots", json={"pipeline_id": str(uuid.uuid4()), "spec": {}, "spec_hash": "x"})
    assert response.status_code == 404 and response.json()["error"] == "not_found"
    assert client.get(f"/api/v1/snapshots/{uuid.uuid4()}").status_code == 404
