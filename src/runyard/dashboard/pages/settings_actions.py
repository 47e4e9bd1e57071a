"""The Settings forms: each POST checks its CSRF token, then the permission, then calls the control-plane
API's own route function (the very code behind ``/api/v1/orgs/...``), so a form can do exactly what the
API allows and records the same audit entries.

Success answers with a redirect back to the section (post/redirect/get); a refused or invalid form shows
the section again with the reason beside it. A new API key is the exception: its secret is shown on the
answer to the form itself, once, never stored in a URL or a later page.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from pydantic import SecretStr, ValidationError
from starlette.responses import RedirectResponse, Response

from runyard.dashboard.pages.settings import SettingsRoute, render_section
from runyard.dashboard.settings_auth import (
    SettingsForm,
    SettingsView,
    audit_refusal,
    check_form,
    control_plane_of,
    signed_in,
)
from runyard.exceptions import Conflict, InvalidInput, NotFound, PermissionDenied

router = APIRouter(route_class=SettingsRoute, include_in_schema=False)

Csrf = Annotated[str, Form(max_length=200)]
#: Grants, and keys one may own: the API's route code checks these at the grant's scope or the key's owner.
Member = Annotated[SettingsView, Depends(SettingsForm())]
MayCreateApiKeys = Annotated[SettingsView, Depends(SettingsForm("api_keys:create"))]
MayCreateProjects = Annotated[SettingsView, Depends(SettingsForm("projects:create"))]
MayDeleteProjects = Annotated[SettingsView, Depends(SettingsForm("projects:delete"))]
MayCreateRoles = Annotated[SettingsView, Depends(SettingsForm("roles:create"))]
MayDeleteRoles = Annotated[SettingsView, Depends(SettingsForm("roles:delete"))]
MayCreateServiceAccounts = Annotated[SettingsView, Depends(SettingsForm("service_accounts:create"))]
MayDeleteServiceAccounts = Annotated[SettingsView, Depends(SettingsForm("service_accounts:delete"))]
MayCreateTeams = Annotated[SettingsView, Depends(SettingsForm("teams:create"))]
MayDeleteTeams = Annotated[SettingsView, Depends(SettingsForm("teams:delete"))]
MayUpdateTeams = Annotated[SettingsView, Depends(SettingsForm("teams:update"))]
MayCreateUsers = Annotated[SettingsView, Depends(SettingsForm("users:create"))]
MayDeleteUsers = Annotated[SettingsView, Depends(SettingsForm("users:delete"))]
Name = Annotated[str, Form(max_length=320)]
_STATUS = {NotFound: 404, Conflict: 409, PermissionDenied: 403}


def _act(request: Request, view: SettingsView, *, section: str, action: Callable[[SettingsView], Any],
         done: str) -> Response:
    """Runs the form's action (CSRF and permission were checked by the route's guard); a refusal or bad
    input shows the section again with the reason, success redirects back to it."""
    try:
        result = action(view)
    except (InvalidInput, Conflict, NotFound, PermissionDenied) as exc:
        if isinstance(exc, PermissionDenied):
            audit_refusal(request, view.cp, view.actor, view.access.org.id, exc.message)
        status = next((code for cls, code in _STATUS.items() if isinstance(exc, cls)), 400)
        return render_section(request, view, section, error=exc.headline, status=status)
    except ValidationError as exc:
        errors = exc.errors()
        where = ".".join(str(p) for p in errors[0]["loc"]) if errors else ""
        message = errors[0]["msg"] if errors else "invalid input"
        return render_section(request, view, section, error=f"{where}: {message}" if where else message, status=400)
    if isinstance(result, Response):
        return result
    return RedirectResponse(f"/settings/{view.org}/{section}?done={done}", status_code=303)


def _key_page(request: Request, view: SettingsView, created: Any) -> Response:
    """The answer to "create key" or "rotate": the only page that ever shows the secret."""
    new_key = json.loads(bytes(created.body))
    return render_section(request, view, "service-accounts", status=201, extra={"new_key": new_key})


# --- members --------------------------------------------------------------------------------------
@router.post("/settings/{org}/members")
def add_member(request: Request, view: MayCreateUsers, email: Name,
               name: Annotated[str, Form(max_length=200)] = "",
               password: Annotated[str, Form(max_length=1024)] = "") -> Response:
    from runyard.control_plane.api import directory
    from runyard.control_plane.schemas import UserCreate

    def act(view: SettingsView) -> Any:
        body = UserCreate(email=email, name=name, password=SecretStr(password) if password else None)
        return directory.create_user(view.access, view.cp, body)

    return _act(request, view, section="members", action=act, done="member-added")


@router.post("/settings/{org}/members/disable")
def disable_member(request: Request, view: MayDeleteUsers, email: Name) -> Response:
    from runyard.control_plane.api import directory

    def act(view: SettingsView) -> None:
        if email.strip().lower() == (view.actor.name or "").lower():
            raise InvalidInput("You cannot disable yourself here.", hint="Ask another admin.")
        directory.deactivate_user(view.access, view.cp, email)

    return _act(request, view, section="members", action=act, done="member-disabled")


# --- teams ----------------------------------------------------------------------------------------
@router.post("/settings/{org}/teams")
def create_team(request: Request, view: MayCreateTeams, name: Name) -> Response:
    from runyard.control_plane.api import directory
    from runyard.control_plane.schemas import TeamCreate

    return _act(request, view, section="teams", done="team-created",
                action=lambda view: directory.create_team(view.access, view.cp, TeamCreate(name=name)))


@router.post("/settings/{org}/teams/{team}/delete")
def delete_team(request: Request, team: str, view: MayDeleteTeams) -> Response:
    from runyard.control_plane.api import directory

    return _act(request, view, section="teams", done="team-deleted",
                action=lambda view: directory.delete_team(view.access, view.cp, team))


@router.post("/settings/{org}/teams/{team}/members")
def add_team_member(request: Request, team: str, view: MayUpdateTeams, email: Name) -> Response:
    from runyard.control_plane.api import directory
    from runyard.control_plane.schemas import TeamMemberAdd

    return _act(request, view, section="teams", done="member-joined",
                action=lambda view: directory.add_team_member(view.access, view.cp, team, TeamMemberAdd(email=email)))


@router.post("/settings/{org}/teams/{team}/members/remove")
def remove_team_member(request: Request, team: str, view: MayUpdateTeams, email: Name) -> Response:
    from runyard.control_plane.api import directory

    return _act(request, view, section="teams", done="member-left",
                action=lambda view: directory.remove_team_member(view.access, view.cp, team, email))


# --- roles and grants -----------------------------------------------------------------------------
@router.post("/settings/{org}/roles")
def create_role(request: Request, view: MayCreateRoles, name: Name,
                permissions: Annotated[str, Form(max_length=8000)]) -> Response:
    from runyard.control_plane.api import access
    from runyard.control_plane.schemas import RoleCreate

    wanted = [p for p in permissions.replace(",", " ").split() if p]
    return _act(request, view, section="roles", done="role-created",
                action=lambda view: access.create_role(view.access, view.cp, RoleCreate(name=name,
                                                                                        permissions=wanted)))


@router.post("/settings/{org}/roles/{role}/delete")
def delete_role(request: Request, role: str, view: MayDeleteRoles) -> Response:
    from runyard.control_plane.api import access

    return _act(request, view, section="roles", done="role-deleted",
                action=lambda view: access.delete_role(view.access, view.cp, role))


@router.post("/settings/{org}/grants")
def create_grant(request: Request, view: Member, role: Name, subject_type: Name, subject: Name,
                 scope_type: Annotated[str, Form(max_length=20)] = "org",
                 scope: Annotated[str, Form(max_length=130)] = "") -> Response:
    """Needs ``roles:share`` where the grant applies; the API's route checks it at that scope."""
    from runyard.control_plane.api import access
    from runyard.control_plane.schemas import GrantCreate

    def act(view: SettingsView) -> None:
        body = GrantCreate.model_validate({"role": role, "subject_type": subject_type, "subject": subject.strip(),
                                           "scope_type": scope_type, "scope": scope.strip() or None})
        access.create_grant(view.access, view.cp, body)

    return _act(request, view, section="roles", action=act, done="granted")


@router.post("/settings/{org}/grants/{grant_id}/revoke")
def revoke_grant(request: Request, grant_id: uuid.UUID, view: Member) -> Response:
    from runyard.control_plane.api import access

    return _act(request, view, section="roles", done="revoked",
                action=lambda view: access.delete_grant(view.access, view.cp, grant_id))


@router.post("/settings/{org}/shares/{share_id}/revoke")
def revoke_share(request: Request, share_id: uuid.UUID, view: Member) -> Response:
    from runyard.control_plane.api import shares

    return _act(request, view, section="shares", done="share-revoked",
                action=lambda view: shares.revoke_share(view.access, view.cp, share_id))


# --- service accounts and keys --------------------------------------------------------------------
@router.post("/settings/{org}/service-accounts")
def create_service_account(request: Request, view: MayCreateServiceAccounts, name: Name,
                           description: Annotated[str, Form(max_length=500)] = "") -> Response:
    from runyard.control_plane.api import access
    from runyard.control_plane.schemas import ServiceAccountCreate

    body = {"name": name, "description": description}
    return _act(request, view, section="service-accounts",
                done="account-created", action=lambda view: access.create_service_account(
                    view.access, view.cp, ServiceAccountCreate.model_validate(body)))


@router.post("/settings/{org}/service-accounts/{account}/delete")
def delete_service_account(request: Request, account: str, view: MayDeleteServiceAccounts) -> Response:
    from runyard.control_plane.api import access

    return _act(request, view, section="service-accounts",
                done="account-deleted", action=lambda view: access.delete_service_account(view.access, view.cp,
                                                                                           account))


@router.post("/settings/{org}/service-accounts/{account}/keys")
def create_key(request: Request, account: str, view: MayCreateApiKeys, name: Name,
               expires_in_days: Annotated[int, Form(ge=1, le=3650)] = 90) -> Response:
    from runyard.control_plane.api import access
    from runyard.control_plane.schemas import ApiKeyCreate

    def act(view: SettingsView) -> Response:
        created = access.create_api_key(view.access, view.cp, account,
                                        ApiKeyCreate(name=name, expires_in_days=expires_in_days))
        return _key_page(request, view, created)

    return _act(request, view, section="service-accounts", action=act, done="")


@router.post("/settings/{org}/keys/{key_id}/rotate")
def rotate_key(request: Request, key_id: uuid.UUID, view: Member) -> Response:
    from runyard.control_plane.api import access
    from runyard.control_plane.schemas import ApiKeyRotate

    def act(view: SettingsView) -> Response:
        return _key_page(request, view, access.rotate_api_key(view.access, view.cp, key_id, ApiKeyRotate(grace_s=0)))

    return _act(request, view, section="service-accounts", action=act, done="")


@router.post("/settings/{org}/keys/{key_id}/revoke")
def revoke_key(request: Request, key_id: uuid.UUID, view: Member) -> Response:
    from runyard.control_plane.api import access

    return _act(request, view, section="service-accounts", done="key-revoked",
                action=lambda view: access.revoke_api_key(view.access, view.cp, key_id))


# --- projects -------------------------------------------------------------------------------------
@router.post("/settings/{org}/projects")
def create_project(request: Request, view: MayCreateProjects, workspace: Name, name: Name) -> Response:
    from runyard.control_plane.api import directory
    from runyard.control_plane.schemas import ProjectCreate

    return _act(request, view, section="projects", done="project-created",
                action=lambda view: directory.create_project(view.access, view.cp, workspace,
                                                             ProjectCreate(name=name)))


@router.post("/settings/{org}/projects/{workspace}/{project}/delete")
def delete_project(request: Request, workspace: str, project: str, view: MayDeleteProjects) -> Response:
    from runyard.control_plane.api import directory

    return _act(request, view, section="projects", done="project-deleted",
                action=lambda view: directory.delete_project(view.access, view.cp, workspace, project))


# --- signing out ----------------------------------------------------------------------------------
@router.post("/settings/sign-out")
def sign_out(request: Request, *, csrf: Csrf = "") -> Response:
    """Ends the browser session at the control plane (so its cookie stops working everywhere)."""
    from runyard.control_plane.api.pages import SESSION_COOKIE
    from runyard.control_plane.services import sessions

    cp = control_plane_of(request)
    actor, session_id = signed_in(request, cp)
    check_form(request, cp, csrf, session_id)
    with cp.db.session(write=True) as session:
        sessions.revoke_session(session, row=sessions.get_session(session, session_id=session_id), actor=actor)
    response = RedirectResponse("/login?next=/", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response
