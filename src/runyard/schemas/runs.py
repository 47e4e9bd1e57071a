"""Pipeline runs."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import BeforeValidator, Field

from runyard.schemas.base import Entity, PageRequest, Schema
from runyard.schemas.status import RunStatus

_NUMBER = re.compile(r"^\s*[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?\s*$")


def _not_a_number(value: Any) -> Any:
    """pydantic would read a bare number as a Unix timestamp (``0.5`` -> 1970); filters take ISO 8601."""
    if isinstance(value, int | float) or (isinstance(value, str) and _NUMBER.match(value)):
        raise ValueError("expected an ISO 8601 time such as 2024-05-01T12:00:00Z")
    return value


IsoDatetime = Annotated[datetime, BeforeValidator(_not_a_number)]


class RunCreate(Schema):
    id: UUID | None = Field(default=None, description="Client-chosen id: a retried create never duplicates.")
    name: str | None = Field(default=None, max_length=250)
    snapshot_id: UUID
    status: RunStatus = RunStatus.INITIALIZING
    parameters: dict[str, Any] = Field(default_factory=dict)
    tags: list[str] = Field(default_factory=list, max_length=100)
    orchestrator_run_id: str | None = None


class RunUpdate(Schema):
    status: RunStatus | None = None
    error: str | None = None
    add_tags: list[str] = Field(default_factory=list, max_length=100)
    heartbeat: bool = False


class RunRead(Entity):
    name: str
    pipeline_id: UUID
    pipeline_name: str
    snapshot_id: UUID
    stack_id: UUID | None
    status: RunStatus
    parameters: dict[str, Any]
    tags: list[str]
    metadata: dict[str, Any] = Field(default_factory=dict)
    error: str | None = None
    started: datetime | None = None
    ended: datetime | None = None
    updated: datetime


class RunFilter(PageRequest):
    pipeline: str | None = Field(default=None, max_length=200, description="Pipeline name")
    pipeline_id: UUID | None = None
    status: RunStatus | None = None
    tag: str | None = Field(default=None, max_length=200)
    name_contains: str | None = Field(default=None, max_length=200)
    created_after: IsoDatetime | None = None
    created_before: IsoDatetime | None = None
    updated_after: IsoDatetime | None = None
    updated_before: IsoDatetime | None = None
    sort: Literal["newest", "oldest"] = Field(default="newest", description="Order by creation time.")
