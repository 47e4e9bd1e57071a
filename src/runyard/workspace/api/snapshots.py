"""``/snapshots``: a compiled pipeline spec with its stack and configuration, runnable again later."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends

from runyard.schemas.pipelines import SnapshotCreate, SnapshotRead
from runyard.workspace.api.deps import Authorize, Principal, Project, ReadSession, WriteSession
from runyard.workspace.api.errors import ERROR_RESPONSES
from runyard.workspace.services import pipelines as service

router = APIRouter(tags=["snapshots"], responses=ERROR_RESPONSES)

# snapshots belong to their pipeline, so pipeline permissions govern them
CanRead = Annotated[Principal, Depends(Authorize("pipelines:read"))]
CanWrite = Annotated[Principal, Depends(Authorize("pipelines:write"))]


@router.post("/snapshots", operation_id="snapshots-create", status_code=201)
def create_snapshot(
    principal: CanWrite, project: Project, session: WriteSession, snapshot: SnapshotCreate
) -> SnapshotRead:
    return service.create_snapshot(session, project=project, snapshot=snapshot)


@router.get("/snapshots/{snapshot_id}", operation_id="snapshots-get")
def get_snapshot(principal: CanRead, project: Project, session: ReadSession, snapshot_id: uuid.UUID) -> SnapshotRead:
    return service.get_snapshot(session, project=project, snapshot_id=snapshot_id)
