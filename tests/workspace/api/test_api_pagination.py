"""Keyset pagination over HTTP: newest first, every row exactly once, filters applied on every page."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient


def _all_pages(client: TestClient, path: str, params: dict[str, Any]) -> tuple[list[dict[str, Any]], int]:
    items: list[dict[str, Any]] = []
    cursor: str | None = None
    pages = 0
    while True:
        response = client.get(path, params={**params, **({"cursor": cursor} if cursor else {})})
        assert response.status_code == 200, response.text
        body = response.json()
        assert len(body["items"]) <= params["limit"]
        items.extend(body["items"])
        pages += 1
        cursor = body["next_cursor"]
        if cursor is None:
            return items, pages


def _make_runs(client: TestClient, make: Any) -> list[dict[str, Any]]:
    """Eleven runs over two pipelines, with tags and three statuses, oldest first."""
    snapshots = {name: make.snapshot(make.pipeline(name)["id"])["id"] for name in ("train", "score")}
    runs = []
    for i in range(11):
        pipeline = "train" if i % 3 else "score"
        tags = ["nightly"] if i % 2 == 0 else []
        run = make.run(snapshots[pipeline], name=f"run-{i:02d}{'-special' if i in (4, 7) else ''}", tags=tags)
        if i % 4 == 1:
            run = client.patch(f"/api/v1/runs/{run['id']}", json={"status": "completed"}).json()
        elif i % 4 == 2:
            run = client.patch(f"/api/v1/runs/{run['id']}", json={"status": "failed"}).json()
        runs.append(run)
    return runs


def test_runs_pages_are_newest_first_without_gaps_or_repeats(client: TestClient, make: Any) -> None:
    runs = _make_runs(client, make)
    items, pages = _all_pages(client, "/api/v1/runs", {"limit": 3})
    assert pages == 4
    assert [r["id"] for r in items] == [r["id"] for r in reversed(runs)]


def test_filters_hold_on_every_page(client: TestClient, make: Any) -> None:
    runs = _make_runs(client, make)
    cases: list[tuple[dict[str, Any], Any]] = [
        ({"pipeline": "train"}, lambda r: r["pipeline_name"] == "train"),
        ({"status": "completed"}, lambda r: r["status"] == "completed"),
        ({"tag": "nightly"}, lambda r: "nightly" in r["tags"]),
        ({"name_contains": "special"}, lambda r: "special" in r["name"]),
        ({"pipeline": "train", "status": "running", "tag": "nightly"},
         lambda r: r["pipeline_name"] == "train" and r["status"] == "running" and "nightly" in r["tags"]),
        ({"pipeline_id": runs[1]["pipeline_id"]}, lambda r: r["pipeline_id"] == runs[1]["pipeline_id"]),
        ({"created_after": runs[3]["created"]}, lambda r: r["created"] >= runs[3]["created"]),
        ({"created_before": runs[8]["created"]}, lambda r: r["created"] < runs[8]["created"]),
        ({"created_after": runs[2]["created"], "created_before": runs[9]["created"], "status": "running"},
         lambda r: runs[2]["created"] <= r["created"] < runs[9]["created"] and r["status"] == "running"),
    ]
    for params, keep in cases:
        expected = [r["id"] for r in reversed(runs) if keep(r)]
        assert expected, params  # every case selects something
        items, _ = _all_pages(client, "/api/v1/runs", {"limit": 2, **params})
        assert [r["id"] for r in items] == expected, params


def test_a_filter_matching_nothing_is_one_empty_page(client: TestClient, make: Any) -> None:
    _make_runs(client, make)
    for params in ({"pipeline": "nope"}, {"tag": "nope"}, {"name_contains": "%"}, {"name_contains": "_"}):
        body = client.get("/api/v1/runs", params=params).json()
        assert body == {"items": [], "next_cursor": None}, params


def test_other_lists_page_too(client: TestClient, make: Any) -> None:
    run = make.run()
    for i in range(5):
        make.finished_step(run["id"], f"artifact_{i}")
    for path, params, expected in (
        ("/api/v1/steps", {"run_id": run["id"]}, 5),
        ("/api/v1/artifacts", {}, 5),
        ("/api/v1/artifact-versions", {}, 5),
        ("/api/v1/pipelines", {}, 1),
    ):
        items, pages = _all_pages(client, path, {"limit": 2, **params})
        assert len(items) == expected and len({i["id"] for i in items}) == expected, path
        assert pages == -(-expected // 2), path  # no trailing empty page: the extra row tells
