"""Key/value metadata attached to runs, step runs and artifact versions (``log_metadata``)."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from pydantic import Field

from runyard.schemas.base import Schema
from runyard.schemas.status import ResourceType as ResourceType


class MetadataCreate(Schema):
    resource_type: ResourceType
    resource_id: UUID
    values: dict[str, Any] = Field(max_length=1000)
