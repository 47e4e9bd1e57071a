"""Secrets: metadata in the ``secrets`` table, values kept by the secret store each row names.

Listing and reading metadata never touch the store (no decryption); only :func:`get_secret_values`
returns values, behind its own permission and an audit entry on a server. Messages name secrets and
keys, never values.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import Session

from runyard.exceptions import Conflict, InvalidInput, NotFound
from runyard.schemas.secrets import SecretCreate, SecretRead, SecretUpdate, SecretValuesRead, check_values
from runyard.workspace.db.models import SecretRow
from runyard.workspace.db.types import utcnow

if TYPE_CHECKING:
    from runyard.secrets.stores.base import SecretStore

LOCAL_USER = "local"


def _store(name: str | None = None) -> SecretStore:
    from runyard.secrets.registry import secret_store

    return secret_store(name)


def to_read(row: SecretRow) -> SecretRead:
    return SecretRead(id=row.id, created=row.created, updated=row.updated, name=row.name,
                      description=row.description, keys=sorted(row.keys or []), store=row.store,
                      created_by=row.created_by)


def secret_row(session: Session, name_or_id: str) -> SecretRow:
    row: SecretRow | None = None
    try:
        row = session.get(SecretRow, uuid.UUID(name_or_id))
    except ValueError:
        pass
    if row is None:
        row = session.scalar(select(SecretRow).where(SecretRow.name == name_or_id))
    if row is None:
        raise NotFound(f"No secret named {name_or_id!r}.", hint="List secrets with `runyard secret list`.")
    return row


def create_secret(session: Session, *, secret: SecretCreate, created_by: str = LOCAL_USER) -> SecretRead:
    if session.scalar(select(SecretRow.id).where(SecretRow.name == secret.name)) is not None:
        raise Conflict(f"A secret named {secret.name!r} exists already.",
                       hint="Pick another name, or change it with `runyard secret update`.")
    store = _store()
    from runyard.settings import get_settings

    now = utcnow()
    row = SecretRow(id=uuid.uuid4(), name=secret.name, description=secret.description, keys=sorted(secret.values),
                    store=get_settings().secrets_store, created_by=created_by[:320], created=now, updated=now)
    store.write(row, dict(secret.values))
    session.add(row)
    session.flush()
    return to_read(row)


def get_secret(session: Session, *, name_or_id: str) -> SecretRead:
    return to_read(secret_row(session, name_or_id))


def get_secret_values(session: Session, *, name_or_id: str) -> SecretValuesRead:
    """The secret with its values (the route needs ``secrets:read_secret_values`` and is audited)."""
    row = secret_row(session, name_or_id)
    values = _store(row.store).read(row)
    return SecretValuesRead(**to_read(row).model_dump(), values=values)


def list_secrets(session: Session, *, name_contains: str | None = None) -> list[SecretRead]:
    stmt = select(SecretRow).order_by(SecretRow.name)
    if name_contains:
        escaped = name_contains.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        stmt = stmt.where(SecretRow.name.like(f"%{escaped}%", escape="\\"))
    return [to_read(r) for r in session.scalars(stmt)]


def update_secret(session: Session, *, name_or_id: str, update: SecretUpdate) -> SecretRead:
    row = secret_row(session, name_or_id)
    unknown = sorted(set(update.remove_keys) - set(row.keys or []) - set(update.values))
    if unknown:
        raise InvalidInput(f"Secret {row.name!r} has no key {', '.join(repr(k[:100]) for k in unknown[:5])} to remove.",
                           hint=f"Its keys: {', '.join(sorted(row.keys or [])) or 'none'}.")
    if update.values or update.remove_keys:
        store = _store(row.store)
        values = store.read(row)
        values.update(update.values)
        for key in update.remove_keys:
            if key not in update.values:
                values.pop(key, None)
        try:
            check_values(values)
        except ValueError as exc:
            raise InvalidInput(f"Secret {row.name!r}: {exc}.", hint="Keep at least one key.") from None
        store.write(row, values)
        row.keys = sorted(values)
    if update.description is not None:
        row.description = update.description or None
    row.updated = utcnow()
    session.flush()
    return to_read(row)


def delete_secret(session: Session, *, name_or_id: str) -> None:
    row = secret_row(session, name_or_id)
    _store(row.store).delete(row)
    session.delete(row)


def rotate_secrets_key(session: Session) -> int:
    """Writes again every ``database`` secret not encrypted with the current first key; returns how many.

    Run after putting a new key first in ``RUNYARD_SECRETS_KEY`` (old keys after it); afterwards the old
    keys can be dropped. Not an API operation: it needs the server's keys, so it runs where they are.
    """
    from runyard.secrets.stores.database import DatabaseSecretStore

    store = _store("database")
    assert isinstance(store, DatabaseSecretStore)
    done = 0
    for row in session.scalars(select(SecretRow).where(SecretRow.store == "database").order_by(SecretRow.name)):
        if store.needs_rewrite(row):
            store.write(row, store.read(row))
            done += 1
    session.flush()
    return done
