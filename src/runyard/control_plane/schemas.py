"""Wire schemas of the control plane, by role (Create, Read, ...); they import neither the DB nor HTTP.

Names that appear in URLs (organizations, workspaces, projects, teams, service accounts, roles) are
slugs: lowercase letters, digits, ``-`` and ``_``. That rules out path separators, dots, quotes and SQL
metacharacters at the door, so no name can traverse a URL or surprise a log reader.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, SecretStr, StringConstraints

from runyard.control_plane.rbac import validate_permission

Slug = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_-]{0,62}$")]
Email = Annotated[str, StringConstraints(
    strip_whitespace=True, to_lower=True, max_length=320,
    pattern=r"^[a-zA-Z0-9_+-]+(\.[a-zA-Z0-9_+-]+)*@[a-zA-Z0-9-]+(\.[a-zA-Z0-9-]+)+$")]
Permission = Annotated[str, AfterValidator(validate_permission)]
SubjectType = Literal["user", "team", "service_account"]
ScopeType = Literal["org", "workspace", "project"]


class Schema(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ReadSchema(BaseModel):
    model_config = ConfigDict(from_attributes=True, frozen=True)


class OrganizationCreate(Schema):
    name: Slug


class OrganizationRead(ReadSchema):
    id: uuid.UUID
    name: str
    created: datetime


class OrganizationDetail(OrganizationRead):
    """``orgs-get``: an organization with what it holds, and what the caller may do there."""

    workspaces: list[str]
    members: int
    teams: int
    service_accounts: int
    #: The caller's organization-wide permissions (what the dashboard uses to hide what they may not do).
    permissions: list[str]


class WorkspaceCreate(Schema):
    name: Slug
    url: str = Field(pattern=r"^https?://[^\s]+$", max_length=500)
    #: Defaults to ``runyard:<org>:<name>``: unique across the control plane.
    audience: str | None = Field(default=None, pattern=r"^[A-Za-z0-9:._/-]{3,200}$")


class WorkspaceRead(ReadSchema):
    id: uuid.UUID
    org_id: uuid.UUID
    name: str
    url: str
    audience: str
    created: datetime


class ProjectCreate(Schema):
    name: Slug


class ProjectRead(ReadSchema):
    id: uuid.UUID
    workspace_id: uuid.UUID
    name: str
    created: datetime


class TeamCreate(Schema):
    name: Slug


class TeamRead(ReadSchema):
    id: uuid.UUID
    org_id: uuid.UUID
    name: str
    created: datetime


class TeamMemberAdd(Schema):
    email: Email


class UserCreate(Schema):
    email: Email
    name: str = Field(default="", max_length=200)
    #: ``None``: the user can only sign in through SSO (or after an admin sets a password).
    password: SecretStr | None = None


class UserRead(ReadSchema):
    id: uuid.UUID
    email: str
    name: str
    is_active: bool
    is_superuser: bool
    created: datetime


class ServiceAccountCreate(Schema):
    name: Slug
    description: str = Field(default="", max_length=500)


class ServiceAccountRead(ReadSchema):
    id: uuid.UUID
    org_id: uuid.UUID
    name: str
    description: str
    is_active: bool
    created: datetime


class ApiKeyCreate(Schema):
    name: Slug
    #: Days until the key stops working; ``None``: never (rotate it instead).
    expires_in_days: int | None = Field(default=90, ge=1, le=3650)


class ApiKeyRead(ReadSchema):
    """A key as listed: its visible prefix, never its secret."""

    id: uuid.UUID
    kind: str
    name: str
    prefix: str
    expires: datetime | None
    revoked_at: datetime | None
    last_used: datetime | None
    created: datetime


class ApiKeyCreated(ApiKeyRead):
    """Returned once, at creation or rotation: ``key`` is the only time the secret is ever shown."""

    key: str


class ApiKeyRotate(Schema):
    #: Seconds the old key keeps working, so deployments can switch over without downtime.
    grace_s: int = Field(default=0, ge=0, le=7 * 86400)


class RoleCreate(Schema):
    name: Slug
    permissions: list[Permission] = Field(min_length=1, max_length=200)


class RoleRead(ReadSchema):
    id: uuid.UUID
    org_id: uuid.UUID | None
    name: str
    permissions: list[str]
    builtin: bool


class GrantCreate(Schema):
    role: Slug
    subject_type: SubjectType
    #: An email (user), team name or service account name.
    subject: str = Field(min_length=1, max_length=320)
    scope_type: ScopeType = "org"
    #: Workspace name for ``workspace``; ``workspace/project`` for ``project``; ignored for ``org``.
    scope: str | None = Field(default=None, pattern=r"^[a-z0-9][a-z0-9_-]{0,62}(/[a-z0-9][a-z0-9_-]{0,62})?$")


class GrantRead(ReadSchema):
    id: uuid.UUID
    role: str
    subject_type: str
    subject_id: uuid.UUID
    scope_type: str
    scope_id: uuid.UUID
    created: datetime
    #: Readable names: the subject's email or name, the scope's ``workspace`` or ``workspace/project``.
    subject: str | None = None
    scope: str | None = None


class TeamDetail(TeamRead):
    members: list[str]
    grants: list[GrantRead]


class UserDetail(UserRead):
    """``users-get``: a member with their teams and the grants given to them directly."""

    teams: list[str]
    grants: list[GrantRead]


class TokenResponse(BaseModel):
    """RFC 6749 section 5.1: what the token endpoint answers."""

    access_token: str
    token_type: Literal["Bearer"] = "Bearer"
    expires_in: int
    refresh_token: str | None = None
    scope: str | None = None


class DeviceCodeResponse(BaseModel):
    """RFC 8628 section 3.2."""

    device_code: str
    user_code: str
    verification_uri: str
    verification_uri_complete: str
    expires_in: int
    interval: int


class WorkloadTokenCreate(Schema):
    audience: str = Field(max_length=200)
    run_id: uuid.UUID
    #: The run's project: the token then holds permissions in that project only (``None``: workspace-wide).
    project: Slug | None = None


class RevocationList(BaseModel):
    """What a workspace polls: ids of sessions and keys whose still-unexpired tokens must be refused."""

    sessions: list[str]
    api_keys: list[str]
    generated_at: datetime
    #: Revoked shares (``shr`` entries of still-unexpired tokens a workspace must ignore).
    shares: list[str] = Field(default_factory=list)


class AuditEventRead(ReadSchema):
    id: uuid.UUID
    time: datetime
    action: str
    outcome: str
    actor_type: str
    actor_id: str | None
    actor_name: str | None
    target: str | None
    workspace: str | None
    ip: str | None
    user_agent: str | None
    details: dict[str, Any]


class AuditIngest(Schema):
    """Events a Workspace Server forwards (run triggers, deletions, refused requests)."""

    events: list[dict[str, Any]] = Field(max_length=500)


class Me(BaseModel):
    user: UserRead | None
    service_account: ServiceAccountRead | None
    organizations: list[str]
    session_id: str | None


class ShareCreate(Schema):
    """One pipeline or stack of ``workspace/project`` shared with a user (email) or team (name)."""

    workspace: Slug
    project: Slug
    resource_type: Literal["pipelines", "stacks"]
    resource_id: uuid.UUID
    #: What the resource is called, for listings (the workspace resolves names; the control plane cannot).
    resource_name: str | None = Field(default=None, max_length=250)
    subject_type: Literal["user", "team"]
    subject: str = Field(min_length=1, max_length=320)
    #: A share role (``viewer``, ``developer``, ``admin``) or an explicit list of permissions, not both.
    role: Literal["viewer", "developer", "admin"] | None = None
    permissions: list[Permission] | None = Field(default=None, max_length=20)


class ShareRead(ReadSchema):
    id: uuid.UUID
    workspace: str
    project: str
    resource_type: str
    resource_id: uuid.UUID
    resource_name: str | None
    subject_type: str
    subject_id: uuid.UUID
    subject: str | None
    role: str | None
    permissions: list[str]
    created_by: str | None
    created: datetime
