"""Dependencies of the control-plane API: who is calling, and what they may do in an organization.

The control plane verifies its own tokens like a workspace does (signature, ``aud``, ``exp``) and then
checks the session or key against its database directly, so a revocation takes effect here at once.
Permissions for its own API are read from the grants at each request (not from the token), so a grant
change is effective immediately too. A caller outside an organization gets 404 for it, not 403: whether
an organization exists is none of their business.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from runyard.control_plane.actor import ANONYMOUS, Actor, ActorKind
from runyard.control_plane.core import ControlPlane
from runyard.control_plane.credentials import looks_like_jwt, parse_credential
from runyard.control_plane.db.models import ApiKeyRow, OrganizationRow, ServiceAccountRow, SessionRow
from runyard.control_plane.rbac import allows
from runyard.control_plane.services import keys, orgs, roles, sessions
from runyard.control_plane.services.tokens import subject_of
from runyard.exceptions import NotFound, PermissionDenied, Unauthenticated


def control_plane(request: Request) -> ControlPlane:
    cp: ControlPlane = request.app.state.control_plane
    return cp


ControlPlaneDep = Annotated[ControlPlane, Depends(control_plane)]


def request_actor(request: Request) -> Actor:
    """The anonymous caller, with the address and user agent every audit entry records."""
    return ANONYMOUS.at(request.client.host if request.client else None, request.headers.get("user-agent"))


def current_actor(request: Request, cp: ControlPlaneDep) -> Actor:
    """The authenticated caller (bearer JWT for the control plane, API key or personal access token)."""
    header = request.headers.get("authorization", "")
    scheme, _, credential = header.partition(" ")
    credential = credential.strip()
    where = request_actor(request)
    if scheme.lower() != "bearer" or not credential:
        raise Unauthenticated("This endpoint requires a token.", hint="Run `runyard login URL` first.")
    actor = _from_jwt(cp, credential) if looks_like_jwt(credential) else \
        _from_key(cp, credential) if parse_credential(credential) else None
    if actor is None:
        raise Unauthenticated("The credential is not accepted.")
    actor = actor.at(where.ip, where.user_agent)
    request.state.actor = actor
    return actor


def _from_jwt(cp: ControlPlane, token: str) -> Actor | None:
    claims = cp.own_verifier.verify(token)
    kind, _, raw_id = str(claims["sub"]).partition(":")
    try:
        subject_id = uuid.UUID(raw_id)
    except ValueError:
        return None
    with cp.db.session(write=False) as session:
        sid = claims.get("sid")
        row = session.get(SessionRow, uuid.UUID(sid)) if sid is not None else None
        if sid is not None and (row is None or not sessions.is_live(row)):
            raise Unauthenticated("The session has ended.", hint="Log in again.")
        akid = claims.get("akid")
        if akid is not None:
            key = session.get(ApiKeyRow, uuid.UUID(akid))
            if key is None or not keys.is_live(key):
                raise Unauthenticated("The key behind this token is revoked or expired.")
        subject = subject_of(session, subject_type=kind, subject_id=subject_id)
    return Actor(kind="user" if kind == "user" else "service_account", id=subject.id, name=subject.name,
                 is_superuser=subject.is_superuser, session_id=uuid.UUID(sid) if sid else None,
                 api_key_id=uuid.UUID(akid) if akid else None)


def _from_key(cp: ControlPlane, credential: str) -> Actor | None:
    with cp.db.session(write=True) as session:
        key = keys.authenticate_key(session, value=credential)
        if key is None:
            return None
        kind: ActorKind = "service_account" if key.service_account_id else "user"
        owner = key.service_account_id or key.user_id
        assert owner is not None
        subject = subject_of(session, subject_type=kind, subject_id=owner)
    return Actor(kind=kind, id=subject.id, name=subject.name, is_superuser=subject.is_superuser, api_key_id=key.id)


CurrentActor = Annotated[Actor, Depends(current_actor)]


@dataclass(frozen=True)
class OrgAccess:
    """An organization as seen by the caller: what they may do there."""

    org: OrganizationRow
    actor: Actor
    permissions: frozenset[str]

    def require(self, permission: str) -> None:
        if not allows(self.permissions, permission):
            resource, _, action = permission.partition(":")
            raise PermissionDenied(f"You may not {action.replace('_', ' ')} {resource} in this organization.",
                                   hint=f"Ask an organization admin for '{permission}'.")


def org_access(org: str, actor: CurrentActor, cp: ControlPlaneDep) -> OrgAccess:
    with cp.db.session(write=False) as session:
        try:
            row = orgs.get_org(session, name=org)
        except NotFound:
            raise NotFound("No such organization.") from None
        if actor.is_superuser:
            return OrgAccess(row, actor, frozenset({"*"}))
        assert actor.id is not None
        if actor.kind == "user" and not orgs.is_member(session, org_id=row.id, user_id=actor.id):
            raise NotFound("No such organization.")
        if actor.kind == "service_account":
            account = session.get(ServiceAccountRow, actor.id)
            if account is None or account.org_id != row.id:
                raise NotFound("No such organization.")
        perms = roles.org_permissions(session, subject_type=actor.subject_type, subject_id=actor.id, org_id=row.id)
    return OrgAccess(row, actor, perms)


class Require:
    """``Depends(Require("users:create"))``: the organization in the path, checked for one permission."""

    def __init__(self, permission: str) -> None:
        self.permission = permission

    def __call__(self, access: Annotated[OrgAccess, Depends(org_access)]) -> OrgAccess:
        access.require(self.permission)
        return access

    def __repr__(self) -> str:
        return f"Require({self.permission!r})"
