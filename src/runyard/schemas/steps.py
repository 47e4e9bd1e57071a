"""Step runs: one execution (or cache reuse) of a step invocation inside a run."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from pydantic import Field

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


class StepRunRead(Entity):
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
    inputs: dict[str, ArtifactVersionRead] = Field(default_factory=dict)
    outputs: dict[str, ArtifactVersionRead] = Field(default_factory=dict)
    metadata: dict[str, Any] = Field(default_factory=dict)


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
