"""Issuing access tokens: for a session, for an API key or personal access token, for one run's workload.

An access token is an EdDSA-signed JWT that a Workspace Server checks without calling back:

``iss``, ``aud`` (the workspace's audience, or the control plane's own), ``sub`` (``user:<id>`` or
``service_account:<id>``), ``kind``, ``name``, ``org``, ``perms`` (workspace-wide permissions), ``proj``
(per-project permissions), ``shr`` (shares of single pipelines or stacks, if any), ``roles``,
``iat``/``nbf``/``exp`` (at most 15 minutes), ``jti``, and ``sid`` (the session) or ``akid`` (the key) so
that revoking either stops the token, and ``run`` for a workload.

Permissions are computed here, at issue time, from the grants and shares; a grant change reaches a
workspace with the next token (at most one access-token lifetime later). Revocation is the fast path,
for shares too (a revoked share's id is on the revocation list).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from runyard.control_plane.actor import Actor
from runyard.control_plane.db.models import ApiKeyRow, ServiceAccountRow, SessionRow, UserRow, WorkspaceRow
from runyard.control_plane.rbac import allows
from runyard.control_plane.services import audit, orgs, sessions, shares
from runyard.control_plane.services.roles import Scoped, workspace_permissions
from runyard.control_plane.signing import KeyRing
from runyard.exceptions import PermissionDenied, Unauthenticated
from runyard.workspace.db.types import utcnow

#: ``aud`` of tokens for the control plane's own API.
CONTROL_PLANE_AUDIENCE = "runyard-control-plane"
#: What a run's workload token may ever do: its own run's writes and the reads a step runner needs.
WORKLOAD_PERMISSIONS = frozenset({
    "runs:read", "runs:create", "runs:update", "pipelines:read", "artifacts:read", "artifacts:create",
    "stacks:read", "components:read", "models:read",
})


@dataclass(frozen=True)
class TokenSettings:
    issuer: str
    access_ttl: timedelta
    workload_ttl: timedelta


@dataclass(frozen=True)
class Subject:
    """The identity a token speaks for."""

    kind: str  # "user" | "service_account"
    id: uuid.UUID
    name: str
    org_ids: tuple[uuid.UUID, ...]
    is_superuser: bool = False

    @property
    def sub(self) -> str:
        return f"{self.kind}:{self.id}"


def subject_of(session: Session, *, subject_type: str, subject_id: uuid.UUID) -> Subject:
    """The active user or service account behind a session or key; 401 if it is gone or disabled."""
    if subject_type == "user":
        user = session.get(UserRow, subject_id)
        if user is None or not user.is_active:
            raise Unauthenticated("This account is disabled.")
        org_ids = tuple(o.id for o in orgs.orgs_of_user(session, user_id=user.id))
        return Subject("user", user.id, user.email, org_ids, user.is_superuser)
    account = session.get(ServiceAccountRow, subject_id)
    if account is None or not account.is_active:
        raise Unauthenticated("This service account is disabled.")
    return Subject("service_account", account.id, account.name, (account.org_id,))


def scoped_permissions(session: Session, *, subject: Subject, audience: str) -> tuple[WorkspaceRow, Scoped]:
    """The workspace an audience names and what ``subject`` may do there; 403 if nothing at all."""
    workspace = orgs.workspace_by_audience(session, audience=audience)
    if workspace.org_id not in subject.org_ids:
        raise PermissionDenied("You have no access to this workspace.")
    scoped = workspace_permissions(session, subject_type=subject.kind, subject_id=subject.id, workspace=workspace)
    if not scoped.workspace and not scoped.projects and not shares.shares_of(
            session, subject_type=subject.kind, subject_id=subject.id, workspace_id=workspace.id):
        raise PermissionDenied("You have no access to this workspace.", hint="Ask an admin for a role there.")
    return workspace, scoped


def issue(session: Session, *, keyring: KeyRing, settings: TokenSettings, subject: Subject, audience: str | None,
          session_id: uuid.UUID | None = None, api_key: ApiKeyRow | None = None, run_id: uuid.UUID | None = None,
          not_after: datetime | None = None, project: str | None = None) -> tuple[str, int]:
    """Signs an access token for ``audience`` (``None``: the control plane); returns it and its lifetime."""
    now = utcnow()
    exp = now + (settings.workload_ttl if run_id else settings.access_ttl)
    if not_after is not None:
        exp = min(exp, not_after)
    if api_key is not None and api_key.expires is not None:
        exp = min(exp, api_key.expires)
    claims: dict[str, Any] = {
        "iss": settings.issuer, "sub": subject.sub, "kind": "workload" if run_id else subject.kind,
        "name": subject.name, "iat": int(now.timestamp()), "nbf": int(now.timestamp()) - 5,
        "exp": int(exp.timestamp()), "jti": uuid.uuid4().hex,
    }
    if audience is None or audience == CONTROL_PLANE_AUDIENCE:
        claims["aud"] = CONTROL_PLANE_AUDIENCE
    else:
        workspace, scoped = scoped_permissions(session, subject=subject, audience=audience)
        perms = scoped.workspace
        projects = {k: sorted(v) for k, v in scoped.projects.items()}
        if run_id is not None:  # a workload may do its run's work and no more than its creator
            claims["run"] = str(run_id)
            secrets = _workload_secrets(scoped.workspace)
            if project is None:
                perms, projects = _workload(scoped.workspace) | secrets, {}
            else:  # in its run's project only, whatever else the creator may do (secrets are workspace-wide)
                perms, projects = secrets, {project: sorted(_workload(scoped.in_project(project)))}
        claims.update(aud=audience, org=str(workspace.org_id), perms=sorted(perms), proj=projects,
                      roles=sorted(scoped.roles))
        if run_id is None:  # a workload acts with its project's permissions only, never through shares
            held = shares.shares_of(session, subject_type=subject.kind, subject_id=subject.id,
                                    workspace_id=workspace.id)
            if held:
                claims["shr"] = [share.to_claim() for share in held]
    if session_id is not None:
        claims["sid"] = str(session_id)
    if api_key is not None:
        claims["akid"] = str(api_key.id)
    return keyring.sign(session, claims), max(0, int(exp.timestamp()) - int(now.timestamp()))


def issue_for_session(session: Session, *, keyring: KeyRing, settings: TokenSettings, row: SessionRow,
                      audience: str | None) -> tuple[str, int]:
    subject = subject_of(session, subject_type=row.subject_type, subject_id=row.subject_id)
    return issue(session, keyring=keyring, settings=settings, subject=subject, audience=audience,
                 session_id=row.id, not_after=row.expires)


def issue_for_key(session: Session, *, keyring: KeyRing, settings: TokenSettings, key: ApiKeyRow,
                  audience: str | None, actor: Actor) -> tuple[str, int]:
    if key.service_account_id is not None:
        subject = subject_of(session, subject_type="service_account", subject_id=key.service_account_id)
    else:
        assert key.user_id is not None
        subject = subject_of(session, subject_type="user", subject_id=key.user_id)
    token = issue(session, keyring=keyring, settings=settings, subject=subject, audience=audience, api_key=key)
    audit.record(session, action="token.exchange", actor=actor, org_id=key.org_id, target=f"key:{key.prefix}",
                 workspace=audience, details={"kind": key.kind})
    return token


def _workload(held: frozenset[str]) -> frozenset[str]:
    return frozenset(p for p in WORKLOAD_PERMISSIONS if allows(held, p))


#: Secrets belong to the whole workspace, so only workspace-wide grants carry them: a run's steps may read
#: (``runyard.secrets.get_secret``) exactly the secrets the run's creator may read, never more.
WORKLOAD_SECRET_PERMISSIONS = frozenset({"secrets:read", "secrets:read_secret_values"})


def _workload_secrets(workspace_wide: frozenset[str]) -> frozenset[str]:
    return frozenset(p for p in WORKLOAD_SECRET_PERMISSIONS if allows(workspace_wide, p))


def issue_workload(session: Session, *, keyring: KeyRing, settings: TokenSettings, creator: Subject,
                   audience: str, run_id: uuid.UUID, actor: Actor, project: str | None = None) -> tuple[str, int]:
    """A token that may write only run ``run_id`` in one workspace (and, given ``project``, act only in that
    project); the creator needs ``runs:create`` there."""
    workspace, scoped = scoped_permissions(session, subject=creator, audience=audience)
    held = scoped.workspace if project is None else scoped.in_project(project)
    if not allows(held, "runs:create"):
        where = "this workspace" if project is None else f"project {project!r}"
        raise PermissionDenied(f"You may not start runs in {where}.")
    row, _ = sessions.start_session(session, subject_type=creator.kind, subject_id=creator.id, method="workload",
                                    actor=actor, ttl=settings.workload_ttl, refreshable=False,
                                    org_id=workspace.org_id)
    audit.record(session, action="token.workload", actor=actor, org_id=workspace.org_id, target=f"run:{run_id}",
                 workspace=audience, details={"project": project} if project else None)
    return issue(session, keyring=keyring, settings=settings, subject=creator, audience=audience, session_id=row.id,
                 run_id=run_id, project=project)
