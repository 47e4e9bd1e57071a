"""``/runs/{run_id}/logs``: a range of a run's (or one step's) log lines, read from its log backend.

The server reads the backend (e.g. the artifact store's log files) so clients never need the store's
credentials just to read logs; ``next_offset`` continues where a page stopped (``--follow`` polls it).
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from fastapi.responses import StreamingResponse

from runyard.schemas.logs import LEVEL_PATTERN, LogAppend, LogPage, LogQuery, LogStreamRead
from runyard.workspace.api.deps import Authorize, DatabaseDep, Principal, Project, ReadSession, WriteSession
from runyard.workspace.api.errors import ERROR_RESPONSES
from runyard.workspace.services import logs as service
from runyard.workspace.services import runs as run_service

router = APIRouter(tags=["logs"], responses=ERROR_RESPONSES)

CanRead = Annotated[Principal, Depends(Authorize("runs:read"))]


@router.get("/runs/{run_id}/logs", operation_id="logs-read")
def read_logs(
    principal: CanRead, project: Project, session: ReadSession, run_id: uuid.UUID, query: Annotated[LogQuery, Query()]
) -> LogPage:
    return service.read_logs(session, project=project, run_id=run_id, query=query)


CanWrite = Annotated[Principal, Depends(Authorize("runs:write"))]


@router.post("/runs/{run_id}/logs", operation_id="logs-append")
def append_logs(
    principal: CanWrite, project: Project, session: WriteSession, run_id: uuid.UUID, batch: LogAppend
) -> LogStreamRead:
    return service.append_logs(session, project=project, run_id=run_id, batch=batch)


@router.get(
    "/runs/{run_id}/logs/stream",
    operation_id="logs-stream",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}, "description": "Server-Sent Events, one per line."}},
)
def stream_logs(
    principal: CanRead,
    project: Project,
    db: DatabaseDep,
    run_id: uuid.UUID,
    step: Annotated[str | None, Query(max_length=250, description="One step; omit for the whole run.")] = None,
    level: Annotated[str | None, Query(pattern=LEVEL_PATTERN)] = None,
) -> StreamingResponse:
    """New lines as Server-Sent Events until the run has ended and every log is complete.

    Each event's ``data`` is a JSON log line with its ``step``; ``id`` is ``step:offset`` so a client can
    tell where it stopped. The stream ends with an ``end`` event.
    """
    with db.session(write=False) as session:
        run_service.get_run(session, project=project, run_id=run_id)  # 404 before the stream starts
    return StreamingResponse(
        service.follow_events(db, run_id=run_id, step=step, level=level, project=project),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
