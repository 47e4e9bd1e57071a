"""Organizations, their workspaces and projects, teams and memberships.

Every look-up below an organization is scoped by its id: a name from another organization is simply not
found (404), never "forbidden", so a caller cannot learn what exists elsewhere by probing names.
"""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.orm import Session

from runyard.control_plane.actor import Actor
from runyard.control_plane.db.models import (
    MembershipRow,
    OrganizationRow,
    ProjectRow,
    TeamMemberRow,
    TeamRow,
    UserRow,
    WorkspaceRow,
)
from runyard.control_plane.services import audit
from runyard.exceptions import Conflict, NotFound
from runyard.workspace.db.types import utcnow


def create_org(session: Session, *, name: str, actor: Actor) -> OrganizationRow:
    if session.scalar(select(OrganizationRow.id).where(OrganizationRow.name == name)) is not None:
        raise Conflict(f"An organization named {name!r} exists.")
    org = OrganizationRow(id=uuid.uuid4(), name=name)
    session.add(org)
    session.flush()
    audit.record(session, action="org.create", actor=actor, org_id=org.id, target=f"org:{name}")
    return org


def get_org(session: Session, *, name: str) -> OrganizationRow:
    org = session.scalar(select(OrganizationRow).where(OrganizationRow.name == name))
    if org is None:
        raise NotFound(f"No organization {name!r}.")
    return org


def orgs_of_user(session: Session, *, user_id: uuid.UUID) -> list[OrganizationRow]:
    query = (select(OrganizationRow).join(MembershipRow, MembershipRow.org_id == OrganizationRow.id)
             .where(MembershipRow.user_id == user_id).order_by(OrganizationRow.name))
    return list(session.scalars(query))


def list_orgs(session: Session) -> list[OrganizationRow]:
    return list(session.scalars(select(OrganizationRow).order_by(OrganizationRow.name)))


def add_member(session: Session, *, org_id: uuid.UUID, user_id: uuid.UUID, actor: Actor) -> None:
    if session.get(MembershipRow, (org_id, user_id)) is None:
        session.add(MembershipRow(org_id=org_id, user_id=user_id))
        audit.record(session, action="membership.add", actor=actor, org_id=org_id, target=f"user:{user_id}")


def remove_member(session: Session, *, org_id: uuid.UUID, user: UserRow, actor: Actor) -> None:
    """Takes a user out of one organization: membership, its teams there, and their grants there."""
    from runyard.control_plane.db.models import GrantRow

    membership = session.get(MembershipRow, (org_id, user.id))
    if membership is None:
        return
    session.delete(membership)
    for team in list_teams(session, org_id=org_id):
        row = session.get(TeamMemberRow, (team.id, user.id))
        if row is not None:
            session.delete(row)
    for grant in session.scalars(select(GrantRow).where(GrantRow.org_id == org_id, GrantRow.subject_type == "user",
                                                        GrantRow.subject_id == user.id)):
        session.delete(grant)
    audit.record(session, action="membership.remove", actor=actor, org_id=org_id, target=f"user:{user.email}")


def other_orgs(session: Session, *, org_id: uuid.UUID, user_id: uuid.UUID) -> int:
    return len([o for o in orgs_of_user(session, user_id=user_id) if o.id != org_id])


def is_member(session: Session, *, org_id: uuid.UUID, user_id: uuid.UUID) -> bool:
    return session.get(MembershipRow, (org_id, user_id)) is not None


def create_workspace(session: Session, *, org: OrganizationRow, name: str, url: str, audience: str | None,
                     actor: Actor) -> WorkspaceRow:
    audience = audience or f"runyard:{org.name}:{name}"
    clash = session.scalar(select(WorkspaceRow.id).where(
        ((WorkspaceRow.org_id == org.id) & (WorkspaceRow.name == name)) | (WorkspaceRow.audience == audience)))
    if clash is not None:
        raise Conflict(f"A workspace named {name!r} or with audience {audience!r} exists.")
    workspace = WorkspaceRow(id=uuid.uuid4(), org_id=org.id, name=name, url=url.rstrip("/"), audience=audience)
    session.add(workspace)
    session.flush()
    audit.record(session, action="workspace.create", actor=actor, org_id=org.id, target=f"workspace:{name}",
                 workspace=audience)
    return workspace


def get_workspace(session: Session, *, org_id: uuid.UUID, name: str) -> WorkspaceRow:
    row = session.scalar(select(WorkspaceRow).where(WorkspaceRow.org_id == org_id, WorkspaceRow.name == name))
    if row is None:
        raise NotFound(f"No workspace {name!r} in this organization.")
    return row


def workspace_by_audience(session: Session, *, audience: str) -> WorkspaceRow:
    row = session.scalar(select(WorkspaceRow).where(WorkspaceRow.audience == audience))
    if row is None:
        raise NotFound("No workspace has this audience.", hint="Register the workspace in the control plane.")
    return row


def list_workspaces(session: Session, *, org_id: uuid.UUID) -> list[WorkspaceRow]:
    return list(session.scalars(select(WorkspaceRow).where(WorkspaceRow.org_id == org_id)
                                .order_by(WorkspaceRow.name)))


def create_project(session: Session, *, workspace: WorkspaceRow, name: str, actor: Actor) -> ProjectRow:
    if session.scalar(select(ProjectRow.id).where(ProjectRow.workspace_id == workspace.id,
                                                  ProjectRow.name == name)) is not None:
        raise Conflict(f"Workspace {workspace.name!r} has a project named {name!r}.")
    project = ProjectRow(id=uuid.uuid4(), workspace_id=workspace.id, name=name)
    session.add(project)
    session.flush()
    audit.record(session, action="project.create", actor=actor, org_id=workspace.org_id,
                 target=f"project:{workspace.name}/{name}", workspace=workspace.audience)
    return project


def get_project(session: Session, *, workspace_id: uuid.UUID, name: str) -> ProjectRow:
    row = session.scalar(select(ProjectRow).where(ProjectRow.workspace_id == workspace_id, ProjectRow.name == name))
    if row is None:
        raise NotFound(f"No project {name!r} in this workspace.")
    return row


def list_projects(session: Session, *, workspace_id: uuid.UUID) -> list[ProjectRow]:
    return list(session.scalars(select(ProjectRow).where(ProjectRow.workspace_id == workspace_id)
                                .order_by(ProjectRow.name)))


def create_team(session: Session, *, org_id: uuid.UUID, name: str, actor: Actor) -> TeamRow:
    if session.scalar(select(TeamRow.id).where(TeamRow.org_id == org_id, TeamRow.name == name)) is not None:
        raise Conflict(f"A team named {name!r} exists.")
    team = TeamRow(id=uuid.uuid4(), org_id=org_id, name=name)
    session.add(team)
    session.flush()
    audit.record(session, action="team.create", actor=actor, org_id=org_id, target=f"team:{name}")
    return team


def get_team(session: Session, *, org_id: uuid.UUID, name: str) -> TeamRow:
    row = session.scalar(select(TeamRow).where(TeamRow.org_id == org_id, TeamRow.name == name))
    if row is None:
        raise NotFound(f"No team {name!r} in this organization.")
    return row


def list_teams(session: Session, *, org_id: uuid.UUID) -> list[TeamRow]:
    return list(session.scalars(select(TeamRow).where(TeamRow.org_id == org_id).order_by(TeamRow.name)))


def add_team_member(session: Session, *, team: TeamRow, user: UserRow, actor: Actor) -> None:
    if not is_member(session, org_id=team.org_id, user_id=user.id):
        raise NotFound(f"No user {user.email!r} in this organization.")
    if session.get(TeamMemberRow, (team.id, user.id)) is None:
        session.add(TeamMemberRow(team_id=team.id, user_id=user.id))
        audit.record(session, action="team.member_add", actor=actor, org_id=team.org_id,
                     target=f"team:{team.name}", details={"user": user.email})


def remove_team_member(session: Session, *, team: TeamRow, user: UserRow, actor: Actor) -> None:
    row = session.get(TeamMemberRow, (team.id, user.id))
    if row is not None:
        session.delete(row)
        audit.record(session, action="team.member_remove", actor=actor, org_id=team.org_id,
                     target=f"team:{team.name}", details={"user": user.email})


def team_ids_of(session: Session, *, user_id: uuid.UUID) -> list[uuid.UUID]:
    return list(session.scalars(select(TeamMemberRow.team_id).where(TeamMemberRow.user_id == user_id)))


def delete_project(session: Session, *, workspace: WorkspaceRow, project: ProjectRow, actor: Actor) -> None:
    """Removes a project and every grant scoped to it (so no later project of the same name inherits them)."""
    from runyard.control_plane.db.models import GrantRow

    for grant in session.scalars(select(GrantRow).where(GrantRow.scope_type == "project",
                                                        GrantRow.scope_id == project.id)):
        session.delete(grant)
    session.delete(project)
    audit.record(session, action="project.delete", actor=actor, org_id=workspace.org_id,
                 target=f"project:{workspace.name}/{project.name}", workspace=workspace.audience)


def delete_team(session: Session, *, team: TeamRow, actor: Actor) -> None:
    """Removes a team, its memberships and the grants given to it (members lose what the team gave them)."""
    from runyard.control_plane.db.models import GrantRow

    for member in session.scalars(select(TeamMemberRow).where(TeamMemberRow.team_id == team.id)):
        session.delete(member)
    for grant in session.scalars(select(GrantRow).where(GrantRow.subject_type == "team",
                                                        GrantRow.subject_id == team.id)):
        session.delete(grant)
    from runyard.control_plane.db.models import ShareRow

    for share in session.scalars(select(ShareRow).where(ShareRow.subject_type == "team", ShareRow.subject_id == team.id,
                                                        ShareRow.revoked_at.is_(None))):
        share.revoked_at = utcnow()  # revoked, not deleted: workspaces learn it from the revocation list
    session.delete(team)
    audit.record(session, action="team.delete", actor=actor, org_id=team.org_id, target=f"team:{team.name}")


def team_members(session: Session, *, team_id: uuid.UUID) -> list[UserRow]:
    query = (select(UserRow).join(TeamMemberRow, TeamMemberRow.user_id == UserRow.id)
             .where(TeamMemberRow.team_id == team_id).order_by(UserRow.email))
    return list(session.scalars(query))


def teams_of_user(session: Session, *, org_id: uuid.UUID, user_id: uuid.UUID) -> list[TeamRow]:
    query = (select(TeamRow).join(TeamMemberRow, TeamMemberRow.team_id == TeamRow.id)
             .where(TeamRow.org_id == org_id, TeamMemberRow.user_id == user_id).order_by(TeamRow.name))
    return list(session.scalars(query))
