"""ORM models of the control-plane database (its own ``Base``: never mixed with the workspace's).

Secrets are never stored in plain text: passwords as argon2id hashes, API keys, personal access tokens
and refresh tokens as SHA-256 of their random part (they carry 256 bits of entropy, so a slow hash would
only slow every login without making a leak any harder to exploit), signing keys encrypted with the
control plane's secret key. Names that appear in URLs are unique per parent and validated by the schemas.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint, Uuid
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from runyard.workspace.db.types import UTCDateTime, utcnow


class Base(DeclarativeBase):
    type_annotation_map = {datetime: UTCDateTime, dict[str, Any]: JSON, list[str]: JSON, uuid.UUID: Uuid}


def _id() -> Mapped[uuid.UUID]:
    return mapped_column(Uuid, primary_key=True, default=uuid.uuid4)


def _created() -> Mapped[datetime]:
    return mapped_column(UTCDateTime, default=utcnow, nullable=False)


class OrganizationRow(Base):
    __tablename__ = "organizations"
    id: Mapped[uuid.UUID] = _id()
    name: Mapped[str] = mapped_column(String(64), unique=True)
    created: Mapped[datetime] = _created()


class WorkspaceRow(Base):
    """A Workspace Server known to the control plane: where it is, and the audience its tokens carry."""

    __tablename__ = "workspaces"
    __table_args__ = (UniqueConstraint("org_id", "name"),)
    id: Mapped[uuid.UUID] = _id()
    org_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(64))
    url: Mapped[str] = mapped_column(String(500))
    audience: Mapped[str] = mapped_column(String(200), unique=True)
    created: Mapped[datetime] = _created()


class ProjectRow(Base):
    __tablename__ = "projects"
    __table_args__ = (UniqueConstraint("workspace_id", "name"),)
    id: Mapped[uuid.UUID] = _id()
    workspace_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(64))
    created: Mapped[datetime] = _created()


class UserRow(Base):
    __tablename__ = "users"
    id: Mapped[uuid.UUID] = _id()
    email: Mapped[str] = mapped_column(String(320), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    #: ``None`` for users who only sign in through SSO.
    password_hash: Mapped[str | None] = mapped_column(String(200))
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    #: May create organizations (the first admin of a fresh control plane).
    is_superuser: Mapped[bool] = mapped_column(Boolean, default=False)
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    sso_issuer: Mapped[str | None] = mapped_column(String(500))
    sso_subject: Mapped[str | None] = mapped_column(String(255))
    created: Mapped[datetime] = _created()
    __table_args__ = (UniqueConstraint("sso_issuer", "sso_subject"),)


class MembershipRow(Base):
    """A user belongs to an organization (grants give them permissions there)."""

    __tablename__ = "memberships"
    org_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"), primary_key=True)
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True,
                                               index=True)
    created: Mapped[datetime] = _created()


class TeamRow(Base):
    __tablename__ = "teams"
    __table_args__ = (UniqueConstraint("org_id", "name"),)
    id: Mapped[uuid.UUID] = _id()
    org_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(64))
    created: Mapped[datetime] = _created()


class TeamMemberRow(Base):
    __tablename__ = "team_members"
    team_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("teams.id", ondelete="CASCADE"), primary_key=True)
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True,
                                               index=True)


class ServiceAccountRow(Base):
    __tablename__ = "service_accounts"
    __table_args__ = (UniqueConstraint("org_id", "name"),)
    id: Mapped[uuid.UUID] = _id()
    org_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(64))
    description: Mapped[str] = mapped_column(String(500), default="")
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    created: Mapped[datetime] = _created()


class ApiKeyRow(Base):
    """An API key (of a service account) or a personal access token (of a user).

    The full secret is shown once at creation; only ``prefix`` (to find the row and to show the user
    which key is which) and the SHA-256 of the secret part are kept.
    """

    __tablename__ = "api_keys"
    id: Mapped[uuid.UUID] = _id()
    kind: Mapped[str] = mapped_column(String(10))  # "api_key" | "pat"
    prefix: Mapped[str] = mapped_column(String(16), unique=True)
    secret_hash: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(64))
    org_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"), index=True)
    service_account_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("service_accounts.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    expires: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_used: Mapped[datetime | None] = mapped_column(UTCDateTime)
    rotated_from: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    created: Mapped[datetime] = _created()


class RoleRow(Base):
    """A named set of ``resource:action`` permissions; built-in roles have no organization."""

    __tablename__ = "roles"
    __table_args__ = (UniqueConstraint("org_id", "name"),)
    id: Mapped[uuid.UUID] = _id()
    org_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(64))
    permissions: Mapped[list[str]]
    builtin: Mapped[bool] = mapped_column(Boolean, default=False)
    created: Mapped[datetime] = _created()


class GrantRow(Base):
    """A role given to a user, team or service account at an org, workspace or project scope."""

    __tablename__ = "grants"
    __table_args__ = (
        UniqueConstraint("role_id", "subject_type", "subject_id", "scope_type", "scope_id"),
        Index("ix_grants_subject", "subject_type", "subject_id"),
    )
    id: Mapped[uuid.UUID] = _id()
    org_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"), index=True)
    role_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("roles.id", ondelete="CASCADE"))
    subject_type: Mapped[str] = mapped_column(String(20))  # user | team | service_account
    subject_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    scope_type: Mapped[str] = mapped_column(String(20))  # org | workspace | project
    scope_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    created: Mapped[datetime] = _created()


class SessionRow(Base):
    """A login: its id is the ``sid`` claim of every token it yields, so revoking it stops them all."""

    __tablename__ = "sessions"
    id: Mapped[uuid.UUID] = _id()
    subject_type: Mapped[str] = mapped_column(String(20))  # user | service_account
    subject_id: Mapped[uuid.UUID] = mapped_column(Uuid, index=True)
    method: Mapped[str] = mapped_column(String(20))  # password | device | sso | api_key | workload
    #: SHA-256 of the current refresh token (rotated at each use); ``None``: no refresh possible.
    refresh_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    api_key_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    expires: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    ip: Mapped[str | None] = mapped_column(String(64))
    user_agent: Mapped[str | None] = mapped_column(String(300))
    created: Mapped[datetime] = _created()


class SigningKeyRow(Base):
    """An Ed25519 token-signing key. The newest active one signs; retired ones stay published a while."""

    __tablename__ = "signing_keys"
    kid: Mapped[str] = mapped_column(String(64), primary_key=True)
    algorithm: Mapped[str] = mapped_column(String(16))
    public_jwk: Mapped[dict[str, Any]]
    private_pem: Mapped[str] = mapped_column(Text)  # PKCS#8, encrypted with the control plane's secret key
    retired_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created: Mapped[datetime] = _created()


class DeviceCodeRow(Base):
    """One OAuth 2.0 device authorization (RFC 8628): the CLI polls with the device code (kept hashed)."""

    __tablename__ = "device_codes"
    id: Mapped[uuid.UUID] = _id()
    device_code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_code: Mapped[str] = mapped_column(String(16), unique=True)
    audience: Mapped[str | None] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(10))  # pending | approved | denied | used
    user_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    expires: Mapped[datetime] = mapped_column(UTCDateTime)
    last_polled: Mapped[datetime | None] = mapped_column(UTCDateTime)
    interval: Mapped[int] = mapped_column(Integer, default=5)
    created: Mapped[datetime] = _created()


class AuditEventRow(Base):
    """Who did what, when, from where. Append-only: no service function updates or deletes a row."""

    __tablename__ = "audit_events"
    __table_args__ = (Index("ix_audit_org_time", "org_id", "time", "id"),)
    id: Mapped[uuid.UUID] = _id()
    time: Mapped[datetime] = _created()
    org_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    action: Mapped[str] = mapped_column(String(64), index=True)
    outcome: Mapped[str] = mapped_column(String(10))  # success | denied | failure
    actor_type: Mapped[str] = mapped_column(String(20))
    actor_id: Mapped[str | None] = mapped_column(String(64))
    actor_name: Mapped[str | None] = mapped_column(String(320))
    target: Mapped[str | None] = mapped_column(String(300))
    workspace: Mapped[str | None] = mapped_column(String(200))
    ip: Mapped[str | None] = mapped_column(String(64))
    user_agent: Mapped[str | None] = mapped_column(String(300))
    details: Mapped[dict[str, Any]]


class LoginCodeRow(Base):
    """A one-time code that signs a browser in to a Workspace Server's dashboard (split mode).

    The control plane hands it to the workspace through the browser's redirect; the workspace exchanges it,
    server to server, for an access token of the browser's control-plane session. Kept hashed, valid for a
    minute, usable once, bound to its redirect URI, audience and PKCE challenge.
    """

    __tablename__ = "login_codes"
    id: Mapped[uuid.UUID] = _id()
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    session_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("sessions.id", ondelete="CASCADE"), index=True)
    audience: Mapped[str] = mapped_column(String(200))
    redirect_uri: Mapped[str] = mapped_column(String(500))
    code_challenge: Mapped[str] = mapped_column(String(128))
    expires: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created: Mapped[datetime] = _created()


class ShareRow(Base):
    """One pipeline or stack of a project shared with a user or a team (see ``control_plane/share_rules.py``).

    The resource lives in the workspace's database: ``resource_id`` is its id there, ``resource_name`` what
    it was called when shared (for people reading listings). A revoked share keeps its row (``revoked_at``)
    so workspaces can be told to stop honouring tokens that still carry it.
    """

    __tablename__ = "shares"
    __table_args__ = (
        Index("ix_shares_subject", "subject_type", "subject_id"),
        Index("ix_shares_resource", "project_id", "resource_type", "resource_id"),
    )
    id: Mapped[uuid.UUID] = _id()
    org_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"), index=True)
    workspace_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    project_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    resource_type: Mapped[str] = mapped_column(String(20))  # pipelines | stacks
    resource_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    resource_name: Mapped[str | None] = mapped_column(String(250))
    subject_type: Mapped[str] = mapped_column(String(20))  # user | team
    subject_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    role: Mapped[str | None] = mapped_column(String(20))  # a share role, or None for an explicit subset
    permissions: Mapped[list[str]]
    created_by: Mapped[str | None] = mapped_column(String(320))
    created: Mapped[datetime] = _created()
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
