"""The request and answer classes a pipeline run builds and reads, by the names of the wire schemas.

At run time these are the plain records of :mod:`runyard.client.records`: a pipeline process never imports
pydantic (the local service validates every request with the models). For the type checker they are the
pydantic schemas themselves: the records have the same names and fields, which
``tests/client/test_records.py`` checks class by class, so code written against this module is checked
against the one API definition. Use it in code that runs inside the pipeline process and talks to a
``WorkspaceAPI(records=True)`` (the launcher, step runner, orchestrators, heartbeat, ``log_metadata``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from runyard.schemas.status import ResourceType, RunStatus, StepStatus

if TYPE_CHECKING:
    from runyard.schemas import (
        ArtifactVersionCreate,
        ArtifactVersionRead,
        CacheLookup,
        CacheLookupResult,
        ComponentRead,
        MetadataCreate,
        PipelineCreate,
        PipelineRead,
        RunCreate,
        RunRead,
        RunUpdate,
        SnapshotCreate,
        SnapshotRead,
        StackRead,
        StepOutputLink,
        StepRunCreate,
        StepRunFilter,
        StepRunRead,
        StepRunUpdate,
    )
    from runyard.schemas.base import PageRequest
else:
    from runyard.client.records import (
        ArtifactVersionCreate,
        ArtifactVersionRead,
        CacheLookup,
        CacheLookupResult,
        ComponentRead,
        MetadataCreate,
        PageRequest,
        PipelineCreate,
        PipelineRead,
        RunCreate,
        RunRead,
        RunUpdate,
        SnapshotCreate,
        SnapshotRead,
        StackRead,
        StepOutputLink,
        StepRunCreate,
        StepRunFilter,
        StepRunRead,
        StepRunUpdate,
    )

__all__ = [
    "ArtifactVersionCreate",
    "ArtifactVersionRead",
    "CacheLookup",
    "CacheLookupResult",
    "ComponentRead",
    "MetadataCreate",
    "PageRequest",
    "PipelineCreate",
    "PipelineRead",
    "ResourceType",
    "RunCreate",
    "RunRead",
    "RunStatus",
    "RunUpdate",
    "SnapshotCreate",
    "SnapshotRead",
    "StackRead",
    "StepOutputLink",
    "StepRunCreate",
    "StepRunFilter",
    "StepRunRead",
    "StepRunUpdate",
    "StepStatus",
]
