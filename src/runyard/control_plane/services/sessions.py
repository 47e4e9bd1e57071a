"""Login sessions and the revocation list.

A session is one login (password, device flow, SSO) or one run's workload. Its id is the ``sid`` claim of
every access token it yields; a refresh token (shown once, stored hashed) lets the CLI get new access
tokens for any workspace it may use until the session expires or is revoked. Revoked session ids and
revoked key ids are published (:func:`revocation_list`) for as long as a token naming them may live, and
Workspace Servers poll that list.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from runyard.control_plane.actor import Actor
from runyard.control_plane.credentials import REFRESH, new_credential, parse_credential
from runyard.control_plane.db.models import ApiKeyRow, SessionRow
from runyard.control_plane.schemas import RevocationList
from runyard.control_plane.services import audit
from runyard.exceptions import NotFound
from runyard.workspace.db.types import utcnow


def start_session(session: Session, *, subject_type: str, subject_id: uuid.UUID, method: str, actor: Actor,
                  ttl: timedelta, refreshable: bool = True, org_id: uuid.UUID | None = None,
                  ) -> tuple[SessionRow, str | None]:
    """Opens a session; returns it and its refresh token (``None`` when not ``refreshable``)."""
    refresh = new_credential(REFRESH) if refreshable else None
    row = SessionRow(
        id=uuid.uuid4(), subject_type=subject_type, subject_id=subject_id, method=method,
        refresh_hash=refresh.secret_hash if refresh else None, expires=utcnow() + ttl, ip=actor.ip,
        user_agent=actor.user_agent,
    )
    session.add(row)
    session.flush()
    audit.record(session, action="session.start", actor=actor, org_id=org_id, target=f"session:{row.id}",
                 details={"method": method})
    return row, str(refresh) if refresh else None


def session_from_refresh(session: Session, *, token: str, now: datetime | None = None) -> SessionRow | None:
    """The live session a refresh token belongs to, or ``None`` (unknown, expired or revoked)."""
    credential = parse_credential(token)
    if credential is None or credential.kind != REFRESH:
        return None
    row = session.scalar(select(SessionRow).where(SessionRow.refresh_hash == credential.secret_hash))
    return row if row is not None and is_live(row, now=now) else None


def is_live(row: SessionRow, *, now: datetime | None = None) -> bool:
    now = now or utcnow()
    return row.revoked_at is None and row.expires > now


def get_session(session: Session, *, session_id: uuid.UUID) -> SessionRow:
    row = session.get(SessionRow, session_id)
    if row is None:
        raise NotFound("No such session.")
    return row


def revoke_session(session: Session, *, row: SessionRow, actor: Actor, org_id: uuid.UUID | None = None) -> None:
    if row.revoked_at is None:
        row.revoked_at = utcnow()
        audit.record(session, action="session.revoke", actor=actor, org_id=org_id, target=f"session:{row.id}",
                     details={"method": row.method})


def revoke_sessions_of(session: Session, *, subject_type: str, subject_id: uuid.UUID) -> None:
    session.execute(update(SessionRow).where(SessionRow.subject_type == subject_type,
                                             SessionRow.subject_id == subject_id,
                                             SessionRow.revoked_at.is_(None)).values(revoked_at=utcnow()))


def revocation_list(session: Session, *, horizon: timedelta, now: datetime | None = None) -> RevocationList:
    """Sessions and keys revoked within ``horizon`` (the longest a token may live): older ones need no
    listing, since every token naming them has expired anyway."""
    now = now or utcnow()
    since = now - horizon
    sessions = session.scalars(select(SessionRow.id).where(SessionRow.revoked_at.is_not(None),
                                                           SessionRow.revoked_at > since))
    keys = session.scalars(select(ApiKeyRow.id).where(ApiKeyRow.revoked_at.is_not(None),
                                                      ApiKeyRow.revoked_at > since,
                                                      ApiKeyRow.revoked_at <= now))
    from runyard.control_plane.services.shares import revoked_since

    return RevocationList(sessions=sorted(str(s) for s in sessions), api_keys=sorted(str(k) for k in keys),
                          generated_at=now, shares=revoked_since(session, since=since))
