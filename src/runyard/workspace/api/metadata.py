"""``/metadata``: key/value metadata logged on runs, step runs and artifact versions."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from runyard.schemas.metadata import MetadataCreate
from runyard.workspace.api.deps import Authorize, Principal, Project, WriteSession
from runyard.workspace.api.errors import ERROR_RESPONSES
from runyard.workspace.services import metadata as service

router = APIRouter(tags=["metadata"], responses=ERROR_RESPONSES)

# metadata is logged from inside steps, by the run's runner
CanWrite = Annotated[Principal, Depends(Authorize("runs:write"))]


@router.post("/metadata", operation_id="metadata-create", status_code=204)
def add_metadata(principal: CanWrite, project: Project, session: WriteSession, metadata: MetadataCreate) -> None:
    service.add_metadata(session, project=project, metadata=metadata)
