"""``POST /runs/{id}/cancel``: through the state machine, the runner told on its next step start, 409 when
finished, cross-site requests refused; on SQLite and PostgreSQL."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from fastapi.testclient import TestClient

from runyard.schemas import StepRunFilter
from runyard.workspace.db.engine import Database
from runyard.workspace.db.types import utcnow
from runyard.workspace.services import runs, steps


def test_cancel_a_running_run_then_its_runner_is_refused_new_steps(client: TestClient, make: Any,
                                                                    stored: Any) -> None:
    run = make.run()
    running = make.step(run["id"], "train", status="running")
    pending = make.step(run["id"], "report", status="pending")

    answer = client.post(f"/api/v1/runs/{run['id']}/cancel")
    assert answer.status_code == 200 and answer.json()["status"] == "cancelling"
    assert stored(runs.get_run, run_id=uuid.UUID(run["id"])).status == "cancelling"
    assert client.post(f"/api/v1/runs/{run['id']}/cancel").json()["status"] == "cancelling"  # idempotent

    # the step that was running finishes normally; the registered-but-not-started one was cancelled
    done = client.patch(f"/api/v1/steps/{running['id']}", json={"status": "completed"})
    assert done.status_code == 200 and done.json()["status"] == "completed"
    assert stored(steps.get_step_run, step_run_id=uuid.UUID(pending["id"])).status == "cancelled"

    # a step the runner tries to start now is stored cancelled: that answer is how the runner learns
    refused = make.step(run["id"], "evaluate", status="running")
    assert refused["status"] == "cancelled" and refused["started"] is None
    assert "cancelled before this step started" in refused["error"]
    cached = make.step(run["id"], "cached_one", status="cached")
    assert cached["status"] == "cancelled"
    skipped = make.step(run["id"], "later", status="skipped")  # outcomes are still recorded as they are
    assert skipped["status"] == "skipped"

    # the runner's late "completed" is refused; it ends the run cancelled
    late = client.patch(f"/api/v1/runs/{run['id']}", json={"status": "completed"})
    assert late.status_code == 409
    ended = client.patch(f"/api/v1/runs/{run['id']}", json={"status": "cancelled"})
    assert ended.status_code == 200
    row = stored(runs.get_run, run_id=uuid.UUID(run["id"]))
    assert row.status == "cancelled" and row.ended is not None
    page = stored(steps.list_step_runs, filter=StepRunFilter(run_id=uuid.UUID(run["id"])))
    assert {s.invocation_id: str(s.status) for s in page.items} == {
        "train": "completed", "report": "cancelled", "evaluate": "cancelled", "cached_one": "cancelled",
        "later": "skipped"}


def test_cancel_a_finished_run_is_409_with_the_reason(client: TestClient, make: Any, stored: Any) -> None:
    for final, words in (("completed", "already completed"), ("failed", "already failed")):
        run = make.run()
        client.patch(f"/api/v1/runs/{run['id']}", json={"status": final})
        answer = client.post(f"/api/v1/runs/{run['id']}/cancel")
        assert answer.status_code == 409
        body = answer.json()
        assert words in body["message"] and "runyard run retry" in body["hint"]
        assert stored(runs.get_run, run_id=uuid.UUID(run["id"])).status == final


def test_cancel_a_queued_run_ends_it_at_once(client: TestClient, make: Any) -> None:
    run = make.run(status="queued")
    answer = client.post(f"/api/v1/runs/{run['id']}/cancel")
    assert answer.status_code == 200 and answer.json()["status"] == "cancelled"
    assert answer.json()["ended"] is not None
    assert client.post(f"/api/v1/runs/{run['id']}/cancel").status_code == 409


def test_cancel_unknown_or_malformed_run(client: TestClient) -> None:
    missing = client.post(f"/api/v1/runs/{uuid.uuid4()}/cancel")
    assert missing.status_code == 404 and "No run" in missing.json()["message"]
    assert client.post("/api/v1/runs/not-an-id/cancel").status_code == 422


def test_cross_site_cancel_is_refused(client: TestClient, make: Any, stored: Any) -> None:
    """The request has no body, so a browser would send it from any site without a preflight."""
    run = make.run()
    for headers in ({"Origin": "https://evil.example"}, {"Sec-Fetch-Site": "cross-site"}, {"Origin": "null"}):
        refused = client.post(f"/api/v1/runs/{run['id']}/cancel", headers=headers)
        assert refused.status_code == 403, headers
    assert stored(runs.get_run, run_id=uuid.UUID(run["id"])).status == "running"
    same = client.post(f"/api/v1/runs/{run['id']}/cancel", headers={"Origin": "http://testserver"})
    assert same.status_code == 200


def test_silent_runner_of_a_cancelling_run_is_marked_cancelled(client: TestClient, make: Any, db: Database,
                                                               stored: Any) -> None:
    run = make.run()
    client.post(f"/api/v1/runs/{run['id']}/cancel")
    with db.session(write=True) as session:
        marked = runs.fail_silent_runs(session, timeout=timedelta(seconds=30), now=utcnow() + timedelta(minutes=5))
    assert uuid.UUID(run["id"]) in marked
    row = stored(runs.get_run, run_id=uuid.UUID(run["id"]))
    assert row.status == "cancelled" and "after the cancel request" in (row.error or "")
