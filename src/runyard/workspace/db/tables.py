"""Core table handles and small dialect helpers for the hot paths that skip the ORM.

The step runner writes a few rows per step; going through the ORM's unit of work for those costs more than
the SQL itself, so those paths use Core statements on these tables (same schema, same types).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Insert, Table
from sqlalchemy.orm import Session

from runyard.workspace.db.models import (
    ArtifactRow,
    ArtifactVersionRow,
    RunRow,
    StepRunArtifactRow,
    StepRunRow,
)

step_runs: Table = StepRunRow.__table__  # type: ignore[assignment]
runs: Table = RunRow.__table__  # type: ignore[assignment]
artifacts: Table = ArtifactRow.__table__  # type: ignore[assignment]
artifact_versions: Table = ArtifactVersionRow.__table__  # type: ignore[assignment]
edges: Table = StepRunArtifactRow.__table__  # type: ignore[assignment]


def insert_ignoring_duplicates(session: Session, table: Table, values: dict[str, Any]) -> None:
    """INSERT that silently skips a row whose unique key exists (a concurrent writer got there first)."""
    dialect = session.get_bind().dialect.name
    stmt: Insert
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        stmt = pg_insert(table).values(**values).on_conflict_do_nothing()
    elif dialect == "sqlite":
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        stmt = sqlite_insert(table).values(**values).on_conflict_do_nothing()
    else:
        from sqlalchemy import insert

        stmt = insert(table).values(**values).prefix_with("IGNORE")
    session.execute(stmt)
