"""The typed workspace API client: one method per operation, the same over either transport."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

from runyard.client.operations import operation
from runyard.client.transport import Deferred, Transport

if TYPE_CHECKING:  # the annotations only: a records client never imports the models
    from runyard import schemas as s
    from runyard.schemas.base import Page, PageRequest
    from runyard.schemas.logs import LogAppend, LogPage, LogQuery, LogStreamRead
    from runyard.schemas.secrets import SecretCreate, SecretRead, SecretUpdate, SecretValuesRead


def _models(kwargs: dict[str, Any]) -> dict[str, Any]:
    """Arguments for a models client: a record built by shared SDK code (``log_metadata``, the log writer)
    becomes its validated model."""
    if any(hasattr(type(value), "_schema") for value in kwargs.values()):
        from runyard.client.record_bridge import to_models

        return to_models(kwargs)
    return kwargs


class WorkspaceAPI:
    """Every call works inside :attr:`project` (``RUNYARD_PROJECT`` or ``client.json`` unless given).

    With ``records=True`` the client takes and returns the plain records of :mod:`runyard.client.records`
    (same class names and fields as the schemas annotated below) instead of pydantic models: that is how a
    pipeline process runs without importing pydantic at all. Everything else (``Client()``, the CLI) uses
    the models."""

    def __init__(self, transport: Transport, project: str | None = None, *, records: bool = False) -> None:
        from runyard.client.config import checked_project, current_project

        self.transport = transport
        self.project = checked_project(project) if project else current_project()
        self.records = records

    def for_project(self, project: str) -> WorkspaceAPI:
        """The same connection, working in another project."""
        from runyard.client.config import checked_project

        return WorkspaceAPI(self.transport, checked_project(project), records=self.records)

    def with_transport(self, transport: Transport) -> WorkspaceAPI:
        """The same project and kind of values (records or models), over ``transport``."""
        return WorkspaceAPI(transport, self.project, records=self.records)

    def _call(self, op_id: str, **kwargs: Any) -> Any:
        op = operation(op_id)
        if op.scoped:
            kwargs["project"] = self.project
        if self.records:
            return self.transport.invoke_records(op, **kwargs)
        return self.transport.invoke(op, **_models(kwargs))

    def _submit(self, op_id: str, **kwargs: Any) -> Deferred[Any]:
        op = operation(op_id)
        if op.scoped:
            kwargs["project"] = self.project
        if self.records:
            return self.transport.submit_records(op, **kwargs)
        return self.transport.submit(op, **_models(kwargs))

    # pipelines and snapshots
    def create_pipeline(self, pipeline: s.PipelineCreate) -> s.PipelineRead:
        return self._call("pipelines-create", pipeline=pipeline)

    def get_pipeline(self, name_or_id: str) -> s.PipelineRead:
        return self._call("pipelines-get", name_or_id=name_or_id)

    def list_pipelines(self, filter: s.PipelineFilter) -> Page[s.PipelineRead]:
        return self._call("pipelines-list", filter=filter)

    def delete_pipeline(self, name_or_id: str) -> None:
        self._call("pipelines-delete", name_or_id=name_or_id)

    def create_snapshot(self, snapshot: s.SnapshotCreate) -> s.SnapshotRead:
        return self._call("snapshots-create", snapshot=snapshot)

    def get_snapshot(self, snapshot_id: uuid.UUID) -> s.SnapshotRead:
        return self._call("snapshots-get", snapshot_id=snapshot_id)

    # runs
    def create_run(self, run: s.RunCreate) -> s.RunRead:
        return self._call("runs-create", run=run)

    def get_run(self, run_id: uuid.UUID) -> s.RunRead:
        return self._call("runs-get", run_id=run_id)

    def list_runs(self, filter: s.RunFilter) -> Page[s.RunRead]:
        return self._call("runs-list", filter=filter)

    def update_run(self, run_id: uuid.UUID, update: s.RunUpdate) -> s.RunRead:
        return self._call("runs-update", run_id=run_id, update=update)

    def cancel_run(self, run_id: uuid.UUID) -> s.RunRead:
        return self._call("runs-cancel", run_id=run_id)

    def delete_run(self, run_id: uuid.UUID) -> None:
        self._call("runs-delete", run_id=run_id)

    # step runs
    def create_step_run(self, step: s.StepRunCreate) -> s.StepRunRead:
        return self._call("steps-create", step=step)

    def get_step_run(self, step_run_id: uuid.UUID) -> s.StepRunRead:
        return self._call("steps-get", step_run_id=step_run_id)

    def list_step_runs(self, filter: s.StepRunFilter) -> Page[s.StepRunRead]:
        return self._call("steps-list", filter=filter)

    def list_run_steps(self, run_id: uuid.UUID, page: PageRequest) -> s.RunStepsPage:
        """A run's step runs in run order, each artifact version listed once per page."""
        return self._call("steps-list_of_run", run_id=run_id, page=page)

    def update_step_run(self, step_run_id: uuid.UUID, update: s.StepRunUpdate) -> s.StepRunRead:
        return self._call("steps-update", step_run_id=step_run_id, update=update)

    def report_step_start(self, step: s.StepRunCreate) -> Deferred[s.StepRunRead]:
        """:meth:`create_step_run` whose answer may be read later: the step runs meanwhile. The answer is
        brief (no artifact links or metadata: the runner knows them)."""
        return self._submit("steps-create", step=step, brief=True)

    def report_step_end(self, step_run_id: uuid.UUID, update: s.StepRunUpdate) -> Deferred[s.StepRunRead]:
        """:meth:`update_step_run` whose answer may be read later: the next step starts meanwhile. The
        answer is brief, as for :meth:`report_step_start`."""
        return self._submit("steps-update", step_run_id=step_run_id, update=update, brief=True)

    def lookup_cache(self, lookup: s.CacheLookup) -> s.CacheLookupResult:
        return self._call("steps-cache_lookup", lookup=lookup)

    # artifacts
    def list_artifacts(self, page: PageRequest) -> Page[s.ArtifactRead]:
        return self._call("artifacts-list", page=page)

    def get_artifact_version(self, name_or_id: str, version: int | None = None) -> s.ArtifactVersionRead:
        return self._call("artifact_versions-get", name_or_id=name_or_id, version=version)

    def list_artifact_versions(self, filter: s.ArtifactVersionFilter) -> Page[s.ArtifactVersionRead]:
        return self._call("artifact_versions-list", filter=filter)

    def get_lineage(self, version_id: uuid.UUID) -> s.LineageRead:
        return self._call("artifact_versions-lineage", version_id=version_id)

    def read_logs(self, run_id: uuid.UUID, query: LogQuery) -> LogPage:
        return self._call("logs-read", run_id=run_id, query=query)

    def append_logs(self, run_id: uuid.UUID, batch: LogAppend) -> LogStreamRead:
        return self._call("logs-append", run_id=run_id, batch=batch)

    def add_metadata(self, metadata: s.MetadataCreate) -> None:
        self._call("metadata-create", metadata=metadata)

    # stacks and components
    def create_stack(self, stack: s.StackCreate) -> s.StackRead:
        return self._call("stacks-create", stack=stack)

    def get_stack(self, name_or_id: str) -> s.StackRead:
        return self._call("stacks-get", name_or_id=name_or_id)

    def list_stacks(self) -> list[s.StackRead]:
        return self._call("stacks-list")

    def update_stack(self, name_or_id: str, update: s.StackUpdate) -> s.StackRead:
        return self._call("stacks-update", name_or_id=name_or_id, update=update)

    def delete_stack(self, name_or_id: str) -> None:
        self._call("stacks-delete", name_or_id=name_or_id)

    def create_component(self, component: s.ComponentCreate) -> s.ComponentRead:
        return self._call("components-create", component=component)

    def get_component(self, type: str, name_or_id: str) -> s.ComponentRead:
        return self._call("components-get", type=type, name_or_id=name_or_id)

    def list_components(self, type: str | None = None) -> list[s.ComponentRead]:
        return self._call("components-list", type=type)

    def update_component(self, type: str, name_or_id: str, update: s.ComponentUpdate) -> s.ComponentRead:
        return self._call("components-update", type=type, name_or_id=name_or_id, update=update)

    def list_flavors(self, type: str | None = None) -> list[s.FlavorRead]:
        return self._call("flavors-list", type=type)

    def delete_component(self, type: str, name_or_id: str) -> None:
        self._call("components-delete", type=type, name_or_id=name_or_id)

    # secrets: metadata and values are separate operations (values need their own permission)
    def create_secret(self, secret: SecretCreate) -> SecretRead:
        return self._call("secrets-create", secret=secret)

    def get_secret(self, name_or_id: str) -> SecretRead:
        return self._call("secrets-get", name_or_id=name_or_id)

    def get_secret_values(self, name_or_id: str) -> SecretValuesRead:
        return self._call("secrets-get_values", name_or_id=name_or_id)

    def list_secrets(self, name_contains: str | None = None) -> list[SecretRead]:
        return self._call("secrets-list", name_contains=name_contains)

    def update_secret(self, name_or_id: str, update: SecretUpdate) -> SecretRead:
        return self._call("secrets-update", name_or_id=name_or_id, update=update)

    def delete_secret(self, name_or_id: str) -> None:
        self._call("secrets-delete", name_or_id=name_or_id)
