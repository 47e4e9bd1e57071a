"""Service accounts, API keys, personal access tokens, roles and grants. Routes do HTTP only.

A key's secret appears in exactly one response (creation or rotation), with ``Cache-Control: no-store``.
Granting checks the caller's permissions *at the grant's scope* (organization, workspace or project),
in the service layer, so no route can forget it.
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse
from sqlalchemy.orm import Session

from runyard.control_plane.api.deps import ControlPlaneDep, OrgAccess, Require, org_access
from runyard.control_plane.rbac import allows
from runyard.control_plane.schemas import (
    ApiKeyCreate,
    ApiKeyCreated,
    ApiKeyRead,
    ApiKeyRotate,
    GrantCreate,
    GrantRead,
    RoleCreate,
    RoleRead,
    ServiceAccountCreate,
    ServiceAccountRead,
)
from runyard.control_plane.services import keys, orgs, roles, users
from runyard.control_plane.services.keys import NewKey
from runyard.exceptions import InvalidInput, PermissionDenied

router = APIRouter(prefix="/api/v1/orgs/{org}", tags=["access"])

Member = Annotated[OrgAccess, Depends(org_access)]
CanCreateServiceAccounts = Annotated[OrgAccess, Depends(Require("service_accounts:create"))]
CanReadServiceAccounts = Annotated[OrgAccess, Depends(Require("service_accounts:read"))]
CanDeleteServiceAccounts = Annotated[OrgAccess, Depends(Require("service_accounts:delete"))]
CanCreateKeys = Annotated[OrgAccess, Depends(Require("api_keys:create"))]
CanReadKeys = Annotated[OrgAccess, Depends(Require("api_keys:read"))]
CanUpdateKeys = Annotated[OrgAccess, Depends(Require("api_keys:update"))]
CanDeleteKeys = Annotated[OrgAccess, Depends(Require("api_keys:delete"))]
CanReadRoles = Annotated[OrgAccess, Depends(Require("roles:read"))]
CanCreateRoles = Annotated[OrgAccess, Depends(Require("roles:create"))]
CanDeleteRoles = Annotated[OrgAccess, Depends(Require("roles:delete"))]
_NO_STORE = {"Cache-Control": "no-store"}


def _created(new: NewKey) -> JSONResponse:
    body = ApiKeyCreated.model_validate({**ApiKeyRead.model_validate(new.row).model_dump(), "key": new.secret})
    return JSONResponse(body.model_dump(mode="json"), status_code=201, headers=_NO_STORE)


@router.post("/service-accounts", operation_id="service_accounts-create", status_code=201)
def create_service_account(access: CanCreateServiceAccounts, cp: ControlPlaneDep,
                           body: ServiceAccountCreate) -> ServiceAccountRead:
    with cp.db.session(write=True) as session:
        row = keys.create_service_account(session, org_id=access.org.id, name=body.name,
                                          description=body.description, actor=access.actor)
        return ServiceAccountRead.model_validate(row)


@router.get("/service-accounts", operation_id="service_accounts-list")
def list_service_accounts(access: CanReadServiceAccounts, cp: ControlPlaneDep) -> list[ServiceAccountRead]:
    with cp.db.session(write=False) as session:
        return [ServiceAccountRead.model_validate(r) for r in keys.list_service_accounts(session, org_id=access.org.id)]


@router.delete("/service-accounts/{account}", operation_id="service_accounts-delete", status_code=204)
def delete_service_account(access: CanDeleteServiceAccounts, cp: ControlPlaneDep, account: str) -> None:
    """Revokes the account's keys (they go on the revocation list), drops its grants, retires it."""
    with cp.db.session(write=True) as session:
        row = keys.get_service_account(session, org_id=access.org.id, name=account)
        keys.delete_service_account(session, account=row, actor=access.actor)


@router.post("/service-accounts/{account}/api-keys", operation_id="api_keys-create", status_code=201,
             response_model=ApiKeyCreated)
def create_api_key(access: CanCreateKeys, cp: ControlPlaneDep, account: str, body: ApiKeyCreate) -> JSONResponse:
    with cp.db.session(write=True) as session:
        sa = keys.get_service_account(session, org_id=access.org.id, name=account)
        new = keys.create_key(session, org_id=access.org.id, name=body.name, actor=access.actor, service_account=sa,
                              expires_in_days=body.expires_in_days)
        return _created(new)


@router.get("/service-accounts/{account}/api-keys", operation_id="api_keys-list")
def list_api_keys(access: CanReadKeys, cp: ControlPlaneDep, account: str) -> list[ApiKeyRead]:
    with cp.db.session(write=False) as session:
        sa = keys.get_service_account(session, org_id=access.org.id, name=account)
        return [ApiKeyRead.model_validate(k) for k in keys.list_keys(session, service_account_id=sa.id)]


@router.post("/api-keys/{key_id}/rotate", operation_id="api_keys-rotate", status_code=201,
             response_model=ApiKeyCreated)
def rotate_api_key(access: Member, cp: ControlPlaneDep, key_id: uuid.UUID, body: ApiKeyRotate) -> JSONResponse:
    with cp.db.session(write=True) as session:
        key = keys.get_key(session, key_id=key_id, org_id=access.org.id)
        _may_manage(access, key.user_id, "api_keys:update")
        return _created(keys.rotate_key(session, key=key, actor=access.actor, grace_s=body.grace_s))


@router.delete("/api-keys/{key_id}", operation_id="api_keys-revoke", status_code=204)
def revoke_api_key(access: Member, cp: ControlPlaneDep, key_id: uuid.UUID) -> None:
    with cp.db.session(write=True) as session:
        key = keys.get_key(session, key_id=key_id, org_id=access.org.id)
        _may_manage(access, key.user_id, "api_keys:delete")
        keys.revoke_key(session, key=key, actor=access.actor)


def _may_manage(access: OrgAccess, owner: uuid.UUID | None, permission: str) -> None:
    """Anyone may manage their own personal access tokens; other keys need the permission."""
    if owner is not None and owner == access.actor.id:
        return
    access.require(permission)


@router.post("/personal-tokens", operation_id="personal_tokens-create", status_code=201,
             response_model=ApiKeyCreated)
def create_personal_token(access: Member, cp: ControlPlaneDep, body: ApiKeyCreate) -> JSONResponse:
    """A token acting as the caller (a user), with the caller's permissions; for scripts and CI."""
    if access.actor.kind != "user" or access.actor.id is None:
        raise InvalidInput("Only users have personal access tokens.")
    with cp.db.session(write=True) as session:
        user = users.get_user(session, user_id=access.actor.id)
        new = keys.create_key(session, org_id=access.org.id, name=body.name, actor=access.actor, user=user,
                              expires_in_days=body.expires_in_days)
        return _created(new)


@router.get("/personal-tokens", operation_id="personal_tokens-list")
def list_personal_tokens(access: Member, cp: ControlPlaneDep) -> list[ApiKeyRead]:
    with cp.db.session(write=False) as session:
        return [ApiKeyRead.model_validate(k) for k in keys.list_keys(session, user_id=access.actor.id)
                if k.org_id == access.org.id]


@router.get("/roles", operation_id="roles-list")
def list_roles(access: CanReadRoles, cp: ControlPlaneDep) -> list[RoleRead]:
    with cp.db.session(write=False) as session:
        return [RoleRead.model_validate(r) for r in roles.list_roles(session, org_id=access.org.id)]


@router.post("/roles", operation_id="roles-create", status_code=201)
def create_role(access: CanCreateRoles, cp: ControlPlaneDep, body: RoleCreate) -> RoleRead:
    with cp.db.session(write=True) as session:
        row = roles.create_role(session, org_id=access.org.id, name=body.name, permissions=list(body.permissions),
                                actor=access.actor, actor_permissions=access.permissions)
        return RoleRead.model_validate(row)


@router.delete("/roles/{role}", operation_id="roles-delete", status_code=204)
def delete_role(access: CanDeleteRoles, cp: ControlPlaneDep, role: str) -> None:
    with cp.db.session(write=True) as session:
        roles.delete_role(session, org_id=access.org.id, name=role, actor=access.actor)


@router.get("/grants", operation_id="grants-list")
def list_grants(access: CanReadRoles, cp: ControlPlaneDep) -> list[GrantRead]:
    with cp.db.session(write=False) as session:
        return roles.describe_grants(session, roles.list_grants(session, org_id=access.org.id))


@router.post("/grants", operation_id="grants-create", status_code=201)
def create_grant(access: Member, cp: ControlPlaneDep, body: GrantCreate) -> GrantRead:
    with cp.db.session(write=True) as session:
        role = roles.get_role(session, org_id=access.org.id, name=body.role)
        subject_id = _subject_id(session, access, body.subject_type, body.subject)
        scope_id, held = _scope(session, access, body.scope_type, body.scope)
        grant = roles.create_grant(session, org_id=access.org.id, role=role, subject_type=body.subject_type,
                                   subject_id=subject_id, scope_type=body.scope_type, scope_id=scope_id,
                                   actor=access.actor, actor_permissions=held, subject_label=body.subject)
        return roles.describe_grants(session, [(grant, role.name)])[0]


@router.delete("/grants/{grant_id}", operation_id="grants-delete", status_code=204)
def delete_grant(access: Member, cp: ControlPlaneDep, grant_id: uuid.UUID) -> None:
    with cp.db.session(write=True) as session:
        roles.delete_grant(session, org_id=access.org.id, grant_id=grant_id, actor=access.actor,
                           actor_permissions=access.permissions)


def _subject_id(session: Session, access: OrgAccess, subject_type: str, subject: str) -> uuid.UUID:
    if subject_type == "user":
        return users.get_member_by_email(session, org_id=access.org.id, email=subject).id
    if subject_type == "team":
        return orgs.get_team(session, org_id=access.org.id, name=subject).id
    return keys.get_service_account(session, org_id=access.org.id, name=subject).id


def _scope(session: Session, access: OrgAccess, scope_type: str, scope: str | None,
           ) -> tuple[uuid.UUID, frozenset[str]]:
    """The scope's id and what the caller holds there (organization-wide grants count everywhere)."""
    if scope_type == "org":
        return access.org.id, access.permissions
    if not scope:
        raise InvalidInput(f"A {scope_type} grant needs a scope ('workspace' or 'workspace/project').")
    workspace_name, _, project_name = scope.partition("/")
    workspace = orgs.get_workspace(session, org_id=access.org.id, name=workspace_name)
    held = set(access.permissions)
    if access.actor.id is not None and not access.actor.is_superuser:
        scoped = roles.workspace_permissions(session, subject_type=access.actor.subject_type,
                                             subject_id=access.actor.id, workspace=workspace)
        held |= scoped.workspace
        if scope_type == "project":
            held |= scoped.projects.get(project_name, frozenset())
    if scope_type == "project":
        if not project_name:
            raise InvalidInput("A project grant's scope is 'workspace/project'.")
        return orgs.get_project(session, workspace_id=workspace.id, name=project_name).id, frozenset(held)
    if project_name:
        raise InvalidInput("A workspace grant's scope is a workspace name.")
    if not allows(frozenset(held), "roles:share"):
        raise PermissionDenied("You may not grant roles in this workspace.")
    return workspace.id, frozenset(held)
