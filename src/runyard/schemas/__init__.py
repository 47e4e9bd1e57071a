"""Wire schemas of the workspace API, by role (Create, Update, Read, Filter).

This package imports neither the database nor the client: the service layer, the HTTP routes and both
client transports all speak these models, which is what makes the API "defined once".

Importing the package is cheap: each name is imported from its submodule on first use (module
``__getattr__``), so ``import runyard.schemas.status`` does not load pydantic and build every model, which
the pydantic-free pipeline process (``runyard.client.records``) relies on.
"""

from __future__ import annotations

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

#: Public name -> the submodule defining it.
_SUBMODULE = {
    "ArtifactRead": "artifacts",
    "ArtifactVersionCreate": "artifacts",
    "ArtifactVersionFilter": "artifacts",
    "ArtifactVersionRead": "artifacts",
    "CacheLookup": "steps",
    "CacheLookupResult": "steps",
    "ComponentCreate": "stacks",
    "ComponentRead": "stacks",
    "ComponentUpdate": "stacks",
    "FlavorRead": "stacks",
    "LineageRead": "artifacts",
    "MetadataCreate": "metadata",
    "Page": "base",
    "PipelineCreate": "pipelines",
    "PipelineFilter": "pipelines",
    "PipelineRead": "pipelines",
    "ResourceType": "metadata",
    "RunCreate": "runs",
    "RunFilter": "runs",
    "RunRead": "runs",
    "RunStatus": "status",
    "RunStepRead": "steps",
    "RunStepsPage": "steps",
    "RunUpdate": "runs",
    "SCHEMA_VERSION": "base",
    "SecretCreate": "secrets",
    "SecretRead": "secrets",
    "SecretUpdate": "secrets",
    "SecretValuesRead": "secrets",
    "SnapshotCreate": "pipelines",
    "SnapshotRead": "pipelines",
    "StackCreate": "stacks",
    "StackRead": "stacks",
    "StackUpdate": "stacks",
    "StepOutputLink": "steps",
    "StepRunCreate": "steps",
    "StepRunFilter": "steps",
    "StepRunRead": "steps",
    "StepRunUpdate": "steps",
    "StepStatus": "status",
}


def __getattr__(name: str) -> Any:
    submodule = _SUBMODULE.get(name)
    if submodule is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(f"{__name__}.{submodule}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


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
