"""One control plane in this process: its database, signing keys and token settings, held together.

The HTTP app, the all-in-one server (whose workspace verifies tokens through :class:`LocalKeySource`,
without HTTP), the CLI and the tests all go through this object.
"""

from __future__ import annotations

import functools
import uuid
from datetime import timedelta
from typing import Any

from sqlalchemy.orm import Session

from runyard.control_plane.actor import SYSTEM, Actor
from runyard.control_plane.db.engine import get_control_plane_database
from runyard.control_plane.db.models import OrganizationRow, UserRow, WorkspaceRow
from runyard.control_plane.services import keys, orgs, roles, sessions, tokens, users
from runyard.control_plane.signing import KeyRing, secret_key
from runyard.control_plane.verifier import KeySource, TokenVerifier
from runyard.exceptions import NotFound, Unauthenticated
from runyard.settings import Settings, get_settings

DEFAULT_ORG = "default"


class ControlPlane:
    def __init__(self, database_url: str | None = None, *, settings: Settings | None = None) -> None:
        self.settings = settings or get_settings()
        self.db = get_control_plane_database(database_url or self.settings.control_plane_db_url)
        self.secret = secret_key(self.settings)
        self.token_settings = tokens.TokenSettings(
            issuer=self.settings.control_plane_issuer,
            access_ttl=timedelta(seconds=min(self.settings.access_token_ttl_s, 900)),
            workload_ttl=timedelta(seconds=self.settings.workload_token_ttl_s),
        )
        # a retired key stays published while a token it signed can still be valid
        horizon = max(self.token_settings.access_ttl, self.token_settings.workload_ttl) + timedelta(minutes=5)
        self.revocation_horizon = horizon
        self.keyring = KeyRing(self.secret, publish_retired_for=horizon)

    # --- set-up ----------------------------------------------------------------------------------
    def bootstrap_admin(self, *, email: str, password: str, org: str = DEFAULT_ORG) -> UserRow:
        """The first admin: a superuser with the ``admin`` role on ``org`` (created if needed).

        Idempotent: an existing user with this email is left as is (its password is not reset).
        """
        with self.db.session(write=True) as session:
            existing = users.find_user(session, email=email)
            org_row = _org(session, org)
            if existing is not None:
                return existing
            user = users.create_user(session, email=email, password=password, actor=SYSTEM, is_superuser=True,
                                     org_id=org_row.id)
            orgs.add_member(session, org_id=org_row.id, user_id=user.id, actor=SYSTEM)
            admin = roles.get_role(session, org_id=org_row.id, name="admin")
            roles.create_grant(session, org_id=org_row.id, role=admin, subject_type="user", subject_id=user.id,
                               scope_type="org", scope_id=org_row.id, actor=SYSTEM, actor_permissions=frozenset("*"),
                               subject_label=email)
            return user

    def has_users(self) -> bool:
        with self.db.session(write=False) as session:
            return users.any_user(session)

    def register_workspace(self, *, name: str, url: str, audience: str | None = None,
                           org: str = DEFAULT_ORG) -> WorkspaceRow:
        """Registers a Workspace Server (idempotent by name within the organization)."""
        with self.db.session(write=True) as session:
            org_row = _org(session, org)
            try:
                return orgs.get_workspace(session, org_id=org_row.id, name=name)
            except NotFound:
                return orgs.create_workspace(session, org=org_row, name=name, url=url, audience=audience,
                                             actor=SYSTEM)

    # --- tokens ----------------------------------------------------------------------------------
    def verifier(self, audience: str) -> TokenVerifier:
        return TokenVerifier(LocalKeySource(self), audience=audience, issuer=self.token_settings.issuer,
                             min_refresh_s=self.settings.jwks_min_refresh_s, poll_s=self.settings.revocation_poll_s)

    @functools.cached_property
    def own_verifier(self) -> TokenVerifier:
        """Verifies tokens for the control plane's own API. The revocation list is read once: requests to
        the control plane check sessions and keys in its database, which is always current."""
        return TokenVerifier(LocalKeySource(self), audience=tokens.CONTROL_PLANE_AUDIENCE,
                             issuer=self.token_settings.issuer, min_refresh_s=self.settings.jwks_min_refresh_s,
                             poll_s=float("inf"))

    def jwks(self) -> dict[str, Any]:
        with self.db.session(write=True) as session:  # write: the first call creates the first key
            self.keyring.active(session)
            return self.keyring.jwks(session)

    def revocations(self) -> dict[str, Any]:
        with self.db.session(write=False) as session:
            return sessions.revocation_list(session, horizon=self.revocation_horizon).model_dump(mode="json")

    def exchange_api_key(self, key: str, audience: str | None, *, actor: Actor = SYSTEM) -> tuple[str, int]:
        with self.db.session(write=True) as session:
            row = keys.authenticate_key(session, value=key)
            if row is None:
                raise Unauthenticated("The API key is invalid, expired or revoked.")
            return tokens.issue_for_key(session, keyring=self.keyring, settings=self.token_settings, key=row,
                                        audience=audience, actor=actor)

    def login_token(self, *, user_id: uuid.UUID, audience: str | None, method: str = "password",
                    actor: Actor = SYSTEM) -> tuple[str, str | None, int]:
        """Opens a session for a user and returns (access token, refresh token, lifetime)."""
        with self.db.session(write=True) as session:
            row, refresh = sessions.start_session(
                session, subject_type="user", subject_id=user_id, method=method, actor=actor,
                ttl=timedelta(seconds=self.settings.refresh_token_ttl_s),
                org_id=users.primary_org(session, user_id=user_id))
            token, ttl = tokens.issue_for_session(session, keyring=self.keyring, settings=self.token_settings,
                                                  row=row, audience=audience)
            return token, refresh, ttl


class LocalKeySource(KeySource):
    """The control plane in this very process (all-in-one mode): no HTTP, same answers."""

    def __init__(self, control_plane: ControlPlane) -> None:
        self.control_plane = control_plane

    def jwks(self) -> dict[str, Any]:
        return self.control_plane.jwks()

    def revocations(self) -> dict[str, Any]:
        return self.control_plane.revocations()

    def exchange_api_key(self, key: str, audience: str) -> str:
        return self.control_plane.exchange_api_key(key, audience)[0]


def _org(session: Session, name: str) -> OrganizationRow:
    try:
        return orgs.get_org(session, name=name)
    except NotFound:
        return orgs.create_org(session, name=name, actor=SYSTEM)
