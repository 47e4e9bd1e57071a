"""Shares: one pipeline or stack of a project given to a user or a team, instead of the whole project.

Sharing follows the rules of granting, at the resource's project: the sharer needs ``<type>:share``
there and must hold every permission the share carries (what they hold in the project, plus what shares
of that very resource give them), so nobody hands out more than they have. A share reaches Workspace
Servers inside access tokens (the ``shr`` claim, see :mod:`runyard.control_plane.share_rules`); revoking
one puts its id on the revocation list, which workspaces poll, so it stops within a poll interval even in
tokens issued before.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from runyard.control_plane.actor import Actor
from runyard.control_plane.db.models import ProjectRow, ShareRow, TeamRow, UserRow, WorkspaceRow
from runyard.control_plane.rbac import allows, not_covered
from runyard.control_plane.schemas import ShareRead
from runyard.control_plane.services import audit
from runyard.control_plane.services.orgs import team_ids_of
from runyard.control_plane.share_rules import MAX_SHARES_PER_TOKEN, ShareClaim, share_permissions
from runyard.exceptions import Conflict, InvalidInput, NotFound, PermissionDenied
from runyard.workspace.db.types import utcnow


@dataclass(frozen=True)
class Target:
    """The resource a share is about, and where it lives."""

    workspace: WorkspaceRow
    project: ProjectRow
    resource_type: str
    resource_id: uuid.UUID
    resource_name: str | None = None

    @property
    def label(self) -> str:
        return f"{self.resource_type}:{self.resource_name or self.resource_id}"


def _subjects_of(session: Session, *, subject_type: str, subject_id: uuid.UUID) -> list[tuple[str, uuid.UUID]]:
    if subject_type != "user":
        return []  # service accounts get grants, not shares
    return [("user", subject_id)] + [("team", t) for t in team_ids_of(session, user_id=subject_id)]


def _active(session: Session, subjects: list[tuple[str, uuid.UUID]]) -> list[ShareRow]:
    if not subjects:
        return []
    match = or_(*[(ShareRow.subject_type == t) & (ShareRow.subject_id == i) for t, i in subjects])
    return list(session.scalars(select(ShareRow).where(match, ShareRow.revoked_at.is_(None))
                                .order_by(ShareRow.created.desc())))


def held_through_shares(session: Session, *, actor: Actor, target: Target) -> frozenset[str]:
    """What shares of this very resource give the actor (an ``admin`` share lets its holder share on)."""
    if actor.id is None:
        return frozenset()
    found: set[str] = set()
    for row in _active(session, _subjects_of(session, subject_type=actor.subject_type, subject_id=actor.id)):
        if (row.project_id, row.resource_type, row.resource_id) == (target.project.id, target.resource_type,
                                                                    target.resource_id):
            found.update(row.permissions)
    return frozenset(found)


def _check_may_share(target: Target, permissions: frozenset[str], held: frozenset[str]) -> None:
    needed = f"{target.resource_type}:share"
    if not allows(held, needed):
        raise PermissionDenied(f"You may not share {target.resource_type} in project {target.project.name!r}.",
                               hint=f"Ask an admin for '{needed}' in this project.")
    beyond = not_covered(permissions, held)
    if beyond:
        raise PermissionDenied(f"You cannot share permissions you do not hold: {', '.join(beyond)}.",
                               hint="Share with a smaller role (e.g. --role viewer), or ask an admin.")


def create_share(session: Session, *, org_id: uuid.UUID, target: Target, subject_type: str, subject_id: uuid.UUID,
                 subject_label: str, role: str | None, permissions: list[str] | None, actor: Actor,
                 held: frozenset[str]) -> ShareRow:
    """Shares ``target``; a new share for the same subject and resource replaces the old one (which is revoked,
    so tokens still carrying it stop honouring it)."""
    try:
        carried = share_permissions(target.resource_type, role=role, permissions=permissions)
    except ValueError as exc:
        raise InvalidInput(str(exc)) from None
    _check_may_share(target, carried, held)
    same = (ShareRow.project_id == target.project.id, ShareRow.resource_type == target.resource_type,
            ShareRow.resource_id == target.resource_id, ShareRow.subject_type == subject_type,
            ShareRow.subject_id == subject_id, ShareRow.revoked_at.is_(None))
    previous = session.scalar(select(ShareRow).where(*same))
    if previous is not None and sorted(previous.permissions) == sorted(carried):
        return previous
    if previous is not None:
        previous.revoked_at = utcnow()
    count = session.scalar(select(func.count()).select_from(ShareRow).where(
        ShareRow.workspace_id == target.workspace.id, ShareRow.subject_type == subject_type,
        ShareRow.subject_id == subject_id, ShareRow.revoked_at.is_(None))) or 0
    if count >= MAX_SHARES_PER_TOKEN:
        raise Conflict(f"{subject_label} already holds {count} shares in this workspace (the most a token carries).",
                       hint="Grant a role on the project instead (`runyard grant create ... --project P`).")
    row = ShareRow(id=uuid.uuid4(), org_id=org_id, workspace_id=target.workspace.id, project_id=target.project.id,
                   resource_type=target.resource_type, resource_id=target.resource_id,
                   resource_name=target.resource_name, subject_type=subject_type, subject_id=subject_id, role=role,
                   permissions=sorted(carried), created_by=actor.name)
    session.add(row)
    session.flush()
    audit.record(session, action="share.create", actor=actor, org_id=org_id, target=target.label,
                 workspace=target.workspace.audience,
                 details={"share": str(row.id), "project": target.project.name, "to": f"{subject_type}:{subject_label}",
                          "role": role, "permissions": row.permissions,
                          "replaces": str(previous.id) if previous is not None else None})
    return row


def get_share(session: Session, *, org_id: uuid.UUID, share_id: uuid.UUID) -> ShareRow:
    row = session.get(ShareRow, share_id)
    if row is None or row.org_id != org_id or row.revoked_at is not None:
        raise NotFound("No such share in this organization.", hint="`runyard share list` shows the shares.")
    return row


def target_of(session: Session, row: ShareRow) -> Target:
    workspace = session.get(WorkspaceRow, row.workspace_id)
    project = session.get(ProjectRow, row.project_id)
    assert workspace is not None and project is not None  # both cascade-delete their shares
    return Target(workspace, project, row.resource_type, row.resource_id, row.resource_name)


def revoke_share(session: Session, *, row: ShareRow, actor: Actor, held: frozenset[str]) -> None:
    """Revokes a share: the same check as sharing it (the share permission, and every permission it carries)."""
    target = target_of(session, row)
    _check_may_share(target, frozenset(row.permissions), held)
    row.revoked_at = utcnow()
    audit.record(session, action="share.revoke", actor=actor, org_id=row.org_id, target=target.label,
                 workspace=target.workspace.audience,
                 details={"share": str(row.id), "project": target.project.name,
                          "to": f"{row.subject_type}:{row.subject_id}", "permissions": row.permissions})


def list_shares(session: Session, *, org_id: uuid.UUID, workspace_id: uuid.UUID | None = None,
                project_id: uuid.UUID | None = None, resource_id: uuid.UUID | None = None) -> list[ShareRow]:
    query = select(ShareRow).where(ShareRow.org_id == org_id, ShareRow.revoked_at.is_(None))
    if workspace_id is not None:
        query = query.where(ShareRow.workspace_id == workspace_id)
    if project_id is not None:
        query = query.where(ShareRow.project_id == project_id)
    if resource_id is not None:
        query = query.where(ShareRow.resource_id == resource_id)
    return list(session.scalars(query.order_by(ShareRow.created)))


def shares_of(session: Session, *, subject_type: str, subject_id: uuid.UUID,
              workspace_id: uuid.UUID) -> tuple[ShareClaim, ...]:
    """The live shares a subject holds in one workspace, directly or through its teams, as token claims."""
    rows = [r for r in _active(session, _subjects_of(session, subject_type=subject_type, subject_id=subject_id))
            if r.workspace_id == workspace_id]
    names = {p.id: p.name for p in session.scalars(select(ProjectRow).where(
        ProjectRow.id.in_({r.project_id for r in rows})))} if rows else {}
    return tuple(ShareClaim(id=str(r.id), type=r.resource_type, resource=r.resource_id, project=names[r.project_id],
                            permissions=frozenset(r.permissions)) for r in rows[:MAX_SHARES_PER_TOKEN])


def subject_ids_of(session: Session, *, actor: Actor) -> set[tuple[str, uuid.UUID]]:
    """The user and teams an actor speaks for (to show them the shares they hold)."""
    if actor.id is None:
        return set()
    return set(_subjects_of(session, subject_type=actor.subject_type, subject_id=actor.id))


def revoked_since(session: Session, *, since: datetime) -> list[str]:
    return sorted(str(i) for i in session.scalars(select(ShareRow.id).where(
        ShareRow.revoked_at.is_not(None), ShareRow.revoked_at > since)))


def describe(session: Session, rows: list[ShareRow]) -> list[ShareRead]:
    """Shares as people read them: emails, team names, ``workspace`` and ``project`` names."""
    out = []
    for row in rows:
        target = target_of(session, row)
        subject = session.get(UserRow if row.subject_type == "user" else TeamRow, row.subject_id)
        label = getattr(subject, "email", None) or getattr(subject, "name", None)
        out.append(ShareRead(id=row.id, workspace=target.workspace.name, project=target.project.name,
                             resource_type=row.resource_type, resource_id=row.resource_id,
                             resource_name=row.resource_name, subject_type=row.subject_type, subject_id=row.subject_id,
                             subject=label, role=row.role, permissions=list(row.permissions),
                             created_by=row.created_by, created=row.created))
    return out
