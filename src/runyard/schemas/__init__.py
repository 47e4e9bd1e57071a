"""Wire schemas of the workspace API, by role (Create, Update, Read, Filter).

This package imports neither the database nor the client: the service layer, the HTTP routes and both
client transports all speak these models, which is what makes the API "defined once".
"""

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
