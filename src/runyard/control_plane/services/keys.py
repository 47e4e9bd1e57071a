"""Service accounts, their API keys, and users' personal access tokens.

A key's secret is returned once (:class:`NewKey`), stored as a hash, and checked in constant time. A key
stops working when it expires or is revoked; revocation also reaches the Workspace Servers through the
revocation list, which names the key id carried by every token the key was exchanged for.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from runyard.control_plane.actor import Actor
from runyard.control_plane.credentials import API_KEY, PAT, new_credential, parse_credential, same_hash
from runyard.control_plane.db.models import ApiKeyRow, ServiceAccountRow, UserRow
from runyard.control_plane.services import audit
from runyard.exceptions import Conflict, NotFound
from runyard.workspace.db.types import utcnow


@dataclass(frozen=True)
class NewKey:
    row: ApiKeyRow
    secret: str  # the full ``ry_<prefix>_<secret>``: show once, never store or log

    def __repr__(self) -> str:
        return f"NewKey(prefix={self.row.prefix!r})"


def create_service_account(session: Session, *, org_id: uuid.UUID, name: str, description: str,
                           actor: Actor) -> ServiceAccountRow:
    if session.scalar(select(ServiceAccountRow.id).where(ServiceAccountRow.org_id == org_id,
                                                         ServiceAccountRow.name == name)) is not None:
        raise Conflict(f"A service account named {name!r} exists.")
    account = ServiceAccountRow(id=uuid.uuid4(), org_id=org_id, name=name, description=description, is_active=True)
    session.add(account)
    session.flush()
    audit.record(session, action="service_account.create", actor=actor, org_id=org_id,
                 target=f"service_account:{name}")
    return account


def get_service_account(session: Session, *, org_id: uuid.UUID, name: str) -> ServiceAccountRow:
    row = session.scalar(select(ServiceAccountRow).where(ServiceAccountRow.org_id == org_id,
                                                         ServiceAccountRow.name == name))
    if row is None or not row.is_active:
        raise NotFound(f"No service account {name!r} in this organization.")
    return row


def list_service_accounts(session: Session, *, org_id: uuid.UUID) -> list[ServiceAccountRow]:
    """The organization's service accounts, deleted ones left out."""
    return list(session.scalars(select(ServiceAccountRow).where(ServiceAccountRow.org_id == org_id,
                                                                ServiceAccountRow.is_active.is_(True))
                                .order_by(ServiceAccountRow.name)))


def delete_service_account(session: Session, *, account: ServiceAccountRow, actor: Actor) -> None:
    """Revokes every key of the account, drops its grants, and retires it.

    The row stays (deactivated, renamed so the name can be reused): its keys' ids must stay on the
    revocation list until their tokens expire, and the audit log keeps naming who acted.
    """
    from runyard.control_plane.db.models import GrantRow

    name = account.name
    for key in list_keys(session, service_account_id=account.id):
        if key.revoked_at is None or key.revoked_at > utcnow():
            revoke_key(session, key=key, actor=actor)
    for grant in session.scalars(select(GrantRow).where(GrantRow.subject_type == "service_account",
                                                        GrantRow.subject_id == account.id)):
        session.delete(grant)
    account.is_active = False
    account.name = f"{name[:40]}~deleted~{account.id.hex[:8]}"
    audit.record(session, action="service_account.delete", actor=actor, org_id=account.org_id,
                 target=f"service_account:{name}")


def create_key(session: Session, *, org_id: uuid.UUID, name: str, actor: Actor,
               service_account: ServiceAccountRow | None = None, user: UserRow | None = None,
               expires_in_days: int | None = 90, rotated_from: uuid.UUID | None = None) -> NewKey:
    """An API key for ``service_account`` or a personal access token for ``user`` (exactly one of them)."""
    if (service_account is None) == (user is None):
        raise ValueError("a key belongs to exactly one service account or user")
    kind = API_KEY if service_account is not None else PAT
    credential = new_credential(kind)
    row = ApiKeyRow(
        id=uuid.uuid4(), kind="api_key" if kind == API_KEY else "pat", prefix=credential.prefix,
        secret_hash=credential.secret_hash, name=name, org_id=org_id,
        service_account_id=service_account.id if service_account else None, user_id=user.id if user else None,
        expires=utcnow() + timedelta(days=expires_in_days) if expires_in_days else None, rotated_from=rotated_from,
    )
    session.add(row)
    session.flush()
    owner = f"service_account:{service_account.name}" if service_account else f"user:{user.email}"  # type: ignore[union-attr]
    audit.record(session, action=f"{row.kind}.create", actor=actor, org_id=org_id, target=owner,
                 details={"name": name, "prefix": row.prefix, "rotated_from": str(rotated_from or "") or None})
    return NewKey(row=row, secret=str(credential))


def list_keys(session: Session, *, service_account_id: uuid.UUID | None = None, user_id: uuid.UUID | None = None,
              ) -> list[ApiKeyRow]:
    query = select(ApiKeyRow)
    query = query.where(ApiKeyRow.service_account_id == service_account_id) if service_account_id \
        else query.where(ApiKeyRow.user_id == user_id, ApiKeyRow.kind == "pat")
    return list(session.scalars(query.order_by(ApiKeyRow.created)))


def get_key(session: Session, *, key_id: uuid.UUID, org_id: uuid.UUID) -> ApiKeyRow:
    row = session.get(ApiKeyRow, key_id)
    if row is None or row.org_id != org_id:
        raise NotFound("No such key in this organization.")
    return row


def revoke_key(session: Session, *, key: ApiKeyRow, actor: Actor, at: datetime | None = None) -> None:
    key.revoked_at = at or utcnow()
    audit.record(session, action=f"{key.kind}.revoke", actor=actor, org_id=key.org_id, target=f"key:{key.prefix}",
                 details={"name": key.name, "effective": key.revoked_at.isoformat()})


def rotate_key(session: Session, *, key: ApiKeyRow, actor: Actor, grace_s: int = 0) -> NewKey:
    """A new key for the same owner; the old one keeps working ``grace_s`` seconds, then is revoked."""
    if key.revoked_at is not None:
        raise Conflict("This key is revoked; create a new one instead.")
    owner_sa = session.get(ServiceAccountRow, key.service_account_id) if key.service_account_id else None
    owner_user = session.get(UserRow, key.user_id) if key.user_id else None
    days = None
    if key.expires is not None:
        days = max(1, (key.expires - key.created).days)
    new = create_key(session, org_id=key.org_id, name=key.name, actor=actor, service_account=owner_sa,
                     user=owner_user, expires_in_days=days, rotated_from=key.id)
    revoke_key(session, key=key, actor=actor, at=utcnow() + timedelta(seconds=grace_s))
    return new


def is_live(row: ApiKeyRow, *, now: datetime | None = None) -> bool:
    """Neither revoked (as of now) nor expired."""
    now = now or utcnow()
    revoked = row.revoked_at is not None and row.revoked_at <= now
    return not revoked and not (row.expires is not None and row.expires <= now)


def authenticate_key(session: Session, *, value: str, now: datetime | None = None) -> ApiKeyRow | None:
    """The key row if ``value`` is a live API key or personal access token whose owner is active."""
    credential = parse_credential(value)
    if credential is None or credential.kind not in (API_KEY, PAT):
        return None
    row = session.scalar(select(ApiKeyRow).where(ApiKeyRow.prefix == credential.prefix))
    if row is None or not same_hash(row.secret_hash, credential.secret_hash):
        return None
    now = now or utcnow()
    if not is_live(row, now=now):
        return None
    if row.service_account_id is not None:
        account = session.get(ServiceAccountRow, row.service_account_id)
        if account is None or not account.is_active:
            return None
    elif row.user_id is not None:
        user = session.get(UserRow, row.user_id)
        if user is None or not user.is_active:
            return None
    row.last_used = now
    return row
