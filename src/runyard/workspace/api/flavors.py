"""``/flavors``: the component implementations installed where the workspace runs (built-ins and plugins)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from runyard.schemas.stacks import FlavorRead
from runyard.workspace.api.deps import Authorize, Principal, ReadSession
from runyard.workspace.api.errors import ERROR_RESPONSES
from runyard.workspace.services import stacks as service

router = APIRouter(tags=["flavors"], responses=ERROR_RESPONSES)

CanRead = Annotated[Principal, Depends(Authorize("stacks:read"))]


@router.get("/flavors", operation_id="flavors-list")
def list_flavors(
    principal: CanRead,
    session: ReadSession,
    type: Annotated[str | None, Query(pattern=r"^[a-z_]{1,50}$", description="Only this component type.")] = None,
) -> list[FlavorRead]:
    return service.list_flavors(session, type=type)
