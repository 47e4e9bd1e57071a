"""Artifacts (a name) and their immutable, content-addressed versions."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from pydantic import Field

from runyard.schemas.base import Entity, PageRequest, ReadSchema, Schema


class ArtifactRead(Entity):
    name: str
    latest_version: int | None = None


class ArtifactVersionCreate(Schema):
    id: UUID | None = None
    name: str = Field(description="Artifact name; versions are numbered per name", max_length=250)
    output_name: str = Field(max_length=250)
    uri: str = Field(max_length=2000)
    content_hash: str = Field(max_length=128)
    size: int = Field(ge=0)
    materializer: str = Field(max_length=500)
    data_type: str = Field(max_length=500)
    artifact_store_id: UUID | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)


class ArtifactVersionRead(Entity):
    artifact_id: UUID
    name: str
    version: int
    uri: str
    content_hash: str
    size: int
    materializer: str
    data_type: str
    artifact_store_id: UUID | None = None
    producer_step_run_id: UUID | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)


class ArtifactVersionFilter(PageRequest):
    name: str | None = Field(default=None, max_length=250)
    name_contains: str | None = Field(default=None, max_length=250)
    run_id: UUID | None = None


class LineageEdge(ReadSchema):
    step_run_id: UUID
    run_id: UUID
    invocation_id: str
    name: str = Field(description="Input or output name on that step")


class LineageRead(ReadSchema):
    artifact_version: ArtifactVersionRead
    producer: LineageEdge | None
    consumers: list[LineageEdge]
