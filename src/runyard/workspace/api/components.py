"""``/components``: stack components, addressed by type and name (a name is unique per type)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query

from runyard.schemas.stacks import ComponentCreate, ComponentRead, ComponentUpdate
from runyard.workspace.api.deps import Authorize, Principal, Project, ReadSession, WriteSession
from runyard.workspace.api.errors import ERROR_RESPONSES
from runyard.workspace.services import stacks as service

router = APIRouter(tags=["components"], responses=ERROR_RESPONSES)

CanRead = Annotated[Principal, Depends(Authorize("stacks:read"))]
CanWrite = Annotated[Principal, Depends(Authorize("stacks:write"))]
ComponentType = Annotated[str, Path(pattern=r"^[a-z_]{1,50}$", description="orchestrator, artifact_store, ...")]
NameOrId = Annotated[str, Path(min_length=1, max_length=250)]


@router.post("/components", operation_id="components-create", status_code=201)
def create_component(
    principal: CanWrite, project: Project, session: WriteSession, component: ComponentCreate
) -> ComponentRead:
    return service.create_component(session, project=project, component=component)


@router.get("/components/{type}/{name_or_id}", operation_id="components-get")
def get_component(
    principal: CanRead, project: Project, session: ReadSession, type: ComponentType, name_or_id: NameOrId
) -> ComponentRead:
    return service.get_component(session, project=project, type=type, name_or_id=name_or_id)


@router.get("/components", operation_id="components-list")
def list_components(
    principal: CanRead,
    project: Project,
    session: ReadSession,
    type: Annotated[str | None, Query(pattern=r"^[a-z_]{1,50}$")] = None,
) -> list[ComponentRead]:
    return service.list_components(session, project=project, type=type, visible=principal.visible)


@router.patch("/components/{type}/{name_or_id}", operation_id="components-update")
def update_component(
    principal: CanWrite,
    project: Project,
    session: WriteSession,
    type: ComponentType,
    name_or_id: NameOrId,
    update: ComponentUpdate,
) -> ComponentRead:
    return service.update_component(session, project=project, type=type, name_or_id=name_or_id, update=update)


@router.delete("/components/{type}/{name_or_id}", operation_id="components-delete", status_code=204)
def delete_component(
    principal: CanWrite, project: Project, session: WriteSession, type: ComponentType, name_or_id: NameOrId
) -> None:
    service.delete_component(session, project=project, type=type, name_or_id=name_or_id)
