"""``/runs``: create (idempotent by client-chosen id), read, list (keyset), status changes, cancel, delete.

Status changes go through the server's state machine inside ``update_run``; a refused one is a 409
``invalid_transition`` whose hint lists the allowed next statuses. ``POST /runs/{id}/cancel`` is a
person's request to stop a run (a 409 when it has already finished).
"""

from __future__ import annotations

import uuid
from typing import Annotated
from urllib.parse import urlparse

from fastapi import APIRouter, Depends, Query, Request

from runyard.exceptions import PermissionDenied
from runyard.schemas.base import Page
from runyard.schemas.runs import RunCreate, RunFilter, RunRead, RunUpdate
from runyard.workspace.api.deps import Authorize, Principal, Project, ReadSession, WriteSession
from runyard.workspace.api.errors import ERROR_RESPONSES
from runyard.workspace.services import runs as service

router = APIRouter(tags=["runs"], responses=ERROR_RESPONSES)

CanRead = Annotated[Principal, Depends(Authorize("runs:read"))]
CanWrite = Annotated[Principal, Depends(Authorize("runs:write"))]
CanUpdate = Annotated[Principal, Depends(Authorize("runs:update"))]


@router.post("/runs", operation_id="runs-create", status_code=201)
def create_run(principal: CanWrite, project: Project, session: WriteSession, run: RunCreate) -> RunRead:
    return service.create_run(session, project=project, run=run)


@router.get("/runs/{run_id}", operation_id="runs-get")
def get_run(principal: CanRead, project: Project, session: ReadSession, run_id: uuid.UUID) -> RunRead:
    return service.get_run(session, project=project, run_id=run_id)


@router.get("/runs", operation_id="runs-list")
def list_runs(
    principal: CanRead, project: Project, session: ReadSession, filter: Annotated[RunFilter, Query()]
) -> Page[RunRead]:
    return service.list_runs(session, project=project, filter=filter, visible=principal.visible)


@router.patch("/runs/{run_id}", operation_id="runs-update")
def update_run(
    principal: CanWrite, project: Project, session: WriteSession, run_id: uuid.UUID, update: RunUpdate
) -> RunRead:
    return service.update_run(session, project=project, run_id=run_id, update=update)


def not_cross_site(request: Request) -> None:
    """A cancel has no body, so a browser would send it from another site without a CORS preflight (to a
    local server without auth, say): refuse what the browser marks as cross-site. API clients send no
    ``Origin`` and pass; the dashboard's own button is same-origin."""
    origin = request.headers.get("origin")
    if request.headers.get("sec-fetch-site") == "cross-site" or (
        origin is not None and urlparse(origin).netloc != request.url.netloc
    ):
        raise PermissionDenied("Requests from another site may not cancel runs.",
                               hint="Cancel it from the dashboard, `runyard run cancel` or the API.")


@router.post("/runs/{run_id}/cancel", operation_id="runs-cancel", dependencies=[Depends(not_cross_site)])
def cancel_run(principal: CanUpdate, project: Project, session: WriteSession, run_id: uuid.UUID) -> RunRead:
    return service.cancel_run(session, project=project, run_id=run_id)


@router.delete("/runs/{run_id}", operation_id="runs-delete", status_code=204)
def delete_run(principal: CanWrite, project: Project, session: WriteSession, run_id: uuid.UUID) -> None:
    service.delete_run(session, project=project, run_id=run_id)
