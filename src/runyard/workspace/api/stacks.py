"""``/stacks``: named sets of components (orchestrator, artifact store, ...); ``default`` always exists."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path

from runyard.schemas.stacks import StackCreate, StackRead, StackUpdate
from runyard.workspace.api.deps import Authorize, Principal, Project, WriteSession
from runyard.workspace.api.errors import ERROR_RESPONSES
from runyard.workspace.services import stacks as service

router = APIRouter(tags=["stacks"], responses=ERROR_RESPONSES)

CanRead = Annotated[Principal, Depends(Authorize("stacks:read"))]
CanWrite = Annotated[Principal, Depends(Authorize("stacks:write"))]
NameOrId = Annotated[str, Path(min_length=1, max_length=250)]


@router.post("/stacks", operation_id="stacks-create", status_code=201)
def create_stack(principal: CanWrite, project: Project, session: WriteSession, stack: StackCreate) -> StackRead:
    return service.create_stack(session, project=project, stack=stack)


# reads of the default stack may create it on first use, hence a write session
@router.get("/stacks/{name_or_id}", operation_id="stacks-get")
def get_stack(principal: CanRead, project: Project, session: WriteSession, name_or_id: NameOrId) -> StackRead:
    return service.get_stack(session, project=project, name_or_id=name_or_id)


@router.get("/stacks", operation_id="stacks-list")
def list_stacks(principal: CanRead, project: Project, session: WriteSession) -> list[StackRead]:
    return service.list_stacks(session, project=project, visible=principal.visible)


@router.patch("/stacks/{name_or_id}", operation_id="stacks-update")
def update_stack(
    principal: CanWrite, project: Project, session: WriteSession, name_or_id: NameOrId, update: StackUpdate
) -> StackRead:
    return service.update_stack(session, project=project, name_or_id=name_or_id, update=update)


@router.delete("/stacks/{name_or_id}", operation_id="stacks-delete", status_code=204)
def delete_stack(principal: CanWrite, project: Project, session: WriteSession, name_or_id: NameOrId) -> None:
    service.delete_stack(session, project=project, name_or_id=name_or_id)
