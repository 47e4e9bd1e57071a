"""The HTTP transport: same results and same errors as in-process; retries, versions, auth, forks."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from runyard import exceptions as ex
from runyard import schemas as s
from runyard.client.http import HTTPTransport, normalize_url
from runyard.client.operations import operation, operations
from runyard.client.workspace_api import WorkspaceAPI
from runyard.schemas.base import SCHEMA_VERSION, PageRequest
from runyard.schemas.logs import LogQuery

HEADERS = {"X-Runyard-Schema-Version": str(SCHEMA_VERSION)}


def _normalized(value: Any, suffix: str, *ids: uuid.UUID) -> Any:
    text = json.dumps(value, default=str, sort_keys=True).replace(suffix, "SUFFIX")
    for i, id_ in enumerate(ids):
        text = text.replace(str(id_), f"ID{i}")
    return json.loads(text)


def _scenario(api: WorkspaceAPI, suffix: str) -> Any:
    """Every operation once (unique names, so two runs can share a database); what a user would see."""
    flow, data, par, mine = f"flow_{suffix}", f"data/set_{suffix}", f"par_{suffix}", f"mine_{suffix}"
    stack = api.get_stack("default")
    pipeline = api.create_pipeline(s.PipelineCreate(name=flow, docstring="doc"))
    snapshot = api.create_snapshot(s.SnapshotCreate(id=uuid.uuid4(), pipeline_id=pipeline.id, stack_id=stack.id,
                                                    spec={"a": 1}, spec_hash="h"))
    run = api.create_run(s.RunCreate(id=uuid.uuid4(), snapshot_id=snapshot.id, status=s.RunStatus.RUNNING,
                                     tags=["t 1", f"ü/ñ{suffix}"], parameters={"x": [1, 2]}))
    step = api.create_step_run(s.StepRunCreate(id=uuid.uuid4(), run_id=run.id, invocation_id="load",
                                               step_name="load", cache_key=f"k{suffix}"))
    version = s.ArtifactVersionCreate(id=uuid.uuid4(), name=data, output_name="out", uri="file:///x",
                                      content_hash="c", size=1, materializer="m", data_type="int")
    done = api.update_step_run(step.id, s.StepRunUpdate(status=s.StepStatus.COMPLETED, new_outputs=[version],
                                                        metadata={"rows": 3}))
    api.add_metadata(s.MetadataCreate(resource_type=s.ResourceType.RUN, resource_id=run.id, values={"m": 1.5}))
    api.update_run(run.id, s.RunUpdate(status=s.RunStatus.COMPLETED, add_tags=["done"]))
    component = api.create_component(s.ComponentCreate(name=par, type="orchestrator", flavor="local_parallel"))
    api.update_component("orchestrator", par, s.ComponentUpdate(config={"max_workers": 2}))
    api.create_stack(s.StackCreate(name=mine, components={"orchestrator": par, "artifact_store": "default"}))
    api.update_stack(mine, s.StackUpdate(components={"orchestrator": "default"}))
    assert version.id is not None
    seen = {
        "pipeline": api.get_pipeline(flow).model_dump(exclude={"id", "created"}),
        "pipelines": [p.name for p in api.list_pipelines(s.PipelineFilter(name_contains=suffix)).items],
        "snapshot": api.get_snapshot(snapshot.id).spec,
        "run": api.get_run(run.id).model_dump(include={"status", "tags", "parameters", "metadata", "pipeline_name"}),
        "runs": [r.id == run.id for r in api.list_runs(s.RunFilter(tag=f"ü/ñ{suffix}", status="completed")).items],
        "step": done.model_dump(include={"status", "metadata", "invocation_id"}) | {"out": done.outputs["out"].name},
        "steps": [x.invocation_id for x in api.list_step_runs(s.StepRunFilter(run_id=run.id)).items],
        "cache": api.lookup_cache(s.CacheLookup(cache_key=f"k{suffix}", invocation_id="load",
                                                pipeline_id=pipeline.id)).hit is not None,
        "artifacts": [a.name for a in api.list_artifacts(PageRequest(limit=500)).items if suffix in a.name],
        "version": api.get_artifact_version(data, 1).model_dump(include={"name", "version", "metadata"}),
        "versions": len(api.list_artifact_versions(s.ArtifactVersionFilter(run_id=run.id)).items),
        "lineage": api.get_lineage(version.id).producer is not None,
        "component": api.get_component("orchestrator", str(component.id)).config,
        "components": [c.name for c in api.list_components("orchestrator")],
        "stacks": sorted(x.name for x in api.list_stacks()),
        "logs": api.read_logs(run.id, LogQuery()).lines,
    }
    api.delete_stack(mine)
    api.delete_component("orchestrator", par)
    api.delete_run(run.id)
    api.delete_pipeline(flow)
    seen["after_delete"] = [p.name for p in api.list_pipelines(s.PipelineFilter(name_contains=suffix)).items]
    return _normalized(seen, suffix, run.id)


def test_every_operation_gives_the_same_answer_over_http_and_in_process(
    http_api: WorkspaceAPI, local_api: WorkspaceAPI
) -> None:
    over_http = _scenario(http_api, "zq1")
    in_process = _scenario(local_api, "zq2")
    assert over_http == in_process
    assert over_http["step"]["out"] == "data/set_SUFFIX" and over_http["runs"] == [True] and over_http["cache"]


def _failures(api: WorkspaceAPI, suffix: str) -> Any:
    missing = uuid.UUID(int=7)
    api.get_stack("default")
    api.create_component(s.ComponentCreate(name=f"dup{suffix}", type="orchestrator", flavor="local"))
    pipeline = api.create_pipeline(s.PipelineCreate(name=f"p{suffix}"))
    snapshot = api.create_snapshot(s.SnapshotCreate(pipeline_id=pipeline.id, spec={}, spec_hash="h"))
    run = api.create_run(s.RunCreate(snapshot_id=snapshot.id, status=s.RunStatus.RUNNING))
    api.update_run(run.id, s.RunUpdate(status=s.RunStatus.COMPLETED))
    calls: list[Callable[[], Any]] = [
        lambda: api.get_run(missing),
        lambda: api.get_pipeline(f"nope{suffix}"),
        lambda: api.get_artifact_version(f"nope{suffix}", 2),
        lambda: api.create_run(s.RunCreate(snapshot_id=missing)),
        lambda: api.create_stack(s.StackCreate(name=f"s{suffix}", components={"orchestrator": "default"})),
        lambda: api.delete_stack("default"),
        lambda: api.list_runs(s.RunFilter(cursor="garbage")),
        lambda: api.add_metadata(s.MetadataCreate(resource_type=s.ResourceType.RUN, resource_id=missing,
                                                  values={"a": 1})),
        lambda: api.create_component(s.ComponentCreate(name=f"dup{suffix}", type="orchestrator", flavor="local")),
        lambda: api.update_run(run.id, s.RunUpdate(status=s.RunStatus.RUNNING)),
        lambda: api.update_step_run(missing, s.StepRunUpdate(status=s.StepStatus.FAILED)),
    ]
    found = []
    for call in calls:
        with pytest.raises(ex.RunyardError) as caught:
            call()
        found.append((type(caught.value).__name__, caught.value.message, caught.value.hint))
    return _normalized(found, suffix, run.id)


def test_errors_are_the_same_exceptions_over_http_and_in_process(
    http_api: WorkspaceAPI, local_api: WorkspaceAPI
) -> None:
    over_http = _failures(http_api, "zq1")
    assert over_http == _failures(local_api, "zq2")
    assert [kind for kind, _, _ in over_http] == [
        "NotFound", "NotFound", "NotFound", "NotFound", "InvalidInput", "InvalidInput", "InvalidInput", "NotFound",
        "Conflict", "InvalidTransition", "NotFound",
    ]


def test_retried_post_whose_answer_was_lost_stores_one_row(test_client: TestClient, local_api: WorkspaceAPI) -> None:
    """The server handles the request, the answer is lost; the retry with the same id finds the row."""
    calls: list[str] = []

    def lose_first_answer(request: httpx.Request) -> httpx.Response:
        forwarded = test_client.request(request.method, str(request.url), content=request.content,
                                        headers=dict(request.headers))
        calls.append(request.method)
        if len(calls) == 1:
            raise httpx.ReadTimeout("answer lost", request=request)
        return httpx.Response(forwarded.status_code, headers=forwarded.headers, content=forwarded.content)

    api = WorkspaceAPI(HTTPTransport("http://testserver", retries=3, backoff=0,
                                     client=httpx.Client(transport=httpx.MockTransport(lose_first_answer),
                                                         base_url="http://testserver")))
    created = api.create_pipeline(s.PipelineCreate(name="once"))
    snapshot = local_api.create_snapshot(s.SnapshotCreate(pipeline_id=created.id, spec={}, spec_hash="h"))
    calls.clear()
    run = api.create_run(s.RunCreate(id=uuid.uuid4(), snapshot_id=snapshot.id))
    assert calls == ["POST", "POST"]
    assert [r.id for r in local_api.list_runs(s.RunFilter()).items] == [run.id]
    calls.clear()
    api.delete_run(run.id)  # deleted on the first try, 404 on the retry: still a success
    assert calls == ["DELETE", "DELETE"]
    assert local_api.list_runs(s.RunFilter()).items == []


def _mock_api(handler: Callable[[httpx.Request], httpx.Response], **kwargs: Any) -> tuple[HTTPTransport, WorkspaceAPI]:
    transport = HTTPTransport("http://server.test", backoff=0, **kwargs,
                              client=httpx.Client(transport=httpx.MockTransport(handler), base_url="http://server.test"))
    return transport, WorkspaceAPI(transport)


def _stack_json() -> dict[str, Any]:
    return {"id": str(uuid.uuid4()), "created": "2024-01-01T00:00:00Z", "name": "default", "components": {}}


def test_retries_5xx_and_connection_errors_then_succeeds() -> None:
    answers: list[Any] = [httpx.ConnectError("refused"), httpx.Response(503, headers=HEADERS),
                          httpx.Response(502), httpx.Response(200, headers=HEADERS, json=_stack_json())]

    def handler(request: httpx.Request) -> httpx.Response:
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer  # type: ignore[no-any-return]

    _, api = _mock_api(handler, retries=5)
    assert api.get_stack("default").name == "default"
    assert answers == []


def test_gives_up_after_the_retries_with_a_clear_error() -> None:
    attempts = []

    def refuse(request: httpx.Request) -> httpx.Response:
        attempts.append(request)
        raise httpx.ConnectError("connection refused")

    _, api = _mock_api(refuse, retries=2)
    with pytest.raises(ex.ServerUnavailable) as caught:
        api.get_stack("default")
    assert len(attempts) == 3
    assert "http://server.test" in caught.value.message and "runyard up" in (caught.value.hint or "")

    _, failing = _mock_api(lambda r: httpx.Response(500, headers=HEADERS, json={"error": "internal_error",
                                                                                "message": "boom (request 1)"}),
                           retries=1)
    with pytest.raises(ex.RunyardError) as server_error:
        failing.get_stack("default")
    assert "boom (request 1)" in server_error.value.message


def test_4xx_is_not_retried() -> None:
    attempts = []

    def not_found(request: httpx.Request) -> httpx.Response:
        attempts.append(request)
        return httpx.Response(404, headers=HEADERS, json={"error": "not_found", "message": "No such.", "hint": "h"})

    _, api = _mock_api(not_found, retries=5)
    with pytest.raises(ex.NotFound) as caught:
        api.get_stack("x")
    assert len(attempts) == 1 and caught.value.message == "No such." and caught.value.hint == "h"


@pytest.mark.parametrize(("status", "body", "expected"), [
    (409, {"error": "invalid_transition", "message": "m"}, ex.InvalidTransition),
    (403, {"error": "permission_denied", "message": "m"}, ex.PermissionDenied),
    (401, {"error": "unauthenticated", "message": "m"}, ex.Unauthenticated),
    (422, {"error": "invalid_input", "message": "m"}, ex.InvalidInput),
    (426, {"error": "version_mismatch", "message": "m"}, ex.VersionMismatch),
    (409, {"error": "some_future_code", "message": "m"}, ex.Conflict),
    (413, {"error": "payload_too_large", "message": "m"}, ex.InvalidInput),
    (418, "not json at all", ex.RunyardError),
])
def test_error_bodies_become_the_domain_exception(status: int, body: Any, expected: type[Exception]) -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        if isinstance(body, str):
            return httpx.Response(status, headers=HEADERS, text=body)
        return httpx.Response(status, headers=HEADERS, json=body)

    _, api = _mock_api(answer, retries=0)
    with pytest.raises(expected) as caught:
        api.get_stack("default")
    assert type(caught.value) is expected


def test_a_server_with_another_schema_version_is_refused_clearly() -> None:
    def newer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, headers={"X-Runyard-Schema-Version": str(SCHEMA_VERSION + 1),
                                            "X-Runyard-Version": "9.9.9"}, json=_stack_json())

    _, api = _mock_api(newer, retries=0)
    with pytest.raises(ex.VersionMismatch) as caught:
        api.get_stack("default")
    assert f"schema version {SCHEMA_VERSION + 1}" in caught.value.message
    assert "runyard==9.9.9" in (caught.value.hint or "")


def test_something_that_is_not_a_runyard_server_is_named_as_such() -> None:
    _, api = _mock_api(lambda r: httpx.Response(200, json=_stack_json()), retries=0)
    with pytest.raises(ex.ServerUnavailable, match="does not look like a Runyard"):
        api.get_stack("default")


def test_requests_carry_the_api_key_and_schema_version_and_build_params_from_the_operation() -> None:
    seen: list[httpx.Request] = []

    def record(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, headers=HEADERS, json={"items": [], "next_cursor": None})

    _, api = _mock_api(record, api_key="ry_secret", retries=0)
    api.list_runs(s.RunFilter(pipeline="a b&c", status=s.RunStatus.FAILED, limit=7))
    request = seen[0]
    assert request.headers["Authorization"] == "Bearer ry_secret"
    assert request.headers["X-Runyard-Schema-Version"] == str(SCHEMA_VERSION)
    assert request.url.path == "/api/v1/runs"
    assert dict(request.url.params) == {  # None dropped, defaults sent
        "pipeline": "a b&c", "status": "failed", "limit": "7", "sort": "newest",
    }

    _, anonymous = _mock_api(record, retries=0)
    anonymous.list_step_runs(s.StepRunFilter())
    assert "Authorization" not in seen[1].headers


def test_path_parameters_are_escaped() -> None:
    seen: list[httpx.Request] = []

    def record(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(404, headers=HEADERS, json={"error": "not_found", "message": "m"})

    _, api = _mock_api(record, retries=0)
    with pytest.raises(ex.NotFound):
        api.get_artifact_version("a/b?c#d", 3)
    assert seen[0].url.raw_path == b"/api/v1/artifact-versions/a%2Fb%3Fc%23d?version=3"


def test_stream_operations_are_not_for_this_client() -> None:
    transport, _ = _mock_api(lambda r: httpx.Response(500), retries=0)
    streams = [op for op in operations().values() if getattr(op, "stream", False)]
    for op in streams:
        with pytest.raises(ex.InvalidInput):
            transport.invoke(op, run_id=uuid.uuid4())


def test_for_new_process_gives_an_independent_transport_with_the_same_settings() -> None:
    transport = HTTPTransport("http://h:1/api/v1/", api_key="k", timeout=3, retries=2)
    fresh = transport.for_new_process()
    assert isinstance(fresh, HTTPTransport) and fresh is not transport
    assert (fresh.url, fresh.api_key, fresh.timeout, fresh.retries) == ("http://h:1", "k", 3, 2)
    assert fresh._client is None  # opens its own connections in the child


def test_url_normalization() -> None:
    assert normalize_url("http://127.0.0.1:8080/") == "http://127.0.0.1:8080"
    assert normalize_url(" https://ry.example.com/api/v1 ") == "https://ry.example.com"
    with pytest.raises(ex.InvalidInput):
        normalize_url("127.0.0.1:8080")


def test_health(test_client: TestClient) -> None:
    info = HTTPTransport("http://testserver", client=test_client).health()
    assert info["status"] == "ok" and info["schema_version"] == SCHEMA_VERSION

    transport, _ = _mock_api(lambda r: httpx.Response(503, headers=HEADERS, json={
        "status": "unavailable", "database": "unavailable", "version": "x", "schema_version": SCHEMA_VERSION}))
    with pytest.raises(ex.ServerUnavailable, match="database"):
        transport.health()
    other, _ = _mock_api(lambda r: httpx.Response(200, text="<html>hello</html>"))
    with pytest.raises(ex.ServerUnavailable, match="not like a Runyard"):
        other.health()


def test_operation_arguments_missing_a_path_parameter_are_a_type_error() -> None:
    transport, _ = _mock_api(lambda r: httpx.Response(500), retries=0)
    with pytest.raises(TypeError, match="run_id"):
        transport.invoke(operation("runs-get"))


def test_import_runyard_stays_light() -> None:
    code = ("import sys, runyard, runyard.client.http, runyard.client.connection; "
            "heavy = [m for m in ('httpx', 'fastapi', 'starlette', 'uvicorn', 'prometheus_client') "
            "if m in sys.modules]; print(heavy); sys.exit(1 if heavy else 0)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
