"""Key/value metadata attached to runs, step runs and artifact versions (``log_metadata``)."""

from __future__ import annotations

from enum import StrEnum
from typing import Any
from uuid import UUID

from pydantic import Field

from runyard.schemas.base import Schema


class ResourceType(StrEnum):
    RUN = "run"
    STEP_RUN = "step_run"
    ARTIFACT_VERSION = "artifact_version"


class MetadataCreate(Schema):
    resource_type: ResourceType
    resource_id: UUID
    values: dict[str, Any] = Field(max_length=1000)
