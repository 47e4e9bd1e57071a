"""``GET /runs/{id}/steps``: a run's step page, each artifact version once, equal to ``GET /steps`` inline."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi.testclient import TestClient

from runyard.schemas import RunStepsPage, StepRunRead
from runyard.schemas.base import PageRequest
from runyard.workspace.services import steps


def _chain(make: Any, run_id: str, n: int) -> list[dict[str, Any]]:
    """``n`` completed steps, each reading the previous one's output version (as a pipeline chain does)."""
    done: list[dict[str, Any]] = []
    for k in range(n):
        inputs = {"data": done[-1]["outputs"]["output"]["id"]} if done else {}
        step = make.step(run_id, f"s{k}", inputs=inputs)
        done.append(make._ok("PATCH", f"/steps/{step['id']}", json={
            "status": "completed", "new_outputs": [make.output(f"chain.s{k}")], "metadata": {"k": k},
        }))
    return done


def test_run_steps_pages_list_each_version_once_and_match_the_inline_route(
    client: TestClient, make: Any, stored: Any
) -> None:
    run = make.run()
    done = _chain(make, run["id"], 5)
    make.step(make.run()["id"], "other_run")  # another run's step stays out

    first = client.get(f"/api/v1/runs/{run['id']}/steps", params={"limit": 3})
    assert first.status_code == 200
    body = first.json()
    assert [s["invocation_id"] for s in body["items"]] == ["s0", "s1", "s2"]  # run order
    # s1 reads s0's output and writes its own: each version is listed once, steps name it by id
    assert body["items"][1]["inputs"] == {"data": done[0]["outputs"]["output"]["id"]}
    assert body["items"][1]["outputs"] == {"output": done[1]["outputs"]["output"]["id"]}
    assert sorted(body["artifact_versions"]) == sorted(d["outputs"]["output"]["id"] for d in done[:3])
    second = client.get(f"/api/v1/runs/{run['id']}/steps", params={"limit": 3, "cursor": body["next_cursor"]})
    assert [s["invocation_id"] for s in second.json()["items"]] == ["s3", "s4"]
    assert second.json()["next_cursor"] is None
    # s3's input is s2's output, which the second page lists again (pages stand alone)
    assert done[2]["outputs"]["output"]["id"] in second.json()["artifact_versions"]

    # expanded, the pages are exactly what the inline route and the service's single read return
    expanded = [*RunStepsPage.model_validate(body).step_runs(), *RunStepsPage.model_validate(second.json()).step_runs()]
    inline = client.get("/api/v1/steps", params={"run_id": run["id"], "limit": 500}).json()["items"]
    assert [s.model_dump(mode="json") for s in expanded] == list(reversed(inline))
    kept = [stored(steps.get_step_run, step_run_id=uuid.UUID(d["id"])) for d in done]
    assert expanded == kept
    assert expanded[4].metadata == {"k": 4} and expanded[4].inputs["data"].name == "chain.s3"


def test_run_steps_in_process_equals_http(client: TestClient, make: Any, stored: Any) -> None:
    run = make.run()
    _chain(make, run["id"], 2)
    page = stored(steps.list_run_steps, run_id=uuid.UUID(run["id"]), page=PageRequest(limit=10))
    assert page.model_dump(mode="json") == client.get(f"/api/v1/runs/{run['id']}/steps").json()
    assert all(isinstance(s, StepRunRead) for s in page.step_runs())


def test_run_steps_of_an_unknown_run_or_another_project_is_404(client: TestClient, make: Any) -> None:
    missing = client.get(f"/api/v1/runs/{uuid.uuid4()}/steps")
    assert missing.status_code == 404 and "No run with id" in missing.json()["message"]
    run = make.run()
    other = client.get(f"/api/v1/runs/{run['id']}/steps", headers={"X-Runyard-Project": "elsewhere"})
    assert other.status_code == 404


def test_run_steps_bad_paging_is_a_clear_422_or_400(client: TestClient, make: Any) -> None:
    run = make.run()
    assert client.get(f"/api/v1/runs/{run['id']}/steps", params={"limit": 501}).status_code == 422
    bad = client.get(f"/api/v1/runs/{run['id']}/steps", params={"cursor": "not-a-cursor"})
    assert bad.status_code in (400, 422) and "cursor" in bad.text
    assert client.get("/api/v1/runs/not-a-uuid/steps").status_code == 422


def test_run_without_steps_has_an_empty_page(client: TestClient, make: Any) -> None:
    run = make.run()
    assert client.get(f"/api/v1/runs/{run['id']}/steps").json() == {
        "items": [], "artifact_versions": {}, "next_cursor": None}
