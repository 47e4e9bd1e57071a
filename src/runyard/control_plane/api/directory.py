"""Organizations and what they hold: workspaces, projects, teams, users. Routes do HTTP only."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends

from runyard.control_plane.api.deps import ControlPlaneDep, CurrentActor, OrgAccess, Require, org_access
from runyard.control_plane.db.models import ServiceAccountRow
from runyard.control_plane.schemas import (
    OrganizationCreate,
    OrganizationDetail,
    OrganizationRead,
    ProjectCreate,
    ProjectRead,
    TeamCreate,
    TeamDetail,
    TeamMemberAdd,
    TeamRead,
    UserCreate,
    UserDetail,
    UserRead,
    WorkspaceCreate,
    WorkspaceRead,
)
from runyard.control_plane.services import keys, orgs, roles, sessions, users
from runyard.exceptions import NotFound, PermissionDenied

router = APIRouter(prefix="/api/v1", tags=["directory"])

Member = Annotated[OrgAccess, Depends(org_access)]
CanCreateProjects = Annotated[OrgAccess, Depends(Require("projects:create"))]
CanDeleteProjects = Annotated[OrgAccess, Depends(Require("projects:delete"))]
CanReadProjects = Annotated[OrgAccess, Depends(Require("projects:read"))]
CanDeleteSessions = Annotated[OrgAccess, Depends(Require("sessions:delete"))]
CanCreateTeams = Annotated[OrgAccess, Depends(Require("teams:create"))]
CanDeleteTeams = Annotated[OrgAccess, Depends(Require("teams:delete"))]
CanReadTeams = Annotated[OrgAccess, Depends(Require("teams:read"))]
CanUpdateTeams = Annotated[OrgAccess, Depends(Require("teams:update"))]
CanCreateUsers = Annotated[OrgAccess, Depends(Require("users:create"))]
CanDeleteUsers = Annotated[OrgAccess, Depends(Require("users:delete"))]
CanReadUsers = Annotated[OrgAccess, Depends(Require("users:read"))]
CanCreateWorkspaces = Annotated[OrgAccess, Depends(Require("workspaces:create"))]
CanReadWorkspaces = Annotated[OrgAccess, Depends(Require("workspaces:read"))]


@router.post("/orgs", operation_id="orgs-create", status_code=201)
def create_org(actor: CurrentActor, cp: ControlPlaneDep, body: OrganizationCreate) -> OrganizationRead:
    if not actor.is_superuser:
        raise PermissionDenied("Only a superuser may create organizations.")
    with cp.db.session(write=True) as session:
        return OrganizationRead.model_validate(orgs.create_org(session, name=body.name, actor=actor))


@router.get("/orgs", operation_id="orgs-list")
def list_orgs(actor: CurrentActor, cp: ControlPlaneDep) -> list[OrganizationRead]:
    with cp.db.session(write=False) as session:
        if actor.is_superuser:
            rows = orgs.list_orgs(session)
        elif actor.kind == "user" and actor.id is not None:
            rows = orgs.orgs_of_user(session, user_id=actor.id)
        else:
            rows = []
        return [OrganizationRead.model_validate(r) for r in rows]


@router.get("/orgs/{org}", operation_id="orgs-get")
def get_org(access: Member, cp: ControlPlaneDep) -> OrganizationDetail:
    """Any member may look at their organization; the counts need no permission beyond membership."""
    with cp.db.session(write=False) as session:
        org_id = access.org.id
        return OrganizationDetail(
            id=org_id, name=access.org.name, created=access.org.created,
            workspaces=[w.name for w in orgs.list_workspaces(session, org_id=org_id)],
            members=len(users.list_users(session, org_id=org_id)), teams=len(orgs.list_teams(session, org_id=org_id)),
            service_accounts=len(keys.list_service_accounts(session, org_id=org_id)),
            permissions=sorted(access.permissions))


@router.post("/orgs/{org}/workspaces", operation_id="workspaces-create", status_code=201)
def create_workspace(access: CanCreateWorkspaces, cp: ControlPlaneDep, body: WorkspaceCreate) -> WorkspaceRead:
    with cp.db.session(write=True) as session:
        row = orgs.create_workspace(session, org=access.org, name=body.name, url=body.url, audience=body.audience,
                                    actor=access.actor)
        return WorkspaceRead.model_validate(row)


@router.get("/orgs/{org}/workspaces", operation_id="workspaces-list")
def list_workspaces(access: CanReadWorkspaces, cp: ControlPlaneDep) -> list[WorkspaceRead]:
    with cp.db.session(write=False) as session:
        return [WorkspaceRead.model_validate(r) for r in orgs.list_workspaces(session, org_id=access.org.id)]


@router.post("/orgs/{org}/workspaces/{workspace}/projects", operation_id="projects-create", status_code=201)
def create_project(access: CanCreateProjects, cp: ControlPlaneDep, workspace: str,
                   body: ProjectCreate) -> ProjectRead:
    with cp.db.session(write=True) as session:
        ws = orgs.get_workspace(session, org_id=access.org.id, name=workspace)
        return ProjectRead.model_validate(orgs.create_project(session, workspace=ws, name=body.name,
                                                              actor=access.actor))


@router.get("/orgs/{org}/workspaces/{workspace}/projects", operation_id="projects-list")
def list_projects(access: CanReadProjects, cp: ControlPlaneDep, workspace: str) -> list[ProjectRead]:
    with cp.db.session(write=False) as session:
        ws = orgs.get_workspace(session, org_id=access.org.id, name=workspace)
        return [ProjectRead.model_validate(r) for r in orgs.list_projects(session, workspace_id=ws.id)]


@router.delete("/orgs/{org}/workspaces/{workspace}/projects/{project}", operation_id="projects-delete",
               status_code=204)
def delete_project(access: CanDeleteProjects, cp: ControlPlaneDep, workspace: str, project: str) -> None:
    with cp.db.session(write=True) as session:
        ws = orgs.get_workspace(session, org_id=access.org.id, name=workspace)
        row = orgs.get_project(session, workspace_id=ws.id, name=project)
        orgs.delete_project(session, workspace=ws, project=row, actor=access.actor)


@router.post("/orgs/{org}/teams", operation_id="teams-create", status_code=201)
def create_team(access: CanCreateTeams, cp: ControlPlaneDep, body: TeamCreate) -> TeamRead:
    with cp.db.session(write=True) as session:
        return TeamRead.model_validate(orgs.create_team(session, org_id=access.org.id, name=body.name,
                                                        actor=access.actor))


@router.get("/orgs/{org}/teams", operation_id="teams-list")
def list_teams(access: CanReadTeams, cp: ControlPlaneDep) -> list[TeamRead]:
    with cp.db.session(write=False) as session:
        return [TeamRead.model_validate(r) for r in orgs.list_teams(session, org_id=access.org.id)]


@router.get("/orgs/{org}/teams/{team}", operation_id="teams-get")
def get_team(access: CanReadTeams, cp: ControlPlaneDep, team: str) -> TeamDetail:
    with cp.db.session(write=False) as session:
        row = orgs.get_team(session, org_id=access.org.id, name=team)
        grants = roles.describe_grants(session, roles.grants_of(session, org_id=access.org.id, subject_type="team",
                                                                 subject_id=row.id))
        members = [u.email for u in orgs.team_members(session, team_id=row.id)]
        return TeamDetail(id=row.id, org_id=row.org_id, name=row.name, created=row.created, members=members,
                          grants=grants)


@router.delete("/orgs/{org}/teams/{team}", operation_id="teams-delete", status_code=204)
def delete_team(access: CanDeleteTeams, cp: ControlPlaneDep, team: str) -> None:
    with cp.db.session(write=True) as session:
        orgs.delete_team(session, team=orgs.get_team(session, org_id=access.org.id, name=team), actor=access.actor)


@router.post("/orgs/{org}/teams/{team}/members", operation_id="teams-add_member", status_code=204)
def add_team_member(access: CanUpdateTeams, cp: ControlPlaneDep, team: str, body: TeamMemberAdd) -> None:
    with cp.db.session(write=True) as session:
        team_row = orgs.get_team(session, org_id=access.org.id, name=team)
        user = users.get_member_by_email(session, org_id=access.org.id, email=body.email)
        orgs.add_team_member(session, team=team_row, user=user, actor=access.actor)


@router.delete("/orgs/{org}/teams/{team}/members/{email}", operation_id="teams-remove_member", status_code=204)
def remove_team_member(access: CanUpdateTeams, cp: ControlPlaneDep, team: str, email: str) -> None:
    with cp.db.session(write=True) as session:
        team_row = orgs.get_team(session, org_id=access.org.id, name=team)
        user = users.get_member_by_email(session, org_id=access.org.id, email=email)
        orgs.remove_team_member(session, team=team_row, user=user, actor=access.actor)


@router.post("/orgs/{org}/users", operation_id="users-create", status_code=201)
def create_user(access: CanCreateUsers, cp: ControlPlaneDep, body: UserCreate) -> UserRead:
    """Creates the user, or adds an existing one to the organization (their password is left alone)."""
    with cp.db.session(write=True) as session:
        user = users.find_user(session, email=body.email)
        if user is None:
            password = body.password.get_secret_value() if body.password else None
            user = users.create_user(session, email=body.email, name=body.name, password=password,
                                     actor=access.actor, org_id=access.org.id)
        orgs.add_member(session, org_id=access.org.id, user_id=user.id, actor=access.actor)
        return UserRead.model_validate(user)


@router.get("/orgs/{org}/users", operation_id="users-list")
def list_users(access: CanReadUsers, cp: ControlPlaneDep) -> list[UserRead]:
    with cp.db.session(write=False) as session:
        return [UserRead.model_validate(u) for u in users.list_users(session, org_id=access.org.id)]


@router.get("/orgs/{org}/users/{email}", operation_id="users-get")
def get_user(access: CanReadUsers, cp: ControlPlaneDep, email: str) -> UserDetail:
    with cp.db.session(write=False) as session:
        user = users.get_member_by_email(session, org_id=access.org.id, email=email)
        teams = [t.name for t in orgs.teams_of_user(session, org_id=access.org.id, user_id=user.id)]
        grants = roles.describe_grants(session, roles.grants_of(session, org_id=access.org.id, subject_type="user",
                                                                 subject_id=user.id))
        return UserDetail.model_validate({**UserRead.model_validate(user).model_dump(), "teams": teams,
                                          "grants": grants})


@router.delete("/orgs/{org}/users/{email}", operation_id="users-deactivate", status_code=204)
def deactivate_user(access: CanDeleteUsers, cp: ControlPlaneDep, email: str) -> None:
    """Disables the account and ends its sessions; a user who also belongs to other organizations is only
    removed from this one (one organization's admin must not lock a person out of another's)."""
    with cp.db.session(write=True) as session:
        user = users.get_member_by_email(session, org_id=access.org.id, email=email)
        if user.is_superuser and not access.actor.is_superuser:
            raise PermissionDenied("Only a superuser may disable a superuser.")
        if orgs.other_orgs(session, org_id=access.org.id, user_id=user.id) and not access.actor.is_superuser:
            orgs.remove_member(session, org_id=access.org.id, user=user, actor=access.actor)
            return
        users.deactivate_user(session, user=user, actor=access.actor, org_id=access.org.id)


@router.delete("/orgs/{org}/sessions/{session_id}", operation_id="sessions-revoke", status_code=204)
def revoke_session(access: CanDeleteSessions, cp: ControlPlaneDep, session_id: uuid.UUID) -> None:
    with cp.db.session(write=True) as session:
        row = sessions.get_session(session, session_id=session_id)
        in_org = orgs.is_member(session, org_id=access.org.id, user_id=row.subject_id) if row.subject_type == "user" \
            else getattr(session.get(ServiceAccountRow, row.subject_id), "org_id", None) == access.org.id
        if not in_org:
            raise NotFound("No such session.")
        sessions.revoke_session(session, row=row, actor=access.actor, org_id=access.org.id)
