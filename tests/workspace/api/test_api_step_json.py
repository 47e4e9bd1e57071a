"""The hot routes that write their own JSON (``services/step_json.py``, ``api/status_reports.py``) answer exactly
what the generic path (pydantic models, FastAPI's handler) answers, on SQLite, PostgreSQL and MariaDB."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from runyard.schemas.base import PageRequest
from runyard.schemas.status import StepStatus
from runyard.schemas.steps import StepRunUpdate
from runyard.workspace.api import status_reports
from runyard.workspace.db.engine import Database
from runyard.workspace.services import step_json, steps

#: Values the JSON columns must carry through unchanged: unicode, escapes, nesting, numbers of every kind.
ODD = {"text": "é ü 中文 \"quoted\" \\ back\nline\ttab", "nested": {"a": [1, 2.5, -3e-7, None, True, {}]},
       "big": 2**62, "float": 0.1, "empty": [], "zero": 0}


def _same(fast: bytes | str, generic: bytes | str) -> None:
    assert json.loads(fast) == json.loads(generic)


@pytest.fixture
def lean_calls(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[StepRunUpdate]]:
    """Records each report the route class answered itself (the rest went to FastAPI's handler)."""
    calls: list[StepRunUpdate] = []
    real = status_reports._Coalescer.report

    async def spy(self: Any, step_run_id: uuid.UUID, update: StepRunUpdate, project: str) -> bytes:
        calls.append(update)
        return await real(self, step_run_id, update, project)

    monkeypatch.setattr(status_reports._Coalescer, "report", spy)
    yield calls


def _varied_run(make: Any, client: TestClient) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """A run whose steps cover what a page can hold: links both ways, a cached reuse, a failure, pending."""
    run = make.run()
    first = make.step(run["id"], "load", parameters=ODD, cache_key="k1", cache_parts={"source": "abc", "params": ODD})
    first = make._ok("PATCH", f"/steps/{first['id']}", json={
        "status": "completed", "metadata": {"rows": 3, "note": "ü"},
        "new_outputs": [make.output("data", metadata=ODD), make.output("extra", output_name="extra")],
    })
    data = first["outputs"]["output"]["id"]
    second = make.step(run["id"], "train", inputs={"data": data})
    second = make._ok("PATCH", f"/steps/{second['id']}", json={
        "status": "failed", "error": "boom", "traceback": "Traceback ...\n  ValueError: é", "attempts": 3})
    cached = make.step(run["id"], "load_again", status="cached", original_step_run_id=first["id"],
                       outputs=[{"name": "output", "artifact_version_id": data}])
    pending = make.step(run["id"], "later", status="pending")
    return run, [first, second, cached, pending]


def test_the_run_page_equals_the_generic_page_on_every_database(
    client: TestClient, make: Any, db: Database
) -> None:
    run, _ = _varied_run(make, client)
    run_id = uuid.UUID(run["id"])
    cursor = None
    pages = 0
    while True:
        page = PageRequest(limit=3, cursor=cursor)
        with db.session(write=False) as session:
            generic = steps.list_run_steps(session, run_id=run_id, page=page).model_dump_json()
            fast = step_json.list_run_steps_json(session, run_id=run_id, page=page, project="default")
        _same(fast, generic)
        http = client.get(f"/api/v1/runs/{run_id}/steps", params={"limit": 3, **({"cursor": cursor} if cursor else {})})
        assert http.status_code == 200 and http.headers["content-type"] == "application/json"
        _same(http.content, generic)
        pages += 1
        cursor = json.loads(generic)["next_cursor"]
        if cursor is None:
            break
    assert pages == 2
    body = client.get(f"/api/v1/runs/{run_id}/steps").json()
    assert [s["invocation_id"] for s in body["items"]] == ["load", "train", "load_again", "later"]
    assert list(body["items"][0]) == [*steps.RunStepRead.__pydantic_fields__]  # keys in the model's order


def test_the_run_page_refuses_like_the_generic_route(client: TestClient, make: Any) -> None:
    run, _ = _varied_run(make, client)
    assert client.get(f"/api/v1/runs/{uuid.uuid4()}/steps").status_code == 404
    other = client.get(f"/api/v1/runs/{run['id']}/steps", headers={"X-Runyard-Project": "elsewhere"})
    assert other.status_code == 404 and other.json()["error"] == "not_found"
    assert client.get(f"/api/v1/runs/{run['id']}/steps", params={"cursor": "nonsense"}).status_code == 422
    assert client.get(f"/api/v1/runs/{run['id']}/steps", params={"limit": 0}).status_code == 422


def test_a_value_orjson_cannot_write_falls_back_to_the_models(client: TestClient, make: Any, db: Database) -> None:
    """An integer beyond 64 bits: spliced as stored on PostgreSQL; elsewhere orjson refuses it and the models
    answer."""
    run = make.run()
    make.step(run["id"], "huge", parameters={"n": 2**70})
    body = client.get(f"/api/v1/runs/{run['id']}/steps")
    assert body.status_code == 200 and body.json()["items"][0]["parameters"] == {"n": 2**70}


def test_status_reports_answer_as_the_generic_read(
    client: TestClient, make: Any, db: Database, stored: Any, lean_calls: list[StepRunUpdate]
) -> None:
    run, (first, *_) = _varied_run(make, client)
    lean_calls.clear()
    data = first["outputs"]["output"]["id"]
    step = make.step(run["id"], "evaluate", status="pending", parameters=ODD, inputs={"data": data},
                     outputs=[{"name": "reused", "artifact_version_id": data}])
    for body in ({"status": "running"}, {"status": "retrying", "error": "flaky", "attempts": 2},
                 {"status": "running"}, {"status": "completed", "traceback": None}):
        answer = client.patch(f"/api/v1/steps/{step['id']}", json=body)
        assert answer.status_code == 200, answer.text
        _same(answer.content, stored(steps.get_step_run, step_run_id=uuid.UUID(step["id"])).model_dump_json())
    assert len(lean_calls) == 4  # every one answered by the route class
    final = answer.json()
    assert final["inputs"]["data"]["id"] == data and final["outputs"]["reused"]["metadata"] == ODD
    assert final["status"] == "completed" and final["attempts"] == 2 and final["error"] == "flaky"


def test_the_service_writes_the_generic_json_directly(make: Any, db: Database, stored: Any) -> None:
    run = make.run()
    step = make.step(run["id"], "s", status="pending", parameters=ODD)
    answer = step_json.report_status_json(db, step_run_id=uuid.UUID(step["id"]),
                                          update=StepRunUpdate(status=StepStatus.RUNNING), project="default")
    _same(answer, stored(steps.get_step_run, step_run_id=uuid.UUID(step["id"])).model_dump_json())
    with pytest.raises(ValueError, match="status reports only"):
        step_json.report_status_json(db, step_run_id=uuid.UUID(step["id"]), update=StepRunUpdate(metadata={"a": 1}),
                                     project="default")


def test_status_reports_keep_the_state_machines_answers(
    client: TestClient, make: Any, stored: Any, lean_calls: list[StepRunUpdate]
) -> None:
    run = make.run()
    step = make.step(run["id"], "s", status="pending")
    url = f"/api/v1/steps/{step['id']}"
    assert client.patch(f"/api/v1/steps/{uuid.uuid4()}", json={"status": "running"}).status_code == 404
    elsewhere = client.patch(url, json={"status": "running"}, headers={"X-Runyard-Project": "elsewhere"})
    assert elsewhere.status_code == 404 and elsewhere.json()["error"] == "not_found"
    assert client.patch(url, json={"status": "running"}).status_code == 200
    refused = client.patch(url, json={"status": "pending"})
    assert refused.status_code == 409 and refused.json()["error"] == "invalid_transition"
    first = client.patch(url, json={"status": "completed"})
    again = client.patch(url, json={"status": "completed"})  # a repeated report: the same answer, no change
    assert first.status_code == again.status_code == 200 and first.json() == again.json()
    assert len(lean_calls) == 6
    assert stored(steps.get_step_run, step_run_id=uuid.UUID(step["id"])).status == StepStatus.COMPLETED


@pytest.mark.parametrize(("kwargs", "status"), [
    ({"json": {"status": "bogus"}}, 422),
    ({"json": {"status": "running", "unknown": 1}}, 422),
    ({"content": b"{not json", "headers": {"Content-Type": "application/json"}}, 422),
    ({"content": b'{"status": "running"}', "headers": {"Content-Type": "text/plain"}}, 422),
    ({"json": {"status": "running"}, "headers": {"X-Runyard-Project": "Not A Project!"}}, 422),
    ({"json": {"error": "only an error"}}, 200),
    ({"json": {"status": "running", "metadata": {"a": 1}}}, 200),
])
def test_other_requests_are_answered_by_fastapi(
    client: TestClient, make: Any, lean_calls: list[StepRunUpdate], kwargs: dict[str, Any], status: int
) -> None:
    step = make.step(make.run()["id"], "s", status="pending")
    response = client.patch(f"/api/v1/steps/{step['id']}", **kwargs)
    assert response.status_code == status, response.text
    assert lean_calls == []
    if status == 422:
        assert response.json()["error"] == "invalid_input"


def test_a_database_error_is_answered_by_the_checked_path(
    client: TestClient, make: Any, db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    if not db.url.startswith("postgresql"):
        pytest.skip("the one-statement path is PostgreSQL's")
    step = make.step(make.run()["id"], "s", status="pending")
    # PostgreSQL refuses a NUL in text: the generic route's answer (422), and the step is unchanged
    nul = client.patch(f"/api/v1/steps/{step['id']}", json={"status": "failed", "error": "nul \u0000 byte"})
    assert nul.status_code == 422 and nul.json()["error"] == "invalid_input"

    def lost(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("connection lost")

    monkeypatch.setattr(db, "autocommit_connection", lost)
    answer = client.patch(f"/api/v1/steps/{step['id']}", json={"status": "running"})
    assert answer.status_code == 200 and answer.json()["status"] == "running"


def test_reports_moved_together_answer_each_as_alone(make: Any, db: Database, stored: Any) -> None:
    """``move_statuses_json``: one statement per (status, project) on PostgreSQL; ``None`` where the report's
    own path must answer (elsewhere: always)."""
    run = make.run()
    data = make.finished_step(run["id"], "data")["outputs"]["output"]["id"]
    pending = [make.step(run["id"], f"p{k}", status="pending", inputs={"data": data}) for k in range(3)]
    done = make.finished_step(run["id"], "x")
    ids = [uuid.UUID(s["id"]) for s in pending]
    running = StepRunUpdate(status=StepStatus.RUNNING)
    reports: list[step_json.Report] = [
        (ids[0], running, "default"), (ids[1], running, "default"), (ids[0], running, "default"),  # a repeat
        (ids[2], StepRunUpdate(status=StepStatus.FAILED, error="e"), "default"),  # not status only: alone
        (uuid.UUID(done["id"]), running, "default"),  # refused transition: not moved
        (uuid.uuid4(), running, "default"),  # unknown
        (ids[1], StepRunUpdate(status=StepStatus.SKIPPED), "elsewhere"),  # another project: not moved
    ]
    answers = step_json.move_statuses_json(db, reports)
    if not db.url.startswith("postgresql"):
        assert answers == [None] * len(reports)
        return
    assert [a is not None for a in answers] == [True, True, True, True, False, False, False]
    for (step_run_id, _, _), answer in zip(reports[:4], answers, strict=False):
        assert answer is not None
        _same(answer, stored(steps.get_step_run, step_run_id=step_run_id).model_dump_json())
    assert json.loads(answers[0] or b"")["inputs"]["data"]["id"] == data
    assert answers[0] == answers[2]


def test_queued_reports_go_together_and_each_gets_its_answer(make: Any, db: Database, stored: Any) -> None:
    """The route's coalescer: reports that queue while a batch is in the database go in the next one; each
    request gets its own answer or exception, as the generic route would."""
    import asyncio

    from runyard.exceptions import Conflict, NotFound

    run = make.run()
    pending = [uuid.UUID(make.step(run["id"], f"p{k}", status="pending")["id"]) for k in range(6)]
    finished = uuid.UUID(make.finished_step(run["id"], "x")["id"])

    async def scenario() -> list[Any]:
        coalescer = status_reports._Coalescer(asyncio.get_running_loop(), db)
        running = StepRunUpdate(status=StepStatus.RUNNING)
        calls = [coalescer.report(sid, running, "default") for sid in pending]
        calls += [coalescer.report(finished, running, "default"), coalescer.report(uuid.uuid4(), running, "default")]
        return await asyncio.gather(*calls, return_exceptions=True)

    results = asyncio.run(scenario())
    for sid, answer in zip(pending, results[:6], strict=True):
        assert isinstance(answer, bytes), answer
        _same(answer, stored(steps.get_step_run, step_run_id=sid).model_dump_json())
        assert json.loads(answer)["status"] == "running"
    assert isinstance(results[6], Conflict) and isinstance(results[7], NotFound)
