"""``PATCH /steps/{id}`` for runners' status reports, past FastAPI's per-request machinery.

Every step's start and end is such a report (16 runners send thousands a second), and most of one's
server CPU went to the framework around a single ``UPDATE``: dependency solving, the body's validation
through FastAPI's field machinery, response validation and encoding, and thread-pool hand-offs.
:class:`StatusReportRoute` is the route's class: a request whose body is a valid status-only report (no
outputs, no metadata), sent as JSON and naming a valid project, is answered here, with the same checks
by the same objects: the route's own ``Authorize`` dependency (so share rules, workload tokens and the
audit apply unchanged) after ``current_principal``, then ``step_json.report_status_json`` in one
thread-pool call, written as JSON bytes. Anything else (other bodies, malformed input, a missing content
type) goes to FastAPI's handler of the very same route, which answers as it always did; ``/openapi.json``
is FastAPI's description of that route, unchanged.
"""

from __future__ import annotations

import asyncio
import functools
import re
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from fastapi.routing import APIRoute
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.types import Receive, Scope, Send

from runyard.schemas.base import DEFAULT_PROJECT, PROJECT_PATTERN
from runyard.schemas.steps import StepRunUpdate
from runyard.workspace.api.deps import PROJECT_HEADER, Authorize, current_principal
from runyard.workspace.api.middleware import replaying
from runyard.workspace.api.responses import JSONBytes
from runyard.workspace.db.engine import Database
from runyard.workspace.services.step_json import Report, move_statuses_json, report_status_json

_PROJECT = re.compile(PROJECT_PATTERN)
_PROJECT_HEADER = PROJECT_HEADER.lower().encode()


class StatusReportRoute(APIRoute):
    """An ``APIRoute`` (same path, dependencies, OpenAPI) whose status-only requests skip FastAPI's handler."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        found = _authorizations(self.dependant)
        if len(found) != 1:
            raise TypeError(f"{self.path}: a status report route needs exactly one Authorize, found {len(found)}")
        self.authorize: Authorize = found[0]

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["method"] != "PATCH":
            await super().handle(scope, receive, send)
            return
        body = await _read_body(receive)
        replay = replaying(body, receive)
        update, project = _status_report(scope, body)
        if update is None:  # FastAPI's handler answers, with the body read again
            await super().handle(scope, replay, send)
            return
        request = Request(scope, replay)
        # refused: raises (401/403, or the share gate's 404); admitted: no list or row filter applies here
        await self.authorize.check(request, await current_principal(request), project)
        state = request.app.state
        db = state.database.peek() or await run_in_threadpool(state.database.get)
        loop = asyncio.get_running_loop()
        coalescer: _Coalescer | None = getattr(state, "status_reports", None)
        if coalescer is None or coalescer.loop is not loop or coalescer.db is not db:
            coalescer = state.status_reports = _Coalescer(loop, db)
        answer = await coalescer.report(scope["path_params"]["step_run_id"], update, project)
        await JSONBytes(answer)(scope, replay, send)


class _Coalescer:
    """Hands a server process's reports to its writer threads, together when they queue.

    On PostgreSQL one batch at a time is in the database; reports that arrive meanwhile wait and go together
    in the next (``step_json.move_statuses_json``: one statement, one commit, one thread hand-off for all of
    them). A lone report is a batch of one, sent at once: nothing waits for a batch to fill. A report the
    batch did not move (unknown step, refused transition, a repeat) is then answered on its own by the
    checked path (``step_json.report_status_json``) in a writer thread, without holding up the next batch;
    on other databases every report goes that way at once. Each request gets its own answer, or the
    exception it answers with.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop, db: Database) -> None:
        self.loop = loop
        self.db = db
        self.waiting: list[tuple[Report, asyncio.Future[bytes]]] = []
        self.busy = False

    async def report(self, step_run_id: uuid.UUID, update: StepRunUpdate, project: str) -> bytes:
        future: asyncio.Future[bytes] = self.loop.create_future()
        self.waiting.append(((step_run_id, update, project), future))
        if not self.busy:
            self._send()
        return await future

    def _send(self) -> None:
        batch, self.waiting = self.waiting, []
        if not self.db.url.startswith("postgresql"):  # no statement to share: each report on its own
            for item in batch:
                self._alone(item, tried=False)
            return
        self.busy = True
        done = self.loop.run_in_executor(_writers(), move_statuses_json, self.db, [r for r, _ in batch])
        done.add_done_callback(functools.partial(self._moved, batch))

    def _moved(self, batch: list[tuple[Report, asyncio.Future[bytes]]], done: asyncio.Future[Any]) -> None:
        self.busy = False
        answers: list[bytes | None] = [None] * len(batch) if done.exception() is not None else done.result()
        for item, answer in zip(batch, answers, strict=True):
            if answer is None:
                self._alone(item, tried=done.exception() is None)
            elif not item[1].done():  # done: its request was cancelled (the client went away)
                item[1].set_result(answer)
        if self.waiting:
            self._send()

    def _alone(self, item: tuple[Report, asyncio.Future[bytes]], *, tried: bool) -> None:
        (step_run_id, update, project), future = item
        done = self.loop.run_in_executor(_writers(), functools.partial(
            report_status_json, self.db, step_run_id=step_run_id, update=update, project=project, tried=tried))
        done.add_done_callback(functools.partial(_settle, future))


def _settle(future: asyncio.Future[bytes], done: asyncio.Future[bytes]) -> None:
    if future.done():
        return
    failed = done.exception()
    if failed is not None:
        future.set_exception(failed)
    else:
        future.set_result(done.result())


#: Threads that run the reports' statements, as many as ``Database.autocommit_connection``'s pool holds.
WRITER_THREADS = 8
_executor: ThreadPoolExecutor | None = None


def _writers() -> ThreadPoolExecutor:
    """The reports' own threads, not anyio's: its hand-off (capacity limiter, cancel scope, per-call look-ups
    of the running backend) cost as much server CPU per report as the rest of the route (0.56-0.62 ms vs
    0.38-0.40 ms per report, A/B on a 1-worker server, 4,800 reports each)."""
    global _executor
    if _executor is None:
        _executor = ThreadPoolExecutor(max_workers=WRITER_THREADS, thread_name_prefix="runyard-reports")
    return _executor


def _status_report(scope: Scope, body: bytes) -> tuple[StepRunUpdate | None, str]:
    """The report and the project when this route answers the request itself; ``(None, ...)`` otherwise.

    A query string (``?brief=true``, or anything else) goes to FastAPI's handler, which parses and
    checks it; runners' status-only reports are rare (a failed step's), their starts and ends carry
    outputs or come as ``POST /steps``."""
    if scope.get("query_string"):
        return None, ""
    content_type = project = None
    for key, value in scope["headers"]:
        if key == b"content-type":
            content_type = value
        elif key == _PROJECT_HEADER:
            project = value.decode("latin-1")
    if content_type is None or content_type.split(b";", 1)[0].strip().lower() != b"application/json":
        return None, ""
    if project is not None and not _PROJECT.match(project):
        return None, ""
    try:
        update = StepRunUpdate.model_validate_json(body)
    except ValidationError:
        return None, ""
    if update.status is None or update.new_outputs or update.metadata:
        return None, ""
    return update, project or DEFAULT_PROJECT


async def _read_body(receive: Receive) -> bytes:
    """The whole request body (``BodyLimitMiddleware`` has capped its size already)."""
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return b"".join(chunks)



def _authorizations(dependant: Any) -> list[Authorize]:
    found = [dependant.call] if isinstance(dependant.call, Authorize) else []
    for sub in dependant.dependencies:
        found.extend(_authorizations(sub))
    return found
