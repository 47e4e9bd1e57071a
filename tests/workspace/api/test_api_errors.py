"""Bad input is a 4xx with a readable body, never a 5xx; unexpected failures are a generic 500."""

from __future__ import annotations

import logging
import uuid
from typing import Any
from urllib.parse import quote

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from runyard.schemas import RunFilter
from runyard.schemas.base import SCHEMA_VERSION
from runyard.workspace.app import create_app
from runyard.workspace.services import runs

HOSTILE_STRINGS = ["' OR 1=1 --", "'; DROP TABLE runs; --", "../../etc/passwd", "%", "_", "\\", "a/b", "%2F",
                   "\u202e", "😀", "<script>", "x" * 200]


def _assert_error(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert body["error"] == code and body["message"]
    assert "Traceback" not in response.text
    return body


@pytest.mark.parametrize(("content", "where"), [
    (b"{not json", "body"),
    (b"", "body"),
    (b"[1, 2]", "body"),
    (b'{"name": 5}', "name"),
    (b'{"name": "ok", "unknown": 1}', "unknown"),
    (b'{"name": null}', "name"),
    (b"\xff\xfe", "body"),
])
def test_malformed_or_mistyped_bodies_are_422(client: TestClient, content: bytes, where: str) -> None:
    response = client.post("/api/v1/pipelines", content=content, headers={"Content-Type": "application/json"})
    body = _assert_error(response, 422, "invalid_input")
    assert where in body["message"]


@pytest.mark.parametrize("params", [
    {"limit": 0}, {"limit": 501}, {"limit": -1}, {"limit": "ten"}, {"limit": 10**30},
    {"status": "exploded"}, {"pipeline_id": "not-a-uuid"}, {"created_after": "yesterday"},
    {"unknown_filter": "x"}, {"name_contains": "x" * 201},
])
def test_bad_query_parameters_are_422(client: TestClient, params: dict[str, Any]) -> None:
    _assert_error(client.get("/api/v1/runs", params=params), 422, "invalid_input")


@pytest.mark.parametrize("cursor", ["garbage", "Zm9v", "!!!", "x" * 201, "MjAyNC0wMS0wMXxub3RoZXg"])
def test_bad_cursor_is_422_with_a_hint(client: TestClient, cursor: str) -> None:
    body = _assert_error(client.get("/api/v1/runs", params={"cursor": cursor}), 422, "invalid_input")
    assert "cursor" in body["message"]


def test_hostile_strings_in_filters_and_paths_are_harmless(client: TestClient, make: Any, stored: Any) -> None:
    make.run()
    for value in HOSTILE_STRINGS:
        for path, params in (("/api/v1/runs", {"name_contains": value}), ("/api/v1/runs", {"pipeline": value}),
                             ("/api/v1/runs", {"tag": value}), ("/api/v1/pipelines", {"name_contains": value}),
                             ("/api/v1/artifact-versions", {"name": value})):
            response = client.get(path, params=params)
            assert response.status_code in (200, 422), (path, value, response.text)
        if "%" in value:
            continue  # the test client percent-decodes paths twice; a real server decodes once
        for path in ("/api/v1/pipelines/", "/api/v1/stacks/", "/api/v1/artifact-versions/",
                     "/api/v1/components/orchestrator/"):
            response = client.get(path + quote(value, safe=""))
            assert response.status_code in (404, 422), (path, value, response.text)
    assert len(stored(runs.list_runs, filter=RunFilter()).items) == 1  # nothing dropped, nothing added


def test_nul_characters_are_refused_not_a_crash(client: TestClient) -> None:
    for response in (client.get("/api/v1/pipelines/a%00b"), client.get("/api/v1/runs", params={"tag": "a\x00b"}),
                     client.post("/api/v1/pipelines", json={"name": "ok", "docstring": "a\x00b"})):
        assert response.status_code < 500, response.text


def test_huge_body_is_413(client: TestClient) -> None:
    huge = b'{"name": "x", "docstring": "' + b"a" * (11 * 1024 * 1024) + b'"}'
    body = _assert_error(client.post("/api/v1/pipelines", content=huge,
                                     headers={"Content-Type": "application/json"}), 413, "payload_too_large")
    assert "MiB" in body["message"]


def test_huge_chunked_body_is_413(database_url: str) -> None:
    app = create_app(database_url, max_body_bytes=1000)

    def chunks() -> Any:
        for _ in range(20):
            yield b"a" * 100

    with TestClient(app) as small:
        response = small.post("/api/v1/pipelines", content=chunks(), headers={"Content-Type": "application/json"})
        _assert_error(response, 413, "payload_too_large")
        assert small.post("/api/v1/pipelines", json={"name": "fits"}).status_code == 201


def test_unknown_route_and_method_are_json_errors(client: TestClient) -> None:
    body = _assert_error(client.get("/api/v1/nothing-here"), 404, "not_found")
    assert "/api/v1/nothing-here" in body["message"]
    _assert_error(client.put("/api/v1/runs", json={}), 405, "method_not_allowed")
    _assert_error(client.get("/api/v1/runs/not-a-uuid"), 422, "invalid_input")


def test_unexpected_errors_are_a_generic_500_and_logged(
    app: FastAPI, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def explode(*_: Any, **__: Any) -> None:
        raise RuntimeError("secret detail /srv/db password=hunter2")

    monkeypatch.setattr(runs, "get_run", explode)
    with TestClient(app, raise_server_exceptions=False) as client, caplog.at_level(logging.ERROR, "runyard.server"):
        response = client.get(f"/api/v1/runs/{uuid.uuid4()}")
    body = _assert_error(response, 500, "internal_error")
    assert "hunter2" not in response.text and "RuntimeError" not in response.text
    assert "request" in body["message"]
    assert "hunter2" in caplog.text  # the log has it, for the operator
    assert response.headers["x-runyard-schema-version"] == str(SCHEMA_VERSION)


def test_a_deadlock_victim_is_a_503_that_says_to_send_it_again(app: FastAPI, monkeypatch: pytest.MonkeyPatch) -> None:
    """A route that does not run its transaction again itself (the step routes do) says what happened."""
    import pymysql
    from sqlalchemy.exc import OperationalError

    def deadlocked(*_: Any, **__: Any) -> None:
        raise OperationalError("UPDATE runs ...", {}, pymysql.err.OperationalError(1213, "Deadlock found"))

    monkeypatch.setattr(runs, "get_run", deadlocked)
    with TestClient(app, raise_server_exceptions=False) as client:
        response = client.get(f"/api/v1/runs/{uuid.uuid4()}")
    body = _assert_error(response, 503, "database_conflict")
    assert "deadlock" in body["message"] and "nothing of it was stored" in body["message"]
    assert response.headers["retry-after"] == "1"


def test_every_response_carries_the_schema_version(client: TestClient) -> None:
    for response in (client.get("/health"), client.get("/api/v1/runs"), client.get("/api/v1/nothing"),
                     client.get("/metrics"), client.post("/api/v1/pipelines", content=b"{")):
        assert response.headers["x-runyard-schema-version"] == str(SCHEMA_VERSION)


def test_a_client_with_another_schema_version_is_refused_before_any_write(client: TestClient, stored: Any) -> None:
    response = client.post("/api/v1/pipelines", json={"name": "from_the_future"},
                           headers={"X-Runyard-Schema-Version": str(SCHEMA_VERSION + 1)})
    body = _assert_error(response, 426, "version_mismatch")
    assert "pip install" in body["hint"]
    from runyard.schemas import PipelineFilter
    from runyard.workspace.services import pipelines

    assert stored(pipelines.list_pipelines, filter=PipelineFilter()).items == []
    assert client.get("/health", headers={"X-Runyard-Schema-Version": "999"}).status_code == 200


def test_nan_metadata_does_not_break_reads(client: TestClient, make: Any) -> None:
    run = make.run()
    client.post("/api/v1/metadata", content=b'{"resource_type": "run", "resource_id": "%s", "values": {"loss": NaN}}'
                % run["id"].encode(), headers={"Content-Type": "application/json"})
    assert client.get(f"/api/v1/runs/{run['id']}").status_code == 200


def test_405_lists_every_method_of_the_path(client: TestClient) -> None:
    response = client.put("/api/v1/runs", json={})
    assert response.status_code == 405 and response.headers["allow"] == "GET, POST"
    lookup = client.patch("/api/v1/steps/cache-lookup", json={})
    assert lookup.status_code == 405 and lookup.headers["allow"] == "POST"
