"""Log lines as the API serves them: a range of one step's (or the run's) log."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from runyard.schemas.base import ReadSchema, Schema

LEVEL_PATTERN = r"^(DEBUG|INFO|WARNING|ERROR|CRITICAL)$"


class LogQuery(Schema):
    step: str | None = Field(default=None, max_length=250, description="Step invocation id; omit for the run log.")
    offset: int = Field(default=0, ge=0, description="First line number to return.")
    limit: int = Field(default=1000, ge=1, le=10_000)
    level: str | None = Field(default=None, pattern=LEVEL_PATTERN, description="Minimum level.")
    since: datetime | None = Field(default=None, description="Only lines written at or after this time.")


class LogLineRead(ReadSchema):
    offset: int
    time: float
    stream: str
    level: str
    message: str
    logger: str | None = None


class LogPage(ReadSchema):
    lines: list[LogLineRead]
    next_offset: int
    complete: bool
    step: str | None = None


class LogLineIn(Schema):
    time: float
    stream: str = Field(max_length=10)
    level: str = Field(pattern=LEVEL_PATTERN)
    logger: str | None = Field(default=None, max_length=250)
    message: str = Field(max_length=64 * 1024)


class LogAppend(Schema):
    """A batch of lines for the ``database`` log backend; ``first_offset`` makes a retried batch harmless."""

    key: str = Field(max_length=64, pattern=r"^[A-Za-z0-9_\-]+$", description="Step run id, or `run`.")
    first_offset: int = Field(ge=0)
    lines: list[LogLineIn] = Field(default_factory=list, max_length=10_000)
    complete: bool = False


class LogStreamRead(ReadSchema):
    lines: int
    complete: bool
