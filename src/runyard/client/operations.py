"""The workspace API, declared once.

Each :class:`Operation` names its service function, its HTTP method and path, and whether it writes.
The in-process transport calls the service function directly; the HTTP transport sends the request the
Workspace Server routes to that same function. A test checks that every operation has exactly that route.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any

#: Where the response models named in the table live (``runyard.schemas`` loads each name on first use).
_SCHEMA_MODULES = ("runyard.schemas", "runyard.schemas.logs", "runyard.schemas.secrets")
_RESOLVED: dict[str, Any] = {}


def response_type(spec: str) -> Any:
    """The pydantic type a response spec names: ``"RunRead"``, ``"Page[RunRead]"``, ``"list[StackRead]"``.

    Specs are strings so that reading the table builds no model: a pipeline process decodes answers into
    plain records (:mod:`runyard.client.records`) and never needs the pydantic side."""
    found = _RESOLVED.get(spec)
    if found is not None:
        return found
    outer, _, inner = spec.partition("[")
    if inner:
        item = response_type(inner.rstrip("]"))
        if outer == "list":
            found = list[item]  # type: ignore[valid-type]
        else:
            from runyard.schemas.base import Page

            found = Page[item]  # type: ignore[valid-type]
    else:
        for module in _SCHEMA_MODULES:
            found = getattr(importlib.import_module(module), spec, None)
            if found is not None:
                break
        if found is None:
            raise LookupError(f"No schema named {spec!r} for an operation's response.")
    _RESOLVED[spec] = found
    return found


@dataclass(frozen=True)
class Operation:
    id: str
    method: str
    path: str
    service: str
    write: bool
    #: The response's schema by name (see :func:`response_type`); ``None``: the operation answers nothing.
    response_spec: str | None = None
    body: str | None = None
    query: str | None = None
    #: Served as a Server-Sent Events stream (for browsers and `curl`); clients poll the range operation.
    stream: bool = False
    #: Works inside one project: the client passes ``project`` (in-process: to the service function;
    #: over HTTP: as the ``X-Runyard-Project`` header).
    scoped: bool = True

    @property
    def response(self) -> Any:
        """The response's pydantic type (built on first use), or ``None``."""
        return None if self.response_spec is None else response_type(self.response_spec)


def _op(
    id: str,
    method: str,
    path: str,
    service: str,
    *,
    response: str | None = None,
    body: str | None = None,
    query: str | None = None,
    scoped: bool = True,
) -> Operation:
    return Operation(
        id=id,
        method=method,
        path=path,
        service=service,
        write=method != "GET",
        response_spec=response,
        body=body,
        query=query,
        scoped=scoped,
    )


def _build() -> dict[str, Operation]:
    svc = "runyard.workspace.services."
    ops = [
        _op(
            "pipelines-create",
            "POST",
            "/pipelines",
            svc + "pipelines:get_or_create_pipeline",
            response="PipelineRead",
            body="pipeline",
        ),
        _op("pipelines-get", "GET", "/pipelines/{name_or_id}", svc + "pipelines:get_pipeline", response="PipelineRead"),
        _op(
            "pipelines-list",
            "GET",
            "/pipelines",
            svc + "pipelines:list_pipelines",
            response="Page[PipelineRead]",
            query="filter",
        ),
        _op("pipelines-delete", "DELETE", "/pipelines/{name_or_id}", svc + "pipelines:delete_pipeline"),
        _op(
            "snapshots-create",
            "POST",
            "/snapshots",
            svc + "pipelines:create_snapshot",
            response="SnapshotRead",
            body="snapshot",
        ),
        _op(
            "snapshots-get", "GET", "/snapshots/{snapshot_id}", svc + "pipelines:get_snapshot", response="SnapshotRead"
        ),
        _op("runs-create", "POST", "/runs", svc + "runs:create_run", response="RunRead", body="run"),
        _op("runs-get", "GET", "/runs/{run_id}", svc + "runs:get_run", response="RunRead"),
        _op("runs-list", "GET", "/runs", svc + "runs:list_runs", response="Page[RunRead]", query="filter"),
        _op("runs-update", "PATCH", "/runs/{run_id}", svc + "runs:update_run", response="RunRead", body="update"),
        _op("runs-delete", "DELETE", "/runs/{run_id}", svc + "runs:delete_run"),
        _op("runs-cancel", "POST", "/runs/{run_id}/cancel", svc + "runs:cancel_run", response="RunRead"),
        _op("steps-create", "POST", "/steps", svc + "steps:create_step_run", response="StepRunRead", body="step"),
        _op("steps-get", "GET", "/steps/{step_run_id}", svc + "steps:get_step_run", response="StepRunRead"),
        _op("steps-list", "GET", "/steps", svc + "steps:list_step_runs", response="Page[StepRunRead]", query="filter"),
        _op(
            "steps-list_of_run",
            "GET",
            "/runs/{run_id}/steps",
            svc + "steps:list_run_steps",
            response="RunStepsPage",
            query="page",
        ),
        _op(
            "steps-update",
            "PATCH",
            "/steps/{step_run_id}",
            svc + "steps:update_step_run",
            response="StepRunRead",
            body="update",
        ),
        _op(
            "steps-cache_lookup",
            "POST",
            "/steps/cache-lookup",
            svc + "steps:lookup_cache",
            response="CacheLookupResult",
            body="lookup",
        ),
        _op(
            "artifacts-list",
            "GET",
            "/artifacts",
            svc + "artifacts:list_artifacts",
            response="Page[ArtifactRead]",
            query="page",
        ),
        _op(
            "artifact_versions-get",
            "GET",
            "/artifact-versions/{name_or_id}",
            svc + "artifacts:get_artifact_version",
            response="ArtifactVersionRead",
        ),
        _op(
            "artifact_versions-list",
            "GET",
            "/artifact-versions",
            svc + "artifacts:list_artifact_versions",
            response="Page[ArtifactVersionRead]",
            query="filter",
        ),
        _op(
            "artifact_versions-lineage",
            "GET",
            "/artifact-versions/{version_id}/lineage",
            svc + "artifacts:get_lineage",
            response="LineageRead",
        ),
        _op(
            "logs-append", "POST", "/runs/{run_id}/logs", svc + "logs:append_logs", response="LogStreamRead",
            body="batch",
        ),
        Operation(
            id="logs-stream",
            method="GET",
            path="/runs/{run_id}/logs/stream",
            service=svc + "logs:follow_events",
            write=False,
            stream=True,
        ),
        _op("logs-read", "GET", "/runs/{run_id}/logs", svc + "logs:read_logs", response="LogPage", query="query"),
        _op("metadata-create", "POST", "/metadata", svc + "metadata:add_metadata", body="metadata"),
        _op("stacks-create", "POST", "/stacks", svc + "stacks:create_stack", response="StackRead", body="stack"),
        _op("stacks-get", "GET", "/stacks/{name_or_id}", svc + "stacks:get_stack", response="StackRead"),
        _op("stacks-list", "GET", "/stacks", svc + "stacks:list_stacks", response="list[StackRead]"),
        _op(
            "stacks-update",
            "PATCH",
            "/stacks/{name_or_id}",
            svc + "stacks:update_stack",
            response="StackRead",
            body="update",
        ),
        _op("stacks-delete", "DELETE", "/stacks/{name_or_id}", svc + "stacks:delete_stack"),
        _op(
            "components-create",
            "POST",
            "/components",
            svc + "stacks:create_component",
            response="ComponentRead",
            body="component",
        ),
        _op(
            "components-get",
            "GET",
            "/components/{type}/{name_or_id}",
            svc + "stacks:get_component",
            response="ComponentRead",
        ),
        _op("components-list", "GET", "/components", svc + "stacks:list_components", response="list[ComponentRead]"),
        _op(
            "components-update",
            "PATCH",
            "/components/{type}/{name_or_id}",
            svc + "stacks:update_component",
            response="ComponentRead",
            body="update",
        ),
        _op("flavors-list", "GET", "/flavors", svc + "stacks:list_flavors", response="list[FlavorRead]", scoped=False),
        _op("components-delete", "DELETE", "/components/{type}/{name_or_id}", svc + "stacks:delete_component"),
        _op("secrets-create", "POST", "/secrets", svc + "secrets:create_secret", response="SecretRead", body="secret",
            scoped=False),
        _op("secrets-list", "GET", "/secrets", svc + "secrets:list_secrets", response="list[SecretRead]", scoped=False),
        _op("secrets-get", "GET", "/secrets/{name_or_id}", svc + "secrets:get_secret", response="SecretRead",
            scoped=False),
        _op(
            "secrets-get_values",
            "GET",
            "/secrets/{name_or_id}/values",
            svc + "secrets:get_secret_values",
            response="SecretValuesRead",
            scoped=False,
        ),
        _op(
            "secrets-update",
            "PATCH",
            "/secrets/{name_or_id}",
            svc + "secrets:update_secret",
            response="SecretRead",
            body="update",
            scoped=False,
        ),
        _op("secrets-delete", "DELETE", "/secrets/{name_or_id}", svc + "secrets:delete_secret", scoped=False),
    ]
    return {op.id: op for op in ops}


_OPERATIONS: dict[str, Operation] | None = None


def operations() -> dict[str, Operation]:
    global _OPERATIONS
    if _OPERATIONS is None:
        _OPERATIONS = _build()
    return _OPERATIONS


def operation(op_id: str) -> Operation:
    return operations()[op_id]
