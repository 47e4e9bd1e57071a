"""The audit log over HTTP: admins list and export it; Workspace Servers forward their events to it."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query
from fastapi.responses import StreamingResponse
from pydantic import BaseModel

from runyard.control_plane.api.deps import ControlPlaneDep, CurrentActor, OrgAccess, Require
from runyard.control_plane.audit_sink import to_record_kwargs
from runyard.control_plane.db.models import ServiceAccountRow
from runyard.control_plane.rbac import allows
from runyard.control_plane.schemas import AuditEventRead, AuditIngest
from runyard.control_plane.services import audit, roles
from runyard.exceptions import PermissionDenied

router = APIRouter(prefix="/api/v1", tags=["audit"])
CanReadAudit = Annotated[OrgAccess, Depends(Require("audit:read"))]


class AuditPage(BaseModel):
    items: list[AuditEventRead]
    next_cursor: str | None = None


@router.get("/orgs/{org}/audit", operation_id="audit-list")
def list_audit(
    access: CanReadAudit, cp: ControlPlaneDep,
    since: datetime | None = None, until: datetime | None = None,
    action: Annotated[str | None, Query(max_length=64)] = None,
    actor: Annotated[str | None, Query(max_length=320)] = None,
    outcome: Literal["success", "denied", "failure"] | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> AuditPage:
    with cp.db.session(write=False) as session:
        rows, next_cursor = audit.list_events(session, org_id=access.org.id, since=since, until=until, action=action,
                                              actor=actor, outcome=outcome, limit=limit, cursor=cursor)
        return AuditPage(items=[AuditEventRead.model_validate(r) for r in rows], next_cursor=next_cursor)


@router.get("/orgs/{org}/audit/export", operation_id="audit-export")
def export_audit(
    access: CanReadAudit, cp: ControlPlaneDep,
    format: Literal["jsonl", "csv"] = "jsonl",
    since: datetime | None = None, until: datetime | None = None,
) -> StreamingResponse:
    """Every matching event, oldest last, streamed (a long export never holds the log in memory)."""
    with cp.db.session(write=False) as session:  # materialized per 500-row page by iter_all
        chunks = list(audit.export(audit.iter_all(session, org_id=access.org.id, since=since, until=until),
                                   fmt=format))
    media = "text/csv" if format == "csv" else "application/x-ndjson"
    audit.record_in_own_transaction(cp.db, action="audit.export", actor=access.actor, org_id=access.org.id,
                                    details={"format": format})
    return StreamingResponse(iter(chunks), media_type=media,
                             headers={"Content-Disposition": f'attachment; filename="audit.{format}"'})


@router.post("/audit/ingest", operation_id="audit-ingest", status_code=204)
def ingest(actor: CurrentActor, cp: ControlPlaneDep, body: AuditIngest) -> None:
    """Events from a Workspace Server, sent with a service account's key holding ``audit:create``; they
    are filed under that service account's organization, whatever the events claim."""
    with cp.db.session(write=True) as session:
        account = session.get(ServiceAccountRow, actor.id) if actor.kind == "service_account" else None
        if account is None:
            raise PermissionDenied("Only a workspace's service account may forward audit events.")
        held = roles.org_permissions(session, subject_type="service_account", subject_id=account.id,
                                     org_id=account.org_id)
        if not allows(held, "audit:create"):
            raise PermissionDenied("This service account may not write audit events.")
        for event in body.events:
            kwargs = to_record_kwargs(event)
            kwargs["org_id"] = account.org_id
            kwargs["details"] = {**kwargs["details"], "forwarded_by": account.name}
            audit.record(session, **kwargs)
