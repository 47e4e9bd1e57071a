"""No N+1: listing many step runs (with outputs, inputs and metadata) costs a few statements per page."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import event

from runyard import schemas as s
from runyard.workspace.db.engine import Database
from runyard.workspace.services import steps

STEPS = 1_000
MAX_STATEMENTS_PER_PAGE = 10


@contextmanager
def counted_statements(db: Database) -> Iterator[list[str]]:
    statements: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        statements.append(statement)

    engines = {id(e): e for e in (db.read_engine, db.write_engine)}.values()
    for engine in engines:
        event.listen(engine, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        for engine in engines:
            event.remove(engine, "before_cursor_execute", count)


def _run_with_many_steps(make: Any, db: Database) -> str:
    """A run of STEPS finished steps, each with an output, an input and metadata (through the services)."""
    run = make.run()
    run_id = uuid.UUID(run["id"])
    previous: uuid.UUID | None = None
    with db.session(write=True) as session:
        for i in range(STEPS):
            step = steps.create_step_run(session, step=s.StepRunCreate(
                id=uuid.uuid4(), run_id=run_id, invocation_id=f"step_{i}", step_name="work",
                inputs={"data": previous} if previous else {}))
            done = steps.update_step_run(session, step_run_id=step.id, update=s.StepRunUpdate(
                status=s.StepStatus.COMPLETED, metadata={"i": i},
                new_outputs=[s.ArtifactVersionCreate(
                    id=uuid.uuid4(), name=f"out_{i % 10}", output_name="out", uri=f"file:///x/{i}",
                    content_hash=f"{i:064x}", size=1, materializer="json", data_type="int")]))
            previous = done.outputs["out"].id
    return run["id"]


def test_listing_a_thousand_steps_is_a_constant_number_of_statements(
    client: TestClient, make: Any, db: Database
) -> None:
    run_id = _run_with_many_steps(make, db)
    seen: set[str] = set()
    cursor: str | None = None
    pages = 0
    while True:
        params: dict[str, Any] = {"run_id": run_id, "limit": 500, **({"cursor": cursor} if cursor else {})}
        with counted_statements(db) as statements:
            response = client.get("/api/v1/steps", params=params)
        assert response.status_code == 200
        body = response.json()
        assert len(statements) <= MAX_STATEMENTS_PER_PAGE, statements
        for item in body["items"]:
            assert item["outputs"]["out"]["name"].startswith("out_") and item["metadata"]["i"] >= 0
            if item["invocation_id"] != "step_0":
                assert item["inputs"]["data"]["name"].startswith("out_")
        seen.update(item["id"] for item in body["items"])
        pages += 1
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == STEPS and pages == 2


def test_run_list_and_get_are_constant_too(client: TestClient, make: Any, db: Database) -> None:
    snapshot = make.snapshot()
    for i in range(60):
        make.run(snapshot["id"], tags=[f"t{i}", "all"])
    with counted_statements(db) as statements:
        page = client.get("/api/v1/runs", params={"limit": 50, "tag": "all"}).json()
    assert len(page["items"]) == 50 and len(statements) <= MAX_STATEMENTS_PER_PAGE, statements
    with counted_statements(db) as statements:
        client.get("/api/v1/artifact-versions", params={"limit": 50})
    assert len(statements) <= MAX_STATEMENTS_PER_PAGE, statements
