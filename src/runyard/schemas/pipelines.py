"""Pipelines and their snapshots (a compiled spec plus the stack and configuration it ran with)."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from pydantic import Field

from runyard.schemas.base import Entity, PageRequest, Schema

NAME_PATTERN = r"^[A-Za-z0-9_][A-Za-z0-9_.\-]{0,199}$"


class PipelineCreate(Schema):
    name: str = Field(pattern=NAME_PATTERN)
    docstring: str | None = None


class PipelineRead(Entity):
    name: str
    docstring: str | None = None


class PipelineFilter(PageRequest):
    name_contains: str | None = Field(default=None, max_length=200)


class SnapshotCreate(Schema):
    id: UUID | None = None
    pipeline_id: UUID
    stack_id: UUID | None = None
    spec: dict[str, Any]
    spec_hash: str = Field(max_length=128)
    config: dict[str, Any] = Field(default_factory=dict)
    code_reference: dict[str, Any] | None = None


class SnapshotRead(Entity):
    pipeline_id: UUID
    stack_id: UUID | None
    spec: dict[str, Any]
    spec_hash: str
    config: dict[str, Any]
    code_reference: dict[str, Any] | None = None
