"""Run and step statuses, and what metadata attaches to. Plain enums (no pydantic): the state machine,
the service and the pipeline process share them cheaply."""

from __future__ import annotations

from enum import StrEnum


class ResourceType(StrEnum):
    """What a piece of metadata is attached to (``log_metadata``)."""

    RUN = "run"
    STEP_RUN = "step_run"
    ARTIFACT_VERSION = "artifact_version"


class RunStatus(StrEnum):
    INITIALIZING = "initializing"
    QUEUED = "queued"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLING = "cancelling"
    CANCELLED = "cancelled"

    @property
    def is_finished(self) -> bool:
        return self in _FINISHED_RUN


class StepStatus(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    RETRYING = "retrying"
    COMPLETED = "completed"
    CACHED = "cached"
    FAILED = "failed"
    SKIPPED = "skipped"
    CANCELLED = "cancelled"

    @property
    def is_finished(self) -> bool:
        return self in _FINISHED_STEP

    @property
    def is_success(self) -> bool:
        return self in (StepStatus.COMPLETED, StepStatus.CACHED)


_FINISHED_RUN = frozenset({RunStatus.COMPLETED, RunStatus.FAILED, RunStatus.CANCELLED})
_FINISHED_STEP = frozenset(
    {StepStatus.COMPLETED, StepStatus.CACHED, StepStatus.FAILED, StepStatus.SKIPPED, StepStatus.CANCELLED}
)
