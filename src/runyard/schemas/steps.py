"""Step runs: one execution (or cache reuse) of a step invocation inside a run."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from runyard.schemas.artifacts import ArtifactVersionCreate, ArtifactVersionRead
from runyard.schemas.base import Entity, PageRequest, Schema
from runyard.schemas.status import StepStatus


class StepOutputLink(Schema):
    """Names an existing artifact version as an output (cache hits reuse the original outputs)."""

    name: str
    artifact_version_id: UUID


class StepRunCreate(Schema):
    id: UUID | None = Field(default=None, description="Client-chosen id: a retried create never duplicates.")
    run_id: UUID
    invocation_id: str = Field(max_length=250)
    step_name: str = Field(max_length=250)
    status: StepStatus = StepStatus.RUNNING
    parameters: dict[str, Any] = Field(default_factory=dict)
    source_hash: str | None = None
    cache_key: str | None = None
    cache_parts: dict[str, Any] = Field(default_factory=dict)
    original_step_run_id: UUID | None = None
    inputs: dict[str, UUID] = Field(default_factory=dict, description="input name -> artifact version id")
    outputs: list[StepOutputLink] = Field(default_factory=list)


class StepRunUpdate(Schema):
    status: StepStatus | None = None
    error: str | None = None
    traceback: str | None = None
    attempts: int | None = None
    new_outputs: list[ArtifactVersionCreate] = Field(default_factory=list)
    metadata: dict[str, Any] = Field(default_factory=dict)


class _StepRunFields(Entity):
    """What every read of a step run carries; the two reads differ only in how they give its artifacts."""

    run_id: UUID
    invocation_id: str
    step_name: str
    status: StepStatus
    parameters: dict[str, Any]
    source_hash: str | None
    cache_key: str | None
    cache_parts: dict[str, Any]
    original_step_run_id: UUID | None
    error: str | None = None
    traceback: str | None = None
    attempts: int = 1
    started: datetime | None = None
    ended: datetime | None = None


class StepRunRead(_StepRunFields):
    inputs: dict[str, ArtifactVersionRead] = Field(default_factory=dict)
    outputs: dict[str, ArtifactVersionRead] = Field(default_factory=dict)
    metadata: dict[str, Any] = Field(default_factory=dict)


class RunStepRead(_StepRunFields):
    """A step run on its run's step page: inputs and outputs name artifact versions by id, and the page
    lists each version once (a version is one step's output and the next one's input: inline, it would
    be written twice)."""

    inputs: dict[str, UUID] = Field(default_factory=dict, description="input name -> artifact version id")
    outputs: dict[str, UUID] = Field(default_factory=dict, description="output name -> artifact version id")
    metadata: dict[str, Any] = Field(default_factory=dict)


class RunStepsPage(BaseModel):
    """One page of a run's step runs, in run order (oldest first), with the artifact versions they name."""

    model_config = ConfigDict(defer_build=True)  # built on first use: most processes never use it

    items: list[RunStepRead]
    artifact_versions: dict[UUID, ArtifactVersionRead] = Field(
        default_factory=dict, description="artifact version id -> version, for every id the items name"
    )
    next_cursor: str | None = None

    def step_runs(self) -> list[StepRunRead]:
        """The items as :class:`StepRunRead`, their artifact versions inline (what ``GET /steps`` returns)."""
        versions = self.artifact_versions
        out = []
        for item in self.items:
            values = dict(item.__dict__)
            values["inputs"] = {name: versions[vid] for name, vid in item.inputs.items()}
            values["outputs"] = {name: versions[vid] for name, vid in item.outputs.items()}
            out.append(StepRunRead.trusted(**values))
        return out


class StepRunFilter(PageRequest):
    run_id: UUID | None = None
    status: StepStatus | None = None
    invocation_id: str | None = Field(default=None, max_length=250)


class CacheLookup(Schema):
    cache_key: str = Field(max_length=128)
    invocation_id: str = Field(max_length=250)
    pipeline_id: UUID


class CacheLookupResult(Schema):
    """A hit names the original step run; a miss names what differs from the last run of that step."""

    hit: StepRunRead | None = None
    previous_parts: dict[str, Any] | None = None
