"""Reading logs: the workspace finds the run's log backend and serves a range of lines from it."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from runyard.exceptions import Conflict, InvalidInput, NotFound
from runyard.logs.backends.base import RUN_KEY, LogBackend
from runyard.logs.records import LEVELS
from runyard.schemas.base import DEFAULT_PROJECT
from runyard.schemas.logs import LogAppend, LogLineRead, LogPage, LogQuery, LogStreamRead
from runyard.schemas.status import RunStatus, StepStatus
from runyard.workspace.db import tables as t
from runyard.workspace.db.engine import Database
from runyard.workspace.db.models import LogLineRow, LogStreamRow
from runyard.workspace.services.runs import run_row
from runyard.workspace.services.stacks import stack_row, to_read

#: A filtered read scans at most this many lines per request, so one request never reads a whole log.
MAX_SCAN_LINES = 50_000


def read_logs(session: Session, *, run_id: uuid.UUID, query: LogQuery, project: str = DEFAULT_PROJECT) -> LogPage:
    run = run_row(session, run_id, project)
    key = RUN_KEY
    finished = RunStatus(run.status).is_finished
    if query.step is not None:
        found = session.execute(
            select(t.step_runs.c.id, t.step_runs.c.status).where(
                t.step_runs.c.run_id == run_id, t.step_runs.c.invocation_id == query.step
            )
        ).first()
        if found is None:
            raise NotFound(f"Run {run_id} has no step {query.step!r}.", hint="`runyard run show RUN` lists its steps.")
        key = str(found.id)
        finished = StepStatus(found.status).is_finished
    if _log_flavor(session, run.stack_id, project) == "database":
        return _read_database(session, run_id, key, query)
    backend = backend_for_stack(session, run.stack_id, project)
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
    if not complete and finished and query.offset == 0 and not lines and backend.is_empty(run_id, key):
        complete = True  # a finished step that printed nothing leaves no files behind
    return LogPage(lines=lines, next_offset=offset, complete=complete and len(lines) < query.limit, step=query.step)


def backend_for_stack(session: Session, stack_id: uuid.UUID | None, project: str) -> LogBackend:
    from runyard.stack.resolve import artifact_store_from, log_backend_for

    if stack_id is None:
        raise NotFound("This run has no stack recorded, so its logs cannot be found.")
    stack = to_read(stack_row(session, str(stack_id), project))
    return log_backend_for(stack, artifact_store_from(stack.components["artifact_store"]))


def append_logs(
    session: Session, *, run_id: uuid.UUID, batch: LogAppend, project: str = DEFAULT_PROJECT
) -> LogStreamRead:
    """Stores a batch of the ``database`` backend; lines already stored (a retried batch) are skipped."""
    run_row(session, run_id, project)
    stream = session.get(LogStreamRow, (run_id, batch.key), with_for_update=True)
    if stream is None:
        stream = LogStreamRow(run_id=run_id, key=batch.key, lines=0, complete=False)
        session.add(stream)
        session.flush()
    if batch.first_offset > stream.lines:
        raise Conflict(
            f"Log {batch.key!r} of run {run_id} has {stream.lines} lines; a batch starting at "
            f"{batch.first_offset} would leave a gap.",
            hint="Send the missing lines first.",
        )
    skip = stream.lines - batch.first_offset
    fresh = batch.lines[skip:]
    if fresh:
        session.execute(
            insert(LogLineRow),
            [
                {"run_id": run_id, "key": batch.key, "offset": stream.lines + i, "time": line.time,
                 "stream": line.stream, "level": line.level, "logger": line.logger, "message": line.message}
                for i, line in enumerate(fresh)
            ],
        )
        stream.lines += len(fresh)
    if batch.complete:
        stream.complete = True
    return LogStreamRead(lines=stream.lines, complete=stream.complete)


def _log_flavor(session: Session, stack_id: uuid.UUID | None, project: str) -> str:
    if stack_id is None:
        return "artifact_store"
    stack = to_read(stack_row(session, str(stack_id), project))
    component = stack.components.get("log_backend")
    return component.flavor if component else "artifact_store"


def _read_database(session: Session, run_id: uuid.UUID, key: str, query: LogQuery) -> LogPage:
    stmt = (
        select(LogLineRow)
        .where(LogLineRow.run_id == run_id, LogLineRow.key == key, LogLineRow.offset >= query.offset)
        .order_by(LogLineRow.offset)
        .limit(query.limit)
    )
    if query.level:
        stmt = stmt.where(LogLineRow.level.in_([n for n, v in LEVELS.items() if v >= LEVELS[query.level]]))
    if query.since is not None:
        stmt = stmt.where(LogLineRow.time >= query.since.timestamp())
    rows = list(session.scalars(stmt))
    stream = session.get(LogStreamRow, (run_id, key))
    complete = bool(stream and stream.complete) and len(rows) < query.limit
    lines = [
        LogLineRead(offset=r.offset, time=r.time, stream=r.stream, level=r.level, message=r.message, logger=r.logger)
        for r in rows
    ]
    return LogPage(lines=lines, next_offset=(rows[-1].offset + 1) if rows else query.offset, complete=complete,
                   step=query.step)


#: How often a follower looks for new lines; the issue promises print-to-screen within 1.5 s at p95.
FOLLOW_POLL_S = 0.25
#: A follow stream ends after this long even if the run is still going (the client reconnects).
FOLLOW_MAX_S = 3600.0


def follow_events(
    db: Database, *, run_id: uuid.UUID, step: str | None, level: str | None, project: str = DEFAULT_PROJECT
) -> Iterator[str]:
    """Server-Sent Events of new log lines of a run (every log) or one step, until all is complete."""
    import json
    import time

    offsets: dict[str | None, int] = {}
    done: set[str | None] = set()
    deadline = time.monotonic() + FOLLOW_MAX_S
    while time.monotonic() < deadline:
        with db.session(write=False) as session:
            run = run_row(session, run_id, project)
            finished = RunStatus(run.status).is_finished
            keys: list[str | None] = [step] if step else [None, *_invocations(session, run_id)]
            events: list[str] = []
            for key in keys:
                if key in done:
                    continue
                page = read_logs(session, run_id=run_id, project=project,
                                 query=LogQuery(step=key, offset=offsets.get(key, 0), limit=1000, level=level))
                for line in page.lines:
                    data = json.dumps({"step": key, **line.model_dump()}, ensure_ascii=False)
                    events.append(f"id: {key or 'run'}:{line.offset}\ndata: {data}\n\n")
                offsets[key] = page.next_offset
                if page.complete:
                    done.add(key)
        yield from events
        if finished and all(k in done for k in keys):
            yield "event: end\ndata: {}\n\n"
            return
        if not events:
            yield ": keep-alive\n\n"
            time.sleep(FOLLOW_POLL_S)


def _invocations(session: Session, run_id: uuid.UUID) -> list[str]:
    rows = session.execute(
        select(t.step_runs.c.invocation_id).where(t.step_runs.c.run_id == run_id).order_by(t.step_runs.c.created)
    )
    return [r[0] for r in rows]
