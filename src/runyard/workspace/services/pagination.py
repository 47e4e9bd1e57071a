"""Keyset (cursor) pagination over ``(created, id)``, newest first: no OFFSET, no COUNT(*)."""

from __future__ import annotations

import base64
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, or_
from sqlalchemy.orm import InstrumentedAttribute

from runyard.exceptions import InvalidInput


def encode_cursor(created: datetime, row_id: uuid.UUID) -> str:
    raw = f"{created.isoformat()}|{row_id.hex}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, uuid.UUID]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        created_s, id_s = base64.urlsafe_b64decode(padded.encode()).decode().split("|")
        return datetime.fromisoformat(created_s), uuid.UUID(hex=id_s)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidInput(
            "The page cursor is not valid.", hint="Pass the `next_cursor` of the previous page unchanged."
        ) from exc


def apply_keyset(
    stmt: Select[Any],
    *,
    created_col: InstrumentedAttribute[datetime] | ColumnElement[datetime],
    id_col: InstrumentedAttribute[uuid.UUID] | ColumnElement[uuid.UUID],
    cursor: str | None,
    limit: int,
    ascending: bool = False,
) -> Select[Any]:
    """Newest first by default; ``ascending`` pages from the oldest. The cursor is the last row seen."""
    if cursor:
        created, row_id = decode_cursor(cursor)
        if ascending:
            stmt = stmt.where(or_(created_col > created, and_(created_col == created, id_col > row_id)))
        else:
            stmt = stmt.where(or_(created_col < created, and_(created_col == created, id_col < row_id)))
    if ascending:
        return stmt.order_by(created_col.asc(), id_col.asc()).limit(limit + 1)
    return stmt.order_by(created_col.desc(), id_col.desc()).limit(limit + 1)


def split_page(rows: list[Any], limit: int) -> tuple[list[Any], str | None]:
    """Fetching one extra row tells whether a next page exists, without counting."""
    if len(rows) <= limit:
        return rows, None
    rows = rows[:limit]
    last = rows[-1]
    return rows, encode_cursor(last.created, last.id)
