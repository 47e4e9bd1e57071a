"""Test data made through the HTTP API as a given caller: a pipeline with a snapshot and a running run."""

from __future__ import annotations

import uuid
from typing import Any


def ok(response: Any, status: int = 200) -> Any:
    """The answer's JSON, after checking its status (the body is in the message when it is not)."""
    assert response.status_code == status, (response.status_code, response.text)
    return response.json()


def running_run(client: Any, headers: dict[str, str], pipeline: str) -> dict[str, Any]:
    """Pipeline ``pipeline`` (created if new), a snapshot of it on the default stack, and a running run:
    ``{"pipeline": ..., "snapshot": ..., "run": ...}`` as the API answered them."""
    pipe = ok(client.post("/api/v1/pipelines", json={"name": pipeline}, headers=headers), 201)
    stack = ok(client.get("/api/v1/stacks/default", headers=headers))
    snapshot = ok(client.post("/api/v1/snapshots", headers=headers, json={
        "id": str(uuid.uuid4()), "pipeline_id": pipe["id"], "stack_id": stack["id"], "spec": {"steps": []},
        "spec_hash": "h" * 16}), 201)
    run = ok(client.post("/api/v1/runs", headers=headers, json={
        "id": str(uuid.uuid4()), "snapshot_id": snapshot["id"], "status": "running"}), 201)
    return {"pipeline": pipe, "snapshot": snapshot, "run": run}
