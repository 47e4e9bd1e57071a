"""``/metadata``: values logged on runs, step runs and artifact versions."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from fastapi.testclient import TestClient

from runyard.workspace.services import artifacts, runs, steps


def test_metadata_on_each_resource_type(client: TestClient, make: Any, stored: Any) -> None:
    run = make.run()
    step = make.finished_step(run["id"], "model")
    version_id = step["outputs"]["output"]["id"]
    targets = [("run", run["id"]), ("step_run", step["id"]), ("artifact_version", version_id)]
    for resource_type, resource_id in targets:
        response = client.post("/api/v1/metadata", json={"resource_type": resource_type, "resource_id": resource_id,
                                                         "values": {"loss": 0.25, "tags": ["a"]}})
        assert response.status_code == 204 and response.content == b""
    client.post("/api/v1/metadata", json={"resource_type": "run", "resource_id": run["id"], "values": {"loss": 0.1}})

    assert stored(runs.get_run, run_id=uuid.UUID(run["id"])).metadata == {"loss": 0.1, "tags": ["a"]}
    assert stored(steps.get_step_run, step_run_id=uuid.UUID(step["id"])).metadata["loss"] == 0.25
    assert stored(artifacts.get_artifact_version, name_or_id=version_id).metadata["loss"] == 0.25
    assert client.get(f"/api/v1/runs/{run['id']}").json()["metadata"] == {"loss": 0.1, "tags": ["a"]}


def test_metadata_on_a_missing_resource_is_404(client: TestClient) -> None:
    response = client.post("/api/v1/metadata", json={"resource_type": "run", "resource_id": str(uuid.uuid4()),
                                                     "values": {"a": 1}})
    assert response.status_code == 404


@pytest.mark.parametrize("body", [
    {"resource_type": "pipeline", "resource_id": "00000000-0000-0000-0000-000000000000", "values": {}},
    {"resource_type": "run", "resource_id": "not-a-uuid", "values": {}},
    {"resource_type": "run", "resource_id": "00000000-0000-0000-0000-000000000000", "values": []},
])
def test_bad_metadata_is_422(client: TestClient, body: dict[str, Any]) -> None:
    assert client.post("/api/v1/metadata", json=body).status_code == 422
