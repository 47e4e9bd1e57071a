"""Users: creation under the password policy, password login with lockout, deactivation.

Lockout: after :data:`MAX_FAILED_LOGINS` consecutive failures an account is locked for a minute, doubling
with every further failure up to an hour. While locked even the right password is refused, so guessing
online costs an attacker hours per handful of tries; the failure message is the same for a wrong
password, an unknown email and a locked account, so it tells nothing about which accounts exist.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from runyard.control_plane import passwords
from runyard.control_plane.actor import Actor
from runyard.control_plane.db.models import MembershipRow, SessionRow, UserRow
from runyard.control_plane.services import audit
from runyard.exceptions import Conflict, NotFound
from runyard.workspace.db.types import utcnow

MAX_FAILED_LOGINS = 5
BASE_LOCKOUT = timedelta(minutes=1)
MAX_LOCKOUT = timedelta(hours=1)


def create_user(session: Session, *, email: str, name: str = "", password: str | None, actor: Actor,
                is_superuser: bool = False, org_id: uuid.UUID | None = None) -> UserRow:
    email = email.strip().lower()
    if password is not None:
        passwords.check_policy(password, email=email)
    if session.scalar(select(UserRow.id).where(UserRow.email == email)) is not None:
        raise Conflict("A user with this email exists.")
    user = UserRow(id=uuid.uuid4(), email=email, name=name or email.split("@")[0], is_active=True,
                   is_superuser=is_superuser, failed_logins=0,
                   password_hash=passwords.hash_password(password) if password is not None else None)
    session.add(user)
    session.flush()
    audit.record(session, action="user.create", actor=actor, org_id=org_id, target=f"user:{email}",
                 details={"superuser": is_superuser})
    return user


def get_user(session: Session, *, user_id: uuid.UUID) -> UserRow:
    user = session.get(UserRow, user_id)
    if user is None:
        raise NotFound("No such user.")
    return user


def find_user(session: Session, *, email: str) -> UserRow | None:
    return session.scalar(select(UserRow).where(UserRow.email == email.strip().lower()))


def get_member_by_email(session: Session, *, org_id: uuid.UUID, email: str) -> UserRow:
    """The user with this email *in this organization*; anyone else is "not found"."""
    user = session.scalar(select(UserRow).join(MembershipRow, MembershipRow.user_id == UserRow.id)
                          .where(MembershipRow.org_id == org_id, UserRow.email == email.strip().lower()))
    if user is None:
        raise NotFound("No user with this email in this organization.")
    return user


def list_users(session: Session, *, org_id: uuid.UUID) -> list[UserRow]:
    return list(session.scalars(select(UserRow).join(MembershipRow, MembershipRow.user_id == UserRow.id)
                                .where(MembershipRow.org_id == org_id).order_by(UserRow.email)))


def any_user(session: Session) -> bool:
    return session.scalar(select(UserRow.id).limit(1)) is not None


def set_password(session: Session, *, user: UserRow, password: str, actor: Actor) -> None:
    passwords.check_policy(password, email=user.email)
    user.password_hash = passwords.hash_password(password)
    user.failed_logins = 0
    user.locked_until = None
    audit.record(session, action="user.password_set", actor=actor, target=f"user:{user.email}")


def deactivate_user(session: Session, *, user: UserRow, actor: Actor, org_id: uuid.UUID | None) -> None:
    """Disables the account and revokes every session, so its tokens stop working within a poll interval."""
    user.is_active = False
    session.execute(update(SessionRow).where(SessionRow.subject_type == "user", SessionRow.subject_id == user.id,
                                             SessionRow.revoked_at.is_(None)).values(revoked_at=utcnow()))
    audit.record(session, action="user.deactivate", actor=actor, org_id=org_id, target=f"user:{user.email}")


def authenticate_password(session: Session, *, email: str, password: str, actor: Actor,
                          now: datetime | None = None) -> UserRow | None:
    """The user if the email and password match an active, unlocked account; else ``None``.

    Never raises on a wrong password: the failure counter and the audit entry must be committed, and a
    raised error would roll them back. The caller turns ``None`` into a 401.
    """
    now = now or utcnow()
    email = email.strip().lower()[:320]
    user = find_user(session, email=email)
    locked = user is not None and user.locked_until is not None and user.locked_until > now
    ok = passwords.verify_password(password, user.password_hash if user is not None and not locked else None)
    if user is not None and ok and user.is_active:
        user.failed_logins = 0
        user.locked_until = None
        if user.password_hash and passwords.needs_rehash(user.password_hash):
            user.password_hash = passwords.hash_password(password)
        audit.record(session, action="login", actor=_as(actor, user), target=f"user:{email}",
                     org_id=primary_org(session, user_id=user.id), details={"method": "password"})
        return user
    reason = "unknown_user" if user is None else "locked" if locked else "inactive" if ok else "bad_password"
    if user is not None and not locked:
        user.failed_logins += 1
        if user.failed_logins >= MAX_FAILED_LOGINS:
            user.locked_until = now + min(MAX_LOCKOUT, BASE_LOCKOUT * 2 ** (user.failed_logins - MAX_FAILED_LOGINS))
            reason = "locked_now" if reason == "bad_password" else reason
    audit.record(session, action="login", outcome="failure", actor=actor, target=f"user:{email}",
                 org_id=primary_org(session, user_id=user.id) if user is not None else None,
                 details={"method": "password", "reason": reason})
    return None


def primary_org(session: Session, *, user_id: uuid.UUID) -> uuid.UUID | None:
    """The organization a user joined first: where their logins are filed in the audit log."""
    query = select(MembershipRow.org_id).where(MembershipRow.user_id == user_id).order_by(MembershipRow.created)
    return session.scalar(query.limit(1))


def _as(actor: Actor, user: UserRow) -> Actor:
    return Actor(kind="user", id=user.id, name=user.email, is_superuser=user.is_superuser, ip=actor.ip,
                 user_agent=actor.user_agent)
