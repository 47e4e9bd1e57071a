"""Wire schemas of the workspace API, by role (Create, Update, Read, Filter).

This package imports neither the database nor the client: the service layer, the HTTP routes and both
client transports all speak these models, which is what makes the API "defined once".

The names load on first use (PEP 562): importing ``runyard.schemas.status`` for the run statuses, as the
pipeline process does, must not import pydantic and build every model.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from runyard.schemas.artifacts import (
        ArtifactRead,
        ArtifactVersionCreate,
        ArtifactVersionFilter,
        ArtifactVersionRead,
        LineageRead,
    )
    from runyard.schemas.base import SCHEMA_VERSION, Page
    from runyard.schemas.metadata import MetadataCreate, ResourceType
    from runyard.schemas.pipelines import (
        PipelineCreate,
        PipelineFilter,
        PipelineRead,
        SnapshotCreate,
        SnapshotRead,
    )
    from runyard.schemas.runs import RunCreate, RunFilter, RunRead, RunUpdate
    from runyard.schemas.secrets import SecretCreate, SecretRead, SecretUpdate, SecretValuesRead
    from runyard.schemas.stacks import (
        ComponentCreate,
        ComponentRead,
        ComponentUpdate,
        FlavorRead,
        StackCreate,
        StackRead,
        StackUpdate,
    )
    from runyard.schemas.status import RunStatus, StepStatus
    from runyard.schemas.steps import (
        CacheLookup,
        CacheLookupResult,
        RunStepRead,
        RunStepsPage,
        StepOutputLink,
        StepRunCreate,
        StepRunFilter,
        StepRunRead,
        StepRunUpdate,
    )

#: public name -> the submodule that defines it
_HOME = {
    "ArtifactRead": "runyard.schemas.artifacts",
    "ArtifactVersionCreate": "runyard.schemas.artifacts",
    "ArtifactVersionFilter": "runyard.schemas.artifacts",
    "ArtifactVersionRead": "runyard.schemas.artifacts",
    "LineageRead": "runyard.schemas.artifacts",
    "SCHEMA_VERSION": "runyard.schemas.constants",
    "Page": "runyard.schemas.base",
    "MetadataCreate": "runyard.schemas.metadata",
    "ResourceType": "runyard.schemas.status",
    "PipelineCreate": "runyard.schemas.pipelines",
    "PipelineFilter": "runyard.schemas.pipelines",
    "PipelineRead": "runyard.schemas.pipelines",
    "SnapshotCreate": "runyard.schemas.pipelines",
    "SnapshotRead": "runyard.schemas.pipelines",
    "RunCreate": "runyard.schemas.runs",
    "RunFilter": "runyard.schemas.runs",
    "RunRead": "runyard.schemas.runs",
    "RunUpdate": "runyard.schemas.runs",
    "SecretCreate": "runyard.schemas.secrets",
    "SecretRead": "runyard.schemas.secrets",
    "SecretUpdate": "runyard.schemas.secrets",
    "SecretValuesRead": "runyard.schemas.secrets",
    "ComponentCreate": "runyard.schemas.stacks",
    "ComponentRead": "runyard.schemas.stacks",
    "ComponentUpdate": "runyard.schemas.stacks",
    "FlavorRead": "runyard.schemas.stacks",
    "StackCreate": "runyard.schemas.stacks",
    "StackRead": "runyard.schemas.stacks",
    "StackUpdate": "runyard.schemas.stacks",
    "RunStatus": "runyard.schemas.status",
    "StepStatus": "runyard.schemas.status",
    "CacheLookup": "runyard.schemas.steps",
    "CacheLookupResult": "runyard.schemas.steps",
    "RunStepRead": "runyard.schemas.steps",
    "RunStepsPage": "runyard.schemas.steps",
    "StepOutputLink": "runyard.schemas.steps",
    "StepRunCreate": "runyard.schemas.steps",
    "StepRunFilter": "runyard.schemas.steps",
    "StepRunRead": "runyard.schemas.steps",
    "StepRunUpdate": "runyard.schemas.steps",
}


def __getattr__(name: str) -> Any:
    module = _HOME.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later lookups skip this function
    return value

__all__ = [
    "SCHEMA_VERSION",
    "ArtifactRead",
    "ArtifactVersionCreate",
    "ArtifactVersionFilter",
    "ArtifactVersionRead",
    "CacheLookup",
    "CacheLookupResult",
    "ComponentCreate",
    "ComponentRead",
    "ComponentUpdate",
    "FlavorRead",
    "LineageRead",
    "MetadataCreate",
    "Page",
    "PipelineCreate",
    "PipelineFilter",
    "PipelineRead",
    "ResourceType",
    "RunCreate",
    "RunFilter",
    "RunRead",
    "RunStatus",
    "RunStepRead",
    "RunStepsPage",
    "RunUpdate",
    "SecretCreate",
    "SecretRead",
    "SecretUpdate",
    "SecretValuesRead",
    "SnapshotCreate",
    "SnapshotRead",
    "StackCreate",
    "StackRead",
    "StackUpdate",
    "StepOutputLink",
    "StepRunCreate",
    "StepRunFilter",
    "StepRunRead",
    "StepRunUpdate",
    "StepStatus",
]
