"""Fixtures of the Workspace Server tests: the app on the parametrized database, a client, factories.

Every test here runs twice, on SQLite and on PostgreSQL (through the ``database_url`` fixture). Tests
create data over HTTP with :class:`Factory` and read the stored state back through the service layer
with :func:`stored`, so each asserts both what the client saw and what the database kept.
"""

from __future__ import annotations

import uuid
import warnings
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import pytest
from fastapi import FastAPI

with warnings.catch_warnings():  # starlette asks for httpx2 instead of httpx; both work
    warnings.filterwarnings("ignore", message=".*httpx2")
    from fastapi.testclient import TestClient

from runyard.workspace.app import create_app
from runyard.workspace.db.engine import Database, get_database

T = TypeVar("T")


@pytest.fixture
def app(database_url: str) -> FastAPI:
    return create_app(database_url)


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    # raise_server_exceptions=False: a 500 must come back as a response, exactly as a real client sees it
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client


@pytest.fixture
def db(database_url: str) -> Database:
    return get_database(database_url)


@pytest.fixture
def stored(db: Database) -> Callable[..., Any]:
    """``stored(runs.get_run, run_id=...)``: the service layer's view, in a fresh read transaction."""

    def read(fn: Callable[..., T], **kwargs: Any) -> T:
        with db.session(write=False) as session:
            return fn(session, **kwargs)

    return read


class Factory:
    """Builds test data through the API, with sensible defaults and client-chosen ids."""

    def __init__(self, client: TestClient) -> None:
        self.client = client
        self._n = 0

    def _unique(self, prefix: str) -> str:
        self._n += 1
        return f"{prefix}_{self._n}_{uuid.uuid4().hex[:6]}"

    def _ok(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        response = self.client.request(method, "/api/v1" + path, **kwargs)
        assert response.status_code < 300, (response.status_code, response.text)
        return response.json()  # type: ignore[no-any-return]

    def pipeline(self, name: str | None = None) -> dict[str, Any]:
        return self._ok("POST", "/pipelines", json={"name": name or self._unique("pipe")})

    def stack(self) -> dict[str, Any]:
        return self._ok("GET", "/stacks/default")

    def snapshot(self, pipeline_id: str | None = None) -> dict[str, Any]:
        pipeline_id = pipeline_id or self.pipeline()["id"]
        return self._ok("POST", "/snapshots", json={
            "id": str(uuid.uuid4()), "pipeline_id": pipeline_id, "stack_id": self.stack()["id"],
            "spec": {"steps": []}, "spec_hash": "h" * 16,
        })

    def run(self, snapshot_id: str | None = None, **fields: Any) -> dict[str, Any]:
        body = {"id": str(uuid.uuid4()), "snapshot_id": snapshot_id or self.snapshot()["id"], "status": "running"}
        body.update(fields)
        return self._ok("POST", "/runs", json=body)

    def step(self, run_id: str, invocation_id: str | None = None, **fields: Any) -> dict[str, Any]:
        invocation_id = invocation_id or self._unique("step")
        body = {"id": str(uuid.uuid4()), "run_id": run_id, "invocation_id": invocation_id,
                "step_name": invocation_id}
        body.update(fields)
        return self._ok("POST", "/steps", json=body)

    def output(self, name: str, output_name: str = "output", **fields: Any) -> dict[str, Any]:
        version = {"id": str(uuid.uuid4()), "name": name, "output_name": output_name,
                   "uri": f"file:///tmp/{uuid.uuid4().hex}", "content_hash": uuid.uuid4().hex, "size": 3,
                   "materializer": "json", "data_type": "builtins.int"}
        version.update(fields)
        return version

    def finished_step(self, run_id: str, artifact: str, **fields: Any) -> dict[str, Any]:
        """A step that completed with one output version of ``artifact``."""
        step = self.step(run_id, **fields)
        return self._ok("PATCH", f"/steps/{step['id']}", json={
            "status": "completed", "new_outputs": [self.output(artifact)],
        })


@pytest.fixture
def make(client: TestClient) -> Factory:
    return Factory(client)


@pytest.fixture
def factory_for() -> Callable[[TestClient], Factory]:
    """For tests that build their own app and client."""
    return Factory
