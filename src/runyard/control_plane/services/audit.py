"""The audit log: who did what, when, from where. Rows are only ever inserted.

Refusals are recorded too (a failed login, a 403): a caller whose request is refused still leaves a
trace, which is why :func:`record_in_own_transaction` exists: the request's own transaction is rolled
back with the refusal, the audit entry must not be.
"""

from __future__ import annotations

import base64
import csv
import io
import json
import uuid
from collections.abc import Iterator
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from runyard.control_plane.actor import Actor
from runyard.control_plane.db.models import AuditEventRow
from runyard.exceptions import InvalidInput
from runyard.workspace.db.engine import Database

Outcome = Literal["success", "denied", "failure"]
_SECRETISH = ("password", "secret", "token", "key", "authorization", "cookie")


def record(session: Session, *, action: str, actor: Actor, outcome: Outcome = "success",
           org_id: uuid.UUID | None = None, target: str | None = None, workspace: str | None = None,
           details: dict[str, Any] | None = None) -> AuditEventRow:
    """Adds one entry to the caller's transaction (it commits or rolls back with the change it records)."""
    row = AuditEventRow(
        id=uuid.uuid4(), org_id=org_id, action=action[:64], outcome=outcome, actor_type=actor.kind,
        actor_id=str(actor.id) if actor.id else None, actor_name=(actor.name or None),
        target=(target or None) and target[:300], workspace=workspace, ip=actor.ip, user_agent=actor.user_agent,
        details=_scrub(details or {}),
    )
    session.add(row)
    return row


def record_in_own_transaction(db: Database, **kwargs: Any) -> None:
    """For refusals: the request's transaction is rolled back, this entry must still be written."""
    with db.session(write=True) as session:
        record(session, **kwargs)


def _scrub(details: dict[str, Any]) -> dict[str, Any]:
    """Drops any value under a secret-sounding key: an audit log must never become a credential store."""
    return {k: ("***" if any(s in k.lower() for s in _SECRETISH) else v) for k, v in details.items()}


def list_events(session: Session, *, org_id: uuid.UUID | None, since: datetime | None = None,
                until: datetime | None = None, action: str | None = None, actor: str | None = None,
                outcome: str | None = None, limit: int = 100, cursor: str | None = None,
                ) -> tuple[list[AuditEventRow], str | None]:
    """Newest first, keyset-paginated by ``(time, id)``; ``org_id=None`` only for superusers (all orgs)."""
    query = select(AuditEventRow)
    if org_id is not None:
        query = query.where(AuditEventRow.org_id == org_id)
    if since is not None:
        query = query.where(AuditEventRow.time >= since)
    if until is not None:
        query = query.where(AuditEventRow.time < until)
    if action:
        query = query.where(AuditEventRow.action.startswith(action, autoescape=True))
    if actor:
        query = query.where(or_(AuditEventRow.actor_name == actor, AuditEventRow.actor_id == actor))
    if outcome:
        query = query.where(AuditEventRow.outcome == outcome)
    if cursor:
        time, last_id = _decode_cursor(cursor)
        query = query.where(or_(AuditEventRow.time < time,
                                and_(AuditEventRow.time == time, AuditEventRow.id < last_id)))
    rows = list(session.scalars(query.order_by(AuditEventRow.time.desc(), AuditEventRow.id.desc()).limit(limit + 1)))
    next_cursor = _encode_cursor(rows[limit - 1]) if len(rows) > limit else None
    return rows[:limit], next_cursor


def iter_all(session: Session, *, org_id: uuid.UUID | None, **filters: Any) -> Iterator[AuditEventRow]:
    cursor: str | None = None
    while True:
        rows, cursor = list_events(session, org_id=org_id, cursor=cursor, limit=500, **filters)
        yield from rows
        if cursor is None:
            return


EXPORT_FIELDS = ("time", "action", "outcome", "actor_type", "actor_id", "actor_name", "target", "workspace", "ip",
                 "user_agent", "details")


def export(rows: Iterator[AuditEventRow], *, fmt: Literal["jsonl", "csv"]) -> Iterator[str]:
    """Serializes events for ``runyard audit export`` (JSON lines, or CSV with a header)."""
    if fmt == "csv":
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(EXPORT_FIELDS)
        for row in rows:
            writer.writerow([_field(row, name) for name in EXPORT_FIELDS])
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
        yield buffer.getvalue()
        return
    for row in rows:
        yield json.dumps({name: _field(row, name) for name in EXPORT_FIELDS}, default=str) + "\n"


def _field(row: AuditEventRow, name: str) -> Any:
    value = getattr(row, name)
    if name == "details":
        return json.dumps(value, sort_keys=True)
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def _encode_cursor(row: AuditEventRow) -> str:
    return base64.urlsafe_b64encode(f"{row.time.isoformat()}|{row.id}".encode()).decode()


def _decode_cursor(cursor: str) -> tuple[datetime, uuid.UUID]:
    try:
        time, last = base64.urlsafe_b64decode(cursor.encode()).decode().split("|")
        return datetime.fromisoformat(time), uuid.UUID(last)
    except (ValueError, UnicodeDecodeError):
        raise InvalidInput("The cursor is not one this server issued.", hint="Start again without a cursor.") from None
