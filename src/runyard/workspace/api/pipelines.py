"""``/pipelines``: register (idempotent by name), read, list, delete."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query

from runyard.schemas.base import Page
from runyard.schemas.pipelines import PipelineCreate, PipelineFilter, PipelineRead
from runyard.workspace.api.deps import Authorize, Principal, Project, ReadSession, WriteSession
from runyard.workspace.api.errors import ERROR_RESPONSES
from runyard.workspace.services import pipelines as service

router = APIRouter(tags=["pipelines"], responses=ERROR_RESPONSES)

CanRead = Annotated[Principal, Depends(Authorize("pipelines:read"))]
CanWrite = Annotated[Principal, Depends(Authorize("pipelines:write"))]
NameOrId = Annotated[str, Path(min_length=1, max_length=250)]


@router.post("/pipelines", operation_id="pipelines-create", status_code=201)
def create_pipeline(
    principal: CanWrite, project: Project, session: WriteSession, pipeline: PipelineCreate
) -> PipelineRead:
    return service.get_or_create_pipeline(session, project=project, pipeline=pipeline)


@router.get("/pipelines/{name_or_id}", operation_id="pipelines-get")
def get_pipeline(principal: CanRead, project: Project, session: ReadSession, name_or_id: NameOrId) -> PipelineRead:
    return service.get_pipeline(session, project=project, name_or_id=name_or_id)


@router.get("/pipelines", operation_id="pipelines-list")
def list_pipelines(
    principal: CanRead, project: Project, session: ReadSession, filter: Annotated[PipelineFilter, Query()]
) -> Page[PipelineRead]:
    return service.list_pipelines(session, project=project, filter=filter, visible=principal.visible)


@router.delete("/pipelines/{name_or_id}", operation_id="pipelines-delete", status_code=204)
def delete_pipeline(principal: CanWrite, project: Project, session: WriteSession, name_or_id: NameOrId) -> None:
    service.delete_pipeline(session, project=project, name_or_id=name_or_id)
