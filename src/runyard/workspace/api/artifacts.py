"""``/artifacts`` and ``/artifact-versions``: names, their immutable versions, and lineage.

Versions are registered only through a step's report (``PATCH /steps/{id}``), so that every version has
a producer; there is no create route here on purpose.
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query

from runyard.schemas.artifacts import ArtifactRead, ArtifactVersionFilter, ArtifactVersionRead, LineageRead
from runyard.schemas.base import Page, PageRequest
from runyard.workspace.api.deps import Authorize, Principal, Project, ReadSession
from runyard.workspace.api.errors import ERROR_RESPONSES
from runyard.workspace.services import artifacts as service

router = APIRouter(responses=ERROR_RESPONSES)

CanRead = Annotated[Principal, Depends(Authorize("artifacts:read"))]


@router.get("/artifacts", operation_id="artifacts-list", tags=["artifacts"])
def list_artifacts(
    principal: CanRead, project: Project, session: ReadSession, page: Annotated[PageRequest, Query()]
) -> Page[ArtifactRead]:
    return service.list_artifacts(session, project=project, page=page, visible=principal.visible)


@router.get("/artifact-versions", operation_id="artifact_versions-list", tags=["artifact_versions"])
def list_artifact_versions(
    principal: CanRead, project: Project, session: ReadSession, filter: Annotated[ArtifactVersionFilter, Query()]
) -> Page[ArtifactVersionRead]:
    return service.list_artifact_versions(session, project=project, filter=filter, visible=principal.visible)


# ``:uuid`` so that an artifact *named* "x/lineage" is not taken for a malformed id (it falls through to the
# name route below)
@router.get(
    "/artifact-versions/{version_id:uuid}/lineage", operation_id="artifact_versions-lineage",
    tags=["artifact_versions"],
)
def get_lineage(principal: CanRead, project: Project, session: ReadSession, version_id: uuid.UUID) -> LineageRead:
    return service.get_lineage(session, project=project, version_id=version_id)


# ``:path`` so an artifact named "data/train" (sent as data%2Ftrain) is found; declared after the lineage
# route, which would otherwise be swallowed by it
@router.get("/artifact-versions/{name_or_id:path}", operation_id="artifact_versions-get", tags=["artifact_versions"])
def get_artifact_version(
    principal: CanRead,
    project: Project,
    session: ReadSession,
    name_or_id: Annotated[str, Path(min_length=1, max_length=250)],
    version: Annotated[int | None, Query(ge=1, le=2**31 - 1, description="Default: the newest")] = None,
) -> ArtifactVersionRead:
    return service.get_artifact_version(session, project=project, name_or_id=name_or_id, version=version)
