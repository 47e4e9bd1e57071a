"""``/health``: liveness and readiness of the Workspace Server in one answer.

It answers at all -> the process is alive. ``database: ok`` and status 200 -> ready to serve; 503 when
the database cannot be reached, so a load balancer stops sending requests and ``runyard login`` can say
why. The body never carries the database error itself (it may name hosts or users): that goes to the log.
"""

from __future__ import annotations

import logging
from typing import Literal

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy import text

from runyard import __version__
from runyard.schemas.base import SCHEMA_VERSION
from runyard.workspace.api.deps import DatabaseHandle

logger = logging.getLogger("runyard.server")

router = APIRouter(tags=["server"])


class HealthRead(BaseModel):
    status: Literal["ok", "unavailable"]
    database: Literal["ok", "unavailable"]
    version: str
    schema_version: int


@router.get("/health", operation_id="server-health", response_model=HealthRead,
            responses={503: {"model": HealthRead, "description": "The database is unreachable"}})
def health(request: Request) -> JSONResponse:
    handle: DatabaseHandle = request.app.state.database
    ok = database_reachable(handle)
    body = HealthRead(status="ok" if ok else "unavailable", database="ok" if ok else "unavailable",
                      version=__version__, schema_version=SCHEMA_VERSION)
    return JSONResponse(body.model_dump(), status_code=200 if ok else 503)


def database_reachable(handle: DatabaseHandle) -> bool:
    try:
        db = handle.get()
        with db.read_engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:
        logger.warning("health check: database unreachable: %s", exc)
        return False
    return True
