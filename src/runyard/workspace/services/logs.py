"""Reading logs: the workspace finds the run's log backend and serves a range of lines from it."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.orm import Session

from runyard.exceptions import InvalidInput, NotFound
from runyard.logs.backends.base import RUN_KEY, LogBackend
from runyard.logs.records import LEVELS
from runyard.schemas.logs import LogLineRead, LogPage, LogQuery
from runyard.workspace.db import tables as t
from runyard.workspace.services.runs import run_row
from runyard.workspace.services.stacks import stack_row, to_read

#: A filtered read scans at most this many lines per request, so one request never reads a whole log.
MAX_SCAN_LINES = 50_000


def read_logs(session: Session, *, run_id: uuid.UUID, query: LogQuery) -> LogPage:
    run = run_row(session, run_id)
    key = RUN_KEY
    if query.step is not None:
        found = session.execute(
            select(t.step_runs.c.id).where(t.step_runs.c.run_id == run_id, t.step_runs.c.invocation_id == query.step)
        ).first()
        if found is None:
            raise NotFound(f"Run {run_id} has no step {query.step!r}.", hint="`runyard run show RUN` lists its steps.")
        key = str(found.id)
    backend = backend_for_stack(session, run.stack_id)
    if not backend.readable:
        raise InvalidInput(
            f"This run's logs went to the {backend.flavor} log backend, which cannot be read back.",
            hint="Read them in the system that receives them.",
        )
    min_level = LEVELS.get(query.level or "DEBUG", 0)
    since = query.since.timestamp() if query.since else None
    lines: list[LogLineRead] = []
    offset, scanned, complete = query.offset, 0, False
    while len(lines) < query.limit and scanned < MAX_SCAN_LINES:
        chunk = backend.read(run_id, key, offset=offset, limit=min(query.limit * 4, 10_000))
        for line in chunk.lines:
            if LEVELS.get(line.level, 20) >= min_level and (since is None or line.time >= since):
                lines.append(LogLineRead(**line.to_dict()))
                if len(lines) >= query.limit:
                    offset = line.offset + 1
                    break
        else:
            offset = chunk.next_offset
        scanned += len(chunk.lines)
        complete = chunk.complete
        if not chunk.lines or len(lines) >= query.limit:
            break
    return LogPage(lines=lines, next_offset=offset, complete=complete and len(lines) < query.limit, step=query.step)


def backend_for_stack(session: Session, stack_id: uuid.UUID | None) -> LogBackend:
    from runyard.stack.resolve import artifact_store_from, log_backend_for

    if stack_id is None:
        raise NotFound("This run has no stack recorded, so its logs cannot be found.")
    stack = to_read(stack_row(session, str(stack_id)))
    return log_backend_for(stack, artifact_store_from(stack.components["artifact_store"]))
