"""The OAuth 2.0 device authorization grant (RFC 8628), as ``runyard login URL`` uses it.

The CLI gets a device code (secret, kept hashed) and a short user code, shows the user code with a URL,
and polls. The user opens the URL in a browser where they are signed in, checks the code matches, and
approves. User codes avoid vowels (no words) and look-alike characters; eight of 20 letters give 2.5e10
codes, which a ten-minute lifetime and the slow-down rule keep far out of guessing reach.
"""

from __future__ import annotations

import secrets
import uuid
from datetime import datetime, timedelta
from typing import Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from runyard.control_plane.actor import Actor
from runyard.control_plane.credentials import hash_secret
from runyard.control_plane.db.models import DeviceCodeRow, UserRow
from runyard.control_plane.services import audit
from runyard.workspace.db.types import utcnow

USER_CODE_ALPHABET = "BCDFGHJKLMNPQRSTVWXZ"
LIFETIME = timedelta(minutes=10)
INTERVAL_S = 5

PollResult = Literal["authorization_pending", "slow_down", "access_denied", "expired_token", "approved"]


def normalize_user_code(code: str) -> str:
    cleaned = "".join(ch for ch in code.upper() if ch in USER_CODE_ALPHABET)
    return f"{cleaned[:4]}-{cleaned[4:8]}" if len(cleaned) == 8 else ""


def start(session: Session, *, audience: str | None, interval_s: int = INTERVAL_S) -> tuple[DeviceCodeRow, str]:
    """A new pending authorization; returns it and the device code (the only time it is in clear)."""
    device_code = secrets.token_urlsafe(32)
    while True:
        raw = "".join(secrets.choice(USER_CODE_ALPHABET) for _ in range(8))
        user_code = f"{raw[:4]}-{raw[4:]}"
        if session.scalar(select(DeviceCodeRow.id).where(DeviceCodeRow.user_code == user_code)) is None:
            break
    row = DeviceCodeRow(id=uuid.uuid4(), device_code_hash=hash_secret(device_code), user_code=user_code,
                        audience=audience, status="pending", expires=utcnow() + LIFETIME, interval=interval_s)
    session.add(row)
    session.flush()
    return row, device_code


def find_pending(session: Session, *, user_code: str, now: datetime | None = None) -> DeviceCodeRow | None:
    code = normalize_user_code(user_code)
    if not code:
        return None
    row = session.scalar(select(DeviceCodeRow).where(DeviceCodeRow.user_code == code))
    if row is None or row.status != "pending" or row.expires <= (now or utcnow()):
        return None
    return row


def decide(session: Session, *, row: DeviceCodeRow, user: UserRow, approve: bool, actor: Actor) -> None:
    row.status = "approved" if approve else "denied"
    row.user_id = user.id
    audit.record(session, action="device.approve" if approve else "device.deny", actor=actor,
                 target=f"user:{user.email}", workspace=row.audience, details={"user_code": row.user_code})


def poll(session: Session, *, device_code: str, now: datetime | None = None,
         ) -> tuple[PollResult, DeviceCodeRow | None]:
    """One poll of the CLI. An approved code can be redeemed exactly once."""
    now = now or utcnow()
    row = session.scalar(select(DeviceCodeRow).where(DeviceCodeRow.device_code_hash == hash_secret(device_code)))
    if row is None or row.status == "used" or row.expires <= now:
        return "expired_token", None
    if row.status == "denied":
        return "access_denied", row
    if row.status == "approved":
        row.status = "used"
        return "approved", row
    too_soon = row.last_polled is not None and (now - row.last_polled).total_seconds() < row.interval - 0.5
    row.last_polled = now
    if too_soon:
        row.interval += 5  # RFC 8628 3.5: each slow_down adds 5 seconds
        return "slow_down", row
    return "authorization_pending", row
