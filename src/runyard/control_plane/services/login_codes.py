"""One-time codes that carry a browser's control-plane sign-in to a Workspace Server (split mode).

The flow is OAuth 2.0's authorization code grant with PKCE (RFC 6749 4.1, RFC 7636), first-party:

1. the workspace sends the browser to ``/workspace-login`` with its audience, its callback URL, a random
   ``state`` and ``code_challenge = BASE64URL(SHA-256(verifier))``, keeping state and verifier in a cookie;
2. the control plane signs the browser in (its own cookie session), checks that the callback is the one
   registered for that audience, and answers with a code bound to the browser's session;
3. the workspace checks ``state`` and exchanges the code, server to server, with the verifier, for an
   access token of that session (``sid``), so signing out at the control plane, or an admin revoking the
   session, ends the dashboard's access too.

A code lives a minute, is stored hashed, and works once: a second use is refused and audited.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import uuid
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from runyard.control_plane.actor import Actor
from runyard.control_plane.db.models import LoginCodeRow, SessionRow, WorkspaceRow
from runyard.control_plane.services import audit, sessions
from runyard.exceptions import InvalidInput, NotFound, Unauthenticated
from runyard.workspace.db.types import utcnow

LIFETIME = timedelta(seconds=60)
CALLBACK_PATH = "/auth/callback"


def _hash(code: str) -> str:
    return hashlib.sha256(code.encode()).hexdigest()


def challenge_of(verifier: str) -> str:
    """PKCE S256: ``BASE64URL(SHA-256(verifier))`` without padding."""
    digest = hashlib.sha256(verifier.encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def callback_for(workspace: WorkspaceRow) -> str:
    """The only redirect URI a workspace may receive codes at: its registered URL + ``/auth/callback``."""
    return workspace.url.rstrip("/") + CALLBACK_PATH


def workspace_for(session: Session, *, audience: str, redirect_uri: str) -> WorkspaceRow:
    """The workspace of ``audience``, if ``redirect_uri`` is its registered callback (no open redirect)."""
    row = session.scalar(select(WorkspaceRow).where(WorkspaceRow.audience == audience))
    if row is None:
        raise NotFound("No workspace is registered with this audience.")
    if redirect_uri != callback_for(row):
        raise InvalidInput("This callback URL is not the one registered for the workspace.",
                           hint=f"Register the workspace with the URL browsers use (expected {callback_for(row)}).")
    return row


def issue(session: Session, *, browser_session: SessionRow, workspace: WorkspaceRow, redirect_uri: str,
          code_challenge: str, actor: Actor) -> str:
    if not 43 <= len(code_challenge) <= 128:
        raise InvalidInput("The code_challenge must be a PKCE S256 challenge.")
    code = secrets.token_urlsafe(32)
    session.add(LoginCodeRow(id=uuid.uuid4(), code_hash=_hash(code), session_id=browser_session.id,
                             audience=workspace.audience, redirect_uri=redirect_uri, code_challenge=code_challenge,
                             expires=utcnow() + LIFETIME))
    audit.record(session, action="login.workspace_code", actor=actor, org_id=workspace.org_id,
                 target=f"workspace:{workspace.name}", workspace=workspace.audience)
    return code


def redeem(session: Session, *, code: str, code_verifier: str, redirect_uri: str) -> LoginCodeRow:
    """The code's row, marked used, if every binding holds; else 401 (the app audits every 401)."""
    row = session.scalar(select(LoginCodeRow).where(LoginCodeRow.code_hash == _hash(code)))
    if row is None or row.expires <= utcnow():
        raise Unauthenticated("The login code is invalid or expired.", hint="Sign in again.")
    if row.used_at is not None:
        raise Unauthenticated("The login code was already used.", hint="Sign in again.")
    if row.redirect_uri != redirect_uri or not hmac.compare_digest(row.code_challenge, challenge_of(code_verifier)):
        raise Unauthenticated("The login code does not match this request.", hint="Sign in again.")
    browser = session.get(SessionRow, row.session_id)
    if browser is None or not sessions.is_live(browser):
        raise Unauthenticated("The sign-in session has ended.", hint="Sign in again.")
    row.used_at = utcnow()
    return row
