"""What the SDK hands users: runs, step runs and artifact versions that can follow their links.

Each wraps the wire schema (``.data``) plus the API client it came from, so ``run.steps["train"]
.outputs["model"].load()`` works the same against the embedded workspace or a server. ``.data`` is a
pydantic model when read through ``Client()``, and a plain record of the same name and fields
(:mod:`runyard.client.records`) on the run a pipeline call returns.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from runyard.schemas.status import RunStatus, StepStatus

if TYPE_CHECKING:
    from runyard import schemas as s
    from runyard.client.workspace_api import WorkspaceAPI

T = TypeVar("T")


class _Wrapper:
    _fields: tuple[str, ...] = ()

    def __init__(self, data: Any, api: WorkspaceAPI) -> None:
        self.data = data
        self._api = api

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(self.data, name)

    def __dir__(self) -> list[str]:
        fields = getattr(type(self.data), "_fields", None)  # a record (what a pipeline call returns)
        return sorted({*super().__dir__(), *(fields if fields is not None else type(self.data).model_fields)})

    def to_dict(self) -> dict[str, Any]:
        """The JSON form of the wrapped record or model (the same for both)."""
        to_json = getattr(self.data, "to_json", None)
        return to_json() if to_json is not None else self.data.model_dump(mode="json")


class ArtifactVersion(_Wrapper):
    data: s.ArtifactVersionRead

    @property
    def id(self) -> uuid.UUID:
        return self.data.id

    @property
    def uri(self) -> str:
        return self.data.uri

    @property
    def content_hash(self) -> str:
        return self.data.content_hash

    @property
    def version(self) -> int:
        return self.data.version

    def load(self, data_type: type | None = None) -> Any:
        """Reads the artifact back with the materializer that wrote it."""
        from runyard.artifacts.io import load_artifact

        return load_artifact(self.data, data_type=data_type, api=self._api)

    def lineage(self) -> s.LineageRead:
        return self._api.get_lineage(self.data.id)

    @property
    def producer(self) -> StepRun | None:
        if self.data.producer_step_run_id is None:
            return None
        return StepRun(self._api.get_step_run(self.data.producer_step_run_id), self._api)

    @property
    def consumers(self) -> list[StepRun]:
        return [StepRun(self._api.get_step_run(c.step_run_id), self._api) for c in self.lineage().consumers]

    def __repr__(self) -> str:
        return f"<ArtifactVersion {self.data.name}:{self.data.version} {self.data.content_hash[:12]}>"


class StepRun(_Wrapper):
    data: s.StepRunRead

    @property
    def id(self) -> uuid.UUID:
        return self.data.id

    @property
    def status(self) -> StepStatus:
        return self.data.status

    @property
    def outputs(self) -> dict[str, ArtifactVersion]:
        return {k: ArtifactVersion(v, self._api) for k, v in self.data.outputs.items()}

    @property
    def inputs(self) -> dict[str, ArtifactVersion]:
        return {k: ArtifactVersion(v, self._api) for k, v in self.data.inputs.items()}

    @property
    def output(self) -> ArtifactVersion:
        """The only output of a single-output step."""
        outs = self.outputs
        if len(outs) != 1:
            raise KeyError(f"Step {self.data.invocation_id!r} has outputs {sorted(outs)}; pick one via .outputs[name].")
        return next(iter(outs.values()))

    @property
    def cache_explanation(self) -> str | None:
        value = self.data.cache_parts.get("explanation")
        return value if isinstance(value, str) else None

    @property
    def duration(self) -> float | None:
        if self.data.started and self.data.ended:
            return (self.data.ended - self.data.started).total_seconds()
        return None

    def __repr__(self) -> str:
        return f"<StepRun {self.data.invocation_id} {self.data.status}>"


class Run(_Wrapper):
    data: s.RunRead

    def __init__(self, data: s.RunRead, api: WorkspaceAPI) -> None:
        super().__init__(data, api)
        self._steps: dict[str, StepRun] | None = None

    @property
    def id(self) -> uuid.UUID:
        return self.data.id

    @property
    def status(self) -> RunStatus:
        return self.data.status

    @property
    def steps(self) -> dict[str, StepRun]:
        """Step runs by invocation id (the step's name; ``name_2`` for its second use), in run order."""
        if self._steps is None:
            from runyard.client.wire import PageRequest
            from runyard.schemas.constants import MAX_PAGE_SIZE

            found: list[s.StepRunRead] = []
            cursor: str | None = None
            while True:  # in run order, each artifact version sent once per page
                page = self._api.list_run_steps(self.data.id, PageRequest(limit=MAX_PAGE_SIZE, cursor=cursor))
                found.extend(page.step_runs())
                cursor = page.next_cursor
                if cursor is None:
                    break
            steps = {r.invocation_id: StepRun(r, self._api) for r in found}
            if self.data.status.is_finished:
                self._steps = steps
            return steps
        return self._steps

    def refresh(self) -> Run:
        return Run(self._api.get_run(self.data.id), self._api)

    def raise_for_status(self) -> Run:
        """Raises :class:`StepFailed` with the user's traceback if the run did not complete."""
        if self.data.status != RunStatus.COMPLETED:
            from runyard.exceptions import StepFailed

            failed = [st for st in self.steps.values() if st.status == StepStatus.FAILED]
            tb = failed[0].data.traceback or "" if failed else ""
            raise StepFailed(f"Run {self.data.name} {self.data.status}: {self.data.error or ''}".strip(),
                             user_traceback=tb)
        return self

    def __repr__(self) -> str:
        return f"<Run {self.data.name} {self.data.status}>"


class ResultPage(list[T], Generic[T]):
    """A page of results; ``next_cursor`` fetches the next one (``None`` on the last page)."""

    def __init__(self, items: Iterator[T] | list[T], next_cursor: str | None) -> None:
        super().__init__(items)
        self.next_cursor = next_cursor
