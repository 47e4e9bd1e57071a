"""The dependencies every route uses, defined once as ``Annotated`` aliases.

- ``ReadSession`` / ``WriteSession``: one short transaction per request, from
  :meth:`Database.session`; committed after the route returns and *before* the response is sent
  (``scope="function"``), so a failed commit becomes an error response, never a 2xx for lost data.
- ``CurrentPrincipal``: who is calling. Without authentication configured, the local single user; with
  it (``runyard.control_plane.guard.install_auth``), the caller named by a control-plane token or API key.
- ``Authorize("runs:write")``: the permission check each route declares. Keeping it in every route now
  means adding auth later cannot forget one (a test asserts each API route has it).
- ``Project``: the project a request works in (``X-Runyard-Project``, else ``default``). ``Authorize``
  checks the permission at that project's scope, and the route hands it to its service, which only ever
  sees that project's rows.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal, Protocol, TypeVar

from fastapi import Depends, Header, Request
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from runyard.exceptions import PermissionDenied
from runyard.schemas.base import DEFAULT_PROJECT, PROJECT_PATTERN
from runyard.workspace.db.engine import Database, get_database
from runyard.workspace.services.visibility import Visible


class DatabaseHandle:
    """Opens (and migrates) the workspace database on first use, not at import or app creation.

    A server started while its database is down still serves ``/health`` (503) and recovers once the
    database answers, instead of crashing at start.
    """

    def __init__(self, url: str) -> None:
        self.url = url
        self._db: Database | None = None
        self._lock = threading.Lock()

    def get(self) -> Database:
        if self._db is None:
            with self._lock:
                if self._db is None:
                    self._db = get_database(self.url)
        return self._db

    def peek(self) -> Database | None:
        """The database if already open; never opens it (for metrics scrapes)."""
        return self._db


# The dependencies below are ``async`` where they do no I/O: FastAPI runs a sync dependency in the thread
# pool, a hand-off there and back on every request (three fewer took ~15% off a step update's server CPU).
async def database(request: Request) -> Database:
    handle: DatabaseHandle = request.app.state.database
    db = handle.peek()
    return db if db is not None else await run_in_threadpool(handle.get)  # opening it connects and migrates


DatabaseDep = Annotated[Database, Depends(database)]


@contextlib.asynccontextmanager
async def _session(db: Database, *, write: bool) -> AsyncIterator[Session]:
    """Opening a session only builds objects (it connects on its first statement); closing it commits or
    rolls back, which talks to the database, so that half runs in the thread pool."""
    transaction = db.session(write=write)
    session = transaction.__enter__()
    try:
        yield session
    except BaseException as exc:
        await run_in_threadpool(transaction.__exit__, type(exc), exc, exc.__traceback__)
        raise
    await run_in_threadpool(transaction.__exit__, None, None, None)


async def _read_session(db: DatabaseDep) -> AsyncIterator[Session]:
    async with _session(db, write=False) as session:  # a route's exception reaches the rollback
        yield session


async def _write_session(db: DatabaseDep) -> AsyncIterator[Session]:
    async with _session(db, write=True) as session:
        yield session


ReadSession = Annotated[Session, Depends(_read_session, scope="function")]
WriteSession = Annotated[Session, Depends(_write_session, scope="function")]

T = TypeVar("T")


async def in_transaction(db: Database, fn: Callable[..., T], /, *, write: bool, **kwargs: Any) -> T:
    """``fn(session, **kwargs)`` and its commit (or rollback) in one thread-pool call.

    For the routes runners call for every step (``POST /steps``, ``PATCH /steps/{id}``): a sync route with a
    ``WriteSession`` costs two hand-offs to the thread pool and back (the route, then the commit), and
    those hand-offs were a quarter of such a request's server CPU. The commit still happens before the
    answer is sent, and an error still rolls back first. A transaction the database aborted to break a
    deadlock is run again (:meth:`Database.run`).
    """

    return await run_in_threadpool(db.run, fn, write=write, **kwargs)  # again if aborted to break a deadlock


@dataclass(frozen=True)
class Principal:
    """Who is calling, and what they may do (``"*"`` or ``"resource:*"`` grant everything / a resource)."""

    id: str
    name: str
    kind: Literal["local", "user", "service_account", "workload"]
    permissions: frozenset[str] = field(default_factory=frozenset)
    #: Set by ``Authorize`` when only shares of single pipelines or stacks admit the request: what its
    #: route may show (list routes hand it to their service); ``None``: the whole project.
    visible: Visible | None = None

    def can(self, permission: str, project: str | None = None) -> bool:
        """Whether the caller holds ``permission`` workspace-wide (a token may add grants per ``project``)."""
        resource = permission.split(":", 1)[0]
        return bool({"*", f"{resource}:*", permission} & self.permissions)


#: The only principal until authentication lands: whoever can reach the (loopback) server.
LOCAL_PRINCIPAL = Principal(id="local", name="local user", kind="local", permissions=frozenset({"*"}))


class Authenticator(Protocol):
    """What ``runyard.control_plane.guard`` installs on ``app.state.authenticator`` when auth is on."""

    def principal(self, request: Request) -> Principal: ...

    async def authorize(
        self, request: Request, principal: Principal, permission: str, project: str | None
    ) -> Principal: ...


async def current_principal(request: Request) -> Principal:
    """Identifies the caller: with auth configured, from the bearer token or API key (401 without one);
    otherwise the local single user (and `runyard up` then refuses to listen beyond loopback)."""
    authenticator: Authenticator | None = getattr(request.app.state, "authenticator", None)
    if authenticator is None:
        return LOCAL_PRINCIPAL
    return await run_in_threadpool(authenticator.principal, request)  # may read the database or exchange a key


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]

#: The request header naming the project; the SDK sends it (``RUNYARD_PROJECT``, ``Client(project=...)``).
PROJECT_HEADER = "X-Runyard-Project"


async def request_project(  # async: it does no I/O, and FastAPI runs a sync dependency in the thread pool
    project: Annotated[
        str | None,
        Header(alias=PROJECT_HEADER, pattern=PROJECT_PATTERN, description="The project; default: `default`."),
    ] = None,
) -> str:
    """The project this request works in; FastAPI resolves it once per request, for ``Authorize`` and route."""
    return project or DEFAULT_PROJECT


Project = Annotated[str, Depends(request_project)]


class Authorize:
    """A permission check a route declares: ``Depends(Authorize("runs:write"))``.

    The permission is checked at the scope of the request's project (the dashboard's variant,
    ``dashboard/project.py``, takes the project from the page's address instead). ``workspace_wide``
    is for resources that belong to the whole workspace (secrets): a grant on one project does not reach
    them, only a workspace-wide one.
    """

    def __init__(self, permission: str, *, workspace_wide: bool = False) -> None:
        self.permission = permission
        self.workspace_wide = workspace_wide

    async def __call__(self, request: Request, principal: CurrentPrincipal, project: Project) -> Principal:
        return await self.check(request, principal, project)

    async def check(self, request: Request, principal: Principal, project: str) -> Principal:
        """The check itself, at ``project``'s scope (or the workspace's, for ``workspace_wide``)."""
        scope: str | None = None if self.workspace_wide else project
        authenticator: Authenticator | None = getattr(request.app.state, "authenticator", None)
        if authenticator is not None:  # refines write into create/update/delete, audits refusals
            return await authenticator.authorize(request, principal, self.permission, scope)
        if not principal.can(self.permission, scope):
            raise PermissionDenied(
                f"{principal.name} may not {self.permission.replace(':', ' ')}.",
                hint=f"Ask an admin for the '{self.permission}' permission.",
            )
        return principal

    def __repr__(self) -> str:
        return f"Authorize({self.permission!r})"
