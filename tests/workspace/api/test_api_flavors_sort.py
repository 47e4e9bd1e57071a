"""Flavors are listed; runs can be filtered by update time and read oldest first across pages."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi.testclient import TestClient

from runyard import pipeline, step
from runyard.workspace.app import create_app


@step(enable_cache=False)
def tick() -> int:
    return 1


@pipeline(enable_cache=False)
def ticks() -> None:
    tick()


def test_flavors_list_names_the_builtins(database_url: str) -> None:
    with TestClient(create_app(database_url)) as client:
        body = client.get("/api/v1/flavors").json()
        names = {(f["type"], f["name"]) for f in body}
        assert {("orchestrator", "local"), ("orchestrator", "local_parallel"), ("artifact_store", "local"),
                ("log_backend", "artifact_store"), ("log_backend", "otlp")} <= names
        only = client.get("/api/v1/flavors", params={"type": "orchestrator"}).json()
        assert {f["type"] for f in only} == {"orchestrator"}
        assert client.get("/api/v1/flavors", params={"type": "Bad Type!"}).status_code == 422


def test_runs_oldest_first_across_pages_and_updated_ranges(database_url: str) -> None:
    made = [ticks().id for _ in range(5)]
    with TestClient(create_app(database_url)) as client:
        seen: list[str] = []
        params: dict[str, Any] = {"pipeline": "ticks", "sort": "oldest", "limit": 2}
        while True:
            page = client.get("/api/v1/runs", params=params).json()
            seen += [r["id"] for r in page["items"]]
            if not page["next_cursor"]:
                break
            params["cursor"] = page["next_cursor"]
        assert seen == [str(i) for i in made]
        future = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
        assert client.get("/api/v1/runs", params={"updated_after": future}).json()["items"] == []
        assert len(client.get("/api/v1/runs", params={"updated_before": future}).json()["items"]) == 5
        assert client.get("/api/v1/runs", params={"sort": "sideways"}).status_code == 422
