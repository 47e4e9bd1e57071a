"""Shared pieces of the wire schemas: the strict base model and the keyset page."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Generic, TypeVar
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

#: Bumped whenever a wire schema changes incompatibly; client and server compare it.
SCHEMA_VERSION = 1

#: Hard cap on a list page, so no request can ask the database for everything at once.
MAX_PAGE_SIZE = 500
DEFAULT_PAGE_SIZE = 50

#: The project of everything created without naming one (and of everything from before projects existed).
DEFAULT_PROJECT = "default"
#: Project names, as the control plane allows them (lowercase slug).
PROJECT_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,62}$"

T = TypeVar("T")

JSONDict = dict[str, Any]


class Schema(BaseModel):
    """Base of every request model: unknown fields are an error, not silently dropped."""

    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)


class ReadSchema(BaseModel):
    """Base of every response model; built straight from ORM rows."""

    model_config = ConfigDict(from_attributes=True, frozen=True, defer_build=True)


class Entity(ReadSchema):
    id: UUID
    created: datetime


class PageRequest(Schema):
    """Keyset pagination: ``cursor`` is the opaque token of the last page's ``next_cursor``."""

    limit: int = Field(default=DEFAULT_PAGE_SIZE, ge=1, le=MAX_PAGE_SIZE)
    cursor: str | None = Field(default=None, max_length=200)


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None = None
