"""``runyard.Client``: the friendly face of the workspace API for scripts and notebooks."""

from __future__ import annotations

import uuid
from typing import Any

from runyard import schemas as s
from runyard.client.models import ArtifactVersion, ResultPage, Run, StepRun
from runyard.client.workspace_api import WorkspaceAPI
from runyard.schemas.base import DEFAULT_PAGE_SIZE, PageRequest


class Client:
    """Reads and manages everything in the workspace the SDK is pointed at.

    >>> Client().list_runs(pipeline="training", status="failed")
    >>> Client(project="vision").list_runs()

    Everything it reads and writes is in one project: ``project``, else ``RUNYARD_PROJECT``, else the
    ``project`` of ``RUNYARD_HOME/client.json``, else ``default``.
    """

    def __init__(self, api: WorkspaceAPI | None = None, *, project: str | None = None) -> None:
        if api is None:
            from runyard.client.connection import workspace_api

            api = workspace_api()
        if project is not None and project != api.project:
            from runyard.client.config import checked_project

            api = api.for_project(checked_project(project))
        self.api = api

    @property
    def project(self) -> str:
        return self.api.project

    # runs ----------------------------------------------------------------------------------------
    def list_runs(
        self,
        *,
        pipeline: str | None = None,
        status: str | None = None,
        tag: str | None = None,
        name_contains: str | None = None,
        limit: int = DEFAULT_PAGE_SIZE,
        cursor: str | None = None,
        **filters: Any,
    ) -> ResultPage[Run]:
        """Newest first; pass ``cursor=page.next_cursor`` for the next page."""
        flt = s.RunFilter(pipeline=pipeline, status=status, tag=tag, name_contains=name_contains,  # type: ignore[arg-type]
                          limit=limit, cursor=cursor, **filters)
        page = self.api.list_runs(flt)
        return ResultPage([Run(r, self.api) for r in page.items], page.next_cursor)

    def get_run(self, run_id: uuid.UUID | str) -> Run:
        return Run(self.api.get_run(_uuid(run_id, "run")), self.api)

    def cancel_run(self, run_id: uuid.UUID | str) -> Run:
        """Asks a run to stop: steps already running finish, no new step starts, and the run ends
        ``cancelled`` (``cancelling`` until its runner notices). A finished run raises ``Conflict``."""
        return Run(self.api.cancel_run(_uuid(run_id, "run")), self.api)

    def delete_run(self, run_id: uuid.UUID | str) -> None:
        self.api.delete_run(_uuid(run_id, "run"))

    def get_step_run(self, step_run_id: uuid.UUID | str) -> StepRun:
        return StepRun(self.api.get_step_run(_uuid(step_run_id, "step run")), self.api)

    # pipelines ----------------------------------------------------------------------------------
    def list_pipelines(self, *, name_contains: str | None = None, limit: int = DEFAULT_PAGE_SIZE,
                       cursor: str | None = None) -> ResultPage[s.PipelineRead]:
        page = self.api.list_pipelines(s.PipelineFilter(name_contains=name_contains, limit=limit, cursor=cursor))
        return ResultPage(page.items, page.next_cursor)

    def get_pipeline(self, name_or_id: str) -> s.PipelineRead:
        return self.api.get_pipeline(str(name_or_id))

    # artifacts ----------------------------------------------------------------------------------
    def list_artifacts(
        self, *, limit: int = DEFAULT_PAGE_SIZE, cursor: str | None = None
    ) -> ResultPage[s.ArtifactRead]:
        page = self.api.list_artifacts(PageRequest(limit=limit, cursor=cursor))
        return ResultPage(page.items, page.next_cursor)

    def get_artifact_version(self, name_or_id: str, version: int | None = None) -> ArtifactVersion:
        """The newest version of an artifact by name (or a given ``version``), or a version by id."""
        return ArtifactVersion(self.api.get_artifact_version(str(name_or_id), version), self.api)

    def list_artifact_versions(
        self, *, name: str | None = None, run_id: uuid.UUID | str | None = None, limit: int = DEFAULT_PAGE_SIZE,
        cursor: str | None = None,
    ) -> ResultPage[ArtifactVersion]:
        flt = s.ArtifactVersionFilter(name=name, run_id=_uuid(run_id, "run") if run_id else None, limit=limit,
                                      cursor=cursor)
        page = self.api.list_artifact_versions(flt)
        return ResultPage([ArtifactVersion(v, self.api) for v in page.items], page.next_cursor)

    def get_lineage(self, artifact_version_id: uuid.UUID | str) -> s.LineageRead:
        return self.api.get_lineage(_uuid(artifact_version_id, "artifact version"))

    # stacks -------------------------------------------------------------------------------------
    def list_stacks(self) -> list[s.StackRead]:
        return self.api.list_stacks()

    def get_stack(self, name_or_id: str) -> s.StackRead:
        return self.api.get_stack(name_or_id)

    @property
    def active_stack(self) -> s.StackRead:
        from runyard.client.config import ClientConfig

        return self.api.get_stack(ClientConfig.load().active_stack)

    def activate_stack(self, name: str) -> s.StackRead:
        from runyard.client.config import ClientConfig

        stack = self.api.get_stack(name)
        config = ClientConfig.load()
        config.active_stack = stack.name
        config.save()
        return stack

    def register_component(self, type: str, name: str, flavor: str, config: dict[str, Any] | None = None
                           ) -> s.ComponentRead:
        return self.api.create_component(s.ComponentCreate(type=type, name=name, flavor=flavor, config=config or {}))

    def register_stack(self, name: str, components: dict[str, str]) -> s.StackRead:
        if "default" in components.values():
            self.api.get_stack("default")  # the default components are created with the default stack
        return self.api.create_stack(s.StackCreate(name=name, components=components))

    def list_components(self, type: str | None = None) -> list[s.ComponentRead]:
        return self.api.list_components(type)

    # secrets ------------------------------------------------------------------------------------
    def create_secret(self, name: str, values: dict[str, str], *, description: str | None = None
                      ) -> s.SecretRead:
        """Stores a new secret (``values``: key -> value strings, encrypted at rest)."""
        return self.api.create_secret(s.SecretCreate(name=name, values=values, description=description))

    def get_secret(self, name_or_id: str) -> s.SecretValuesRead:
        """A secret with its ``.values``; each value is masked (``***``) in logs captured from now on."""
        from runyard.logs.masking import register_secret

        secret = self.api.get_secret_values(name_or_id)
        for value in secret.values.values():
            register_secret(value)
        return secret

    def get_secret_metadata(self, name_or_id: str) -> s.SecretRead:
        """A secret's name, keys, description and history, without its values."""
        return self.api.get_secret(name_or_id)

    def list_secrets(self, *, name_contains: str | None = None) -> list[s.SecretRead]:
        """Every secret's metadata, by name; never values."""
        return self.api.list_secrets(name_contains)

    def update_secret(self, name_or_id: str, values: dict[str, str] | None = None, *,
                      remove_keys: list[str] | tuple[str, ...] = (), description: str | None = None
                      ) -> s.SecretRead:
        """Sets (adds or replaces) the keys in ``values``, removes ``remove_keys``, changes the description."""
        return self.api.update_secret(name_or_id, s.SecretUpdate(values=values or {}, remove_keys=list(remove_keys),
                                                                  description=description))

    def delete_secret(self, name_or_id: str) -> None:
        self.api.delete_secret(name_or_id)


def _uuid(value: uuid.UUID | str, what: str) -> uuid.UUID:
    if isinstance(value, uuid.UUID):
        return value
    try:
        return uuid.UUID(str(value))
    except ValueError:
        from runyard.exceptions import InvalidInput

        raise InvalidInput(
            f"{value!r} is not a {what} id.", hint="Ids look like 1b4e28ba-2fa1-11d2-883f-0016d3cca427."
        ) from None
