"""``/api/v1/orgs/{org}/shares``: share one pipeline or stack with a user or team; list; revoke.

The caller's permissions are taken at the resource's project (organization, workspace and project
grants, plus shares of that resource), in the service layer, so no route can forget the check.
Listing shows the shares the caller could revoke, and the ones given to them or their teams.
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from sqlalchemy.orm import Session

from runyard.control_plane.api.deps import ControlPlaneDep, OrgAccess, org_access
from runyard.control_plane.db.models import ProjectRow, ShareRow, WorkspaceRow
from runyard.control_plane.rbac import allows
from runyard.control_plane.schemas import ShareCreate, ShareRead
from runyard.control_plane.services import orgs, roles, shares, users
from runyard.exceptions import InvalidInput, NotFound
from runyard.schemas.base import DEFAULT_PROJECT

router = APIRouter(prefix="/api/v1/orgs/{org}", tags=["shares"])

Member = Annotated[OrgAccess, Depends(org_access)]


def _held(session: Session, access: OrgAccess, target: shares.Target) -> frozenset[str]:
    """What the caller may do in the target's project, plus what shares of that resource give them."""
    held = set(access.permissions)
    if access.actor.id is not None and not access.actor.is_superuser:
        scoped = roles.workspace_permissions(session, subject_type=access.actor.subject_type,
                                             subject_id=access.actor.id, workspace=target.workspace)
        held |= scoped.in_project(target.project.name)
        held |= shares.held_through_shares(session, actor=access.actor, target=target)
    return frozenset(held)


def _project(session: Session, access: OrgAccess, workspace: WorkspaceRow, name: str) -> ProjectRow:
    """The project; ``default`` exists in every workspace without being created, so its row is made here."""
    try:
        return orgs.get_project(session, workspace_id=workspace.id, name=name)
    except NotFound:
        if name != DEFAULT_PROJECT:
            raise
        return orgs.create_project(session, workspace=workspace, name=name, actor=access.actor)


@router.post("/shares", operation_id="shares-create", status_code=201)
def create_share(access: Member, cp: ControlPlaneDep, body: ShareCreate) -> ShareRead:
    with cp.db.session(write=True) as session:
        workspace = orgs.get_workspace(session, org_id=access.org.id, name=body.workspace)
        project = _project(session, access, workspace, body.project)
        target = shares.Target(workspace, project, body.resource_type, body.resource_id, body.resource_name)
        if body.subject_type == "user":
            subject_id = users.get_member_by_email(session, org_id=access.org.id, email=body.subject).id
        else:
            subject_id = orgs.get_team(session, org_id=access.org.id, name=body.subject).id
        row = shares.create_share(session, org_id=access.org.id, target=target, subject_type=body.subject_type,
                                  subject_id=subject_id, subject_label=body.subject, role=body.role,
                                  permissions=list(body.permissions) if body.permissions else None,
                                  actor=access.actor, held=_held(session, access, target))
        return shares.describe(session, [row])[0]


@router.get("/shares", operation_id="shares-list")
def list_shares(
    access: Member, cp: ControlPlaneDep,
    workspace: Annotated[str | None, Query(max_length=64)] = None,
    project: Annotated[str | None, Query(max_length=64, description="Needs `workspace`.")] = None,
    resource_id: uuid.UUID | None = None,
) -> list[ShareRead]:
    if project and not workspace:
        raise InvalidInput("`project` needs `workspace` (a project lives in a workspace).")
    with cp.db.session(write=False) as session:
        ws_row = orgs.get_workspace(session, org_id=access.org.id, name=workspace) if workspace else None
        project_id = orgs.get_project(session, workspace_id=ws_row.id, name=project).id if ws_row and project \
            else None
        rows = shares.list_shares(session, org_id=access.org.id, workspace_id=ws_row.id if ws_row else None,
                                  project_id=project_id, resource_id=resource_id)
        if not allows(access.permissions, "roles:read"):  # not an organization-wide reader: filter
            mine = shares.subject_ids_of(session, actor=access.actor)
            rows = [r for r in rows if (r.subject_type, r.subject_id) in mine or may_manage(session, access, r)]
        return shares.describe(session, rows)


def may_manage(session: Session, access: OrgAccess, row: ShareRow) -> bool:
    """Whether the caller holds the share permission where this share lives (what revoking it needs first)."""
    target = shares.target_of(session, row)
    return allows(_held(session, access, target), f"{row.resource_type}:share")


@router.delete("/shares/{share_id}", operation_id="shares-delete", status_code=204)
def revoke_share(access: Member, cp: ControlPlaneDep, share_id: uuid.UUID) -> None:
    """Revoked at once here; workspaces stop honouring it within a revocation poll. A share the caller can
    neither see nor manage is "not found", like one that does not exist."""
    with cp.db.session(write=True) as session:
        row = shares.get_share(session, org_id=access.org.id, share_id=share_id)
        held = _held(session, access, shares.target_of(session, row))
        visible = allows(held, f"{row.resource_type}:share") or allows(access.permissions, "roles:read") or \
            (row.subject_type, row.subject_id) in shares.subject_ids_of(session, actor=access.actor)
        if not visible:
            raise NotFound("No such share in this organization.", hint="`runyard share list` shows the shares.")
        shares.revoke_share(session, row=row, actor=access.actor, held=held)
