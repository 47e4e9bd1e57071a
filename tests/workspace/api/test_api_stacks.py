"""``/stacks`` and ``/components``."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from runyard.exceptions import NotFound
from runyard.workspace.services import stacks


def test_default_stack_exists_from_the_start(client: TestClient) -> None:
    listed = client.get("/api/v1/stacks")
    assert listed.status_code == 200
    assert [s["name"] for s in listed.json()] == ["default"]
    default = client.get("/api/v1/stacks/default").json()
    assert set(default["components"]) == {"orchestrator", "artifact_store"}


def test_component_create_get_list_update_delete(client: TestClient, stored: Any) -> None:
    client.get("/api/v1/stacks/default")  # creates the default components on first use
    body = {"name": "fast", "type": "orchestrator", "flavor": "local_parallel", "config": {"max_workers": 2}}
    created = client.post("/api/v1/components", json=body)
    assert created.status_code == 201
    assert stored(stacks.get_component, type="orchestrator", name_or_id="fast").config == {"max_workers": 2}
    assert client.get("/api/v1/components/orchestrator/fast").json() == created.json()
    assert client.get(f"/api/v1/components/orchestrator/{created.json()['id']}").json() == created.json()

    listed = client.get("/api/v1/components", params={"type": "orchestrator"}).json()
    assert sorted(c["name"] for c in listed) == ["default", "fast"]

    updated = client.patch("/api/v1/components/orchestrator/fast", json={"config": {"max_workers": 4}})
    assert updated.status_code == 200 and updated.json()["config"] == {"max_workers": 4}
    assert stored(stacks.get_component, type="orchestrator", name_or_id="fast").config == {"max_workers": 4}

    duplicate = client.post("/api/v1/components", json=body)
    assert duplicate.status_code == 409 and duplicate.json()["error"] == "conflict"

    assert client.delete("/api/v1/components/orchestrator/fast").status_code == 204
    with pytest.raises(NotFound):
        stored(stacks.get_component, type="orchestrator", name_or_id="fast")
    assert client.get("/api/v1/components/orchestrator/fast").status_code == 404


def test_stack_create_get_update_delete(client: TestClient, stored: Any) -> None:
    client.get("/api/v1/stacks/default")
    client.post("/api/v1/components", json={"name": "par", "type": "orchestrator", "flavor": "local_parallel"})
    created = client.post("/api/v1/stacks", json={"name": "mine",
                                                  "components": {"orchestrator": "par", "artifact_store": "default"}})
    assert created.status_code == 201
    assert created.json()["components"]["orchestrator"]["name"] == "par"
    assert stored(stacks.get_stack, name_or_id="mine").components["orchestrator"].flavor == "local_parallel"

    updated = client.patch("/api/v1/stacks/mine", json={"components": {"orchestrator": "default"}})
    assert updated.status_code == 200 and updated.json()["components"]["orchestrator"]["name"] == "default"

    in_use = client.post("/api/v1/stacks", json={"name": "other",
                                                 "components": {"orchestrator": "par", "artifact_store": "default"}})
    assert in_use.status_code == 201
    refused = client.delete("/api/v1/components/orchestrator/par")
    assert refused.status_code == 409 and "part of a stack" in refused.json()["message"]

    assert client.delete("/api/v1/stacks/mine").status_code == 204
    with pytest.raises(NotFound):
        stored(stacks.get_stack, name_or_id="mine")


def test_stack_rules_are_4xx(client: TestClient) -> None:
    client.get("/api/v1/stacks/default")
    missing_store = client.post("/api/v1/stacks", json={"name": "s", "components": {"orchestrator": "default"}})
    assert missing_store.status_code == 422 and "artifact_store" in missing_store.json()["message"]
    unknown = client.post("/api/v1/stacks", json={"name": "s",
                                                  "components": {"orchestrator": "nope", "artifact_store": "default"}})
    assert unknown.status_code == 404
    assert client.delete("/api/v1/stacks/default").status_code == 422
    assert client.get("/api/v1/stacks/nope").status_code == 404
    assert client.get("/api/v1/components/Bad-Type/x").status_code == 422
