"""``/steps``: step runs of a run (create, read, list, report status and outputs) and cache look-ups."""

from __future__ import annotations

import uuid
from typing import Annotated

import orjson
from fastapi import APIRouter, Depends, Query
from starlette.responses import Response

from runyard.schemas.base import Page, PageRequest
from runyard.schemas.steps import (
    CacheLookup,
    CacheLookupResult,
    RunStepsPage,
    StepRunCreate,
    StepRunFilter,
    StepRunRead,
    StepRunUpdate,
)
from runyard.workspace.api.deps import (
    Authorize,
    DatabaseDep,
    Principal,
    Project,
    ReadSession,
    in_transaction,
)
from runyard.workspace.api.errors import ERROR_RESPONSES
from runyard.workspace.api.responses import JSONBytes
from runyard.workspace.api.status_reports import StatusReportRoute
from runyard.workspace.services import step_json
from runyard.workspace.services import steps as service

router = APIRouter(tags=["steps"], responses=ERROR_RESPONSES)

# step runs are part of their run: a runner holding runs:write reports its steps
CanRead = Annotated[Principal, Depends(Authorize("runs:read"))]
CanWrite = Annotated[Principal, Depends(Authorize("runs:write"))]


#: ``?brief=true`` on a step report: what a runner asks for (it reads only the answer's status).
Brief = Annotated[bool, Query(description="Answer without the step's artifact links and metadata (a runner's "
                                          "own reports: it knows them).")]


@router.post("/steps", operation_id="steps-create", status_code=201)
async def create_step_run(
    principal: CanWrite, project: Project, db: DatabaseDep, step: StepRunCreate, brief: Brief = False
) -> StepRunRead:
    # every step's start comes through here: the write and its commit in one thread-pool call
    return await in_transaction(db, service.create_step_run, write=True, project=project, step=step, brief=brief)


# a POST because the lookup carries a body, but it only reads; ``{step_run_id:uuid}`` below keeps
# "cache-lookup" from matching the step routes (a PATCH here is a 405, not a malformed id)
@router.post("/steps/cache-lookup", operation_id="steps-cache_lookup")
def lookup_cache(principal: CanRead, project: Project, session: ReadSession, lookup: CacheLookup) -> CacheLookupResult:
    return service.lookup_cache(session, project=project, lookup=lookup)


@router.get("/steps/{step_run_id:uuid}", operation_id="steps-get")
def get_step_run(principal: CanRead, project: Project, session: ReadSession, step_run_id: uuid.UUID) -> StepRunRead:
    return service.get_step_run(session, project=project, step_run_id=step_run_id)


@router.get("/steps", operation_id="steps-list")
def list_step_runs(
    principal: CanRead, project: Project, session: ReadSession, filter: Annotated[StepRunFilter, Query()]
) -> Page[StepRunRead]:
    return service.list_step_runs(session, project=project, filter=filter, visible=principal.visible)


@router.get("/runs/{run_id}/steps", operation_id="steps-list_of_run", response_model=RunStepsPage)
def list_run_steps(
    principal: CanRead, project: Project, session: ReadSession, run_id: uuid.UUID, page: Annotated[PageRequest, Query()]
) -> Response:
    """A run's step runs in run order, each artifact version once per page (``artifact_versions``)."""
    # written as JSON from the rows (services/step_json.py): the same answer as RunStepsPage, whose models
    # cost most of a 500-step page's CPU; they remain the fallback for values orjson cannot write
    try:
        return JSONBytes(step_json.list_run_steps_json(session, project=project, run_id=run_id, page=page))
    except orjson.JSONEncodeError:
        page_read = service.list_run_steps(session, project=project, run_id=run_id, page=page)
        return JSONBytes(page_read.model_dump_json().encode())


# runners' status-only reports are answered by the route class itself (api/status_reports.py); FastAPI's
# handler of this function answers every other request
async def update_step_run(
    principal: CanWrite, project: Project, db: DatabaseDep, step_run_id: uuid.UUID, update: StepRunUpdate,
    brief: Brief = False,
) -> StepRunRead:
    # every step's start and end comes through here: the report and its commit in one thread-pool call
    return await in_transaction(db, service.update_step_run, write=True, project=project, step_run_id=step_run_id,
                                update=update, brief=brief)


router.add_api_route("/steps/{step_run_id:uuid}", update_step_run, methods=["PATCH"], operation_id="steps-update",
                     route_class_override=StatusReportRoute)
