"""Admission through shares: may a caller who holds a permission only on single pipelines or stacks make
this request, and on which rows?

``Authorize`` (through the authenticator in ``control_plane/guard.py``) asks :func:`admit` when the
caller lacks the route's permission in the project but holds shares there that carry it. The answer is
closed by default: only the routes named below can be reached through a share, every other one stays
refused (403) as before.

- A list route is admitted with a :class:`Visible` that its service adds to the query (only the shared
  pipelines, their runs, step runs and written artifact versions; the shared stacks and their components).
- An item route is admitted if the row it names belongs to a shared root; otherwise the answer is the
  service's own 404, obtained by asking the same service in a project no row can have, so a row that
  exists but is not shared answers exactly like one that does not exist.

Lineage, cache look-ups and every write other than those listed are not reachable through shares.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from fastapi import Request
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from runyard.control_plane.rbac import allows
from runyard.control_plane.share_rules import ShareClaim
from runyard.workspace.services.visibility import Visible

#: A project name no row can have (names start with a letter or digit): the services' not-found for an
#: unshared row. Plain ASCII, so every database compares it (PostgreSQL refuses a NUL in a string).
NOWHERE = "-not-shared-"

#: Routes a share admits as lists: the route hands ``principal.visible`` to its service.
LISTS = frozenset({
    ("GET", "/pipelines"), ("GET", "/runs"), ("GET", "/steps"), ("GET", "/artifacts"), ("GET", "/artifact-versions"),
    ("GET", "/stacks"), ("GET", "/components"), ("GET", "/flavors"),
})

#: An item check: the row's shared root is visible, or the service's not-found is raised.
Check = Callable[[Session, dict[str, Any], str, Visible, Any], None]


class _Malformed(Exception):
    """A path id that is not a UUID: the route's own validation answers it (422) before reading any row."""


def _uuid(value: Any) -> uuid.UUID:
    try:
        return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))
    except ValueError:
        raise _Malformed from None


def _pipeline(session: Session, params: dict[str, Any], project: str, visible: Visible, body: Any) -> None:
    from runyard.workspace.services.pipelines import pipeline_row

    if pipeline_row(session, params["name_or_id"], project).id not in visible.pipelines:
        pipeline_row(session, params["name_or_id"], NOWHERE)


def _snapshot(session: Session, params: dict[str, Any], project: str, visible: Visible, body: Any) -> None:
    from runyard.workspace.db.models import SnapshotRow
    from runyard.workspace.services.pipelines import get_snapshot

    snapshot_id = _uuid(params["snapshot_id"])
    row = session.get(SnapshotRow, snapshot_id)
    if row is None or row.project != project or row.pipeline_id not in visible.pipelines:
        get_snapshot(session, snapshot_id=snapshot_id, project=NOWHERE)


def _run(session: Session, params: dict[str, Any], project: str, visible: Visible, body: Any) -> None:
    from runyard.workspace.services.runs import run_row

    run_id = _uuid(params["run_id"])
    if run_row(session, run_id, project).pipeline_id not in visible.pipelines:
        run_row(session, run_id, NOWHERE)


def _step(session: Session, params: dict[str, Any], project: str, visible: Visible, body: Any) -> None:
    from runyard.workspace.db.models import StepRunRow
    from runyard.workspace.services.steps import get_step_run

    step_id = _uuid(params["step_run_id"])
    row = session.get(StepRunRow, step_id)
    if row is None or row.project != project or row.pipeline_id not in visible.pipelines:
        get_step_run(session, step_run_id=step_id, project=NOWHERE)


def _artifact_version(session: Session, params: dict[str, Any], project: str, visible: Visible, body: Any) -> None:
    from runyard.workspace.db.models import StepRunArtifactRow
    from runyard.workspace.services.artifacts import get_artifact_version
    from runyard.workspace.services.visibility import artifact_versions_of

    name_or_id, version = params["name_or_id"], params.get("version")
    found = get_artifact_version(session, name_or_id=name_or_id, version=version, project=project)
    written = artifact_versions_of(visible).where(StepRunArtifactRow.artifact_version_id == found.id).limit(1)
    if session.scalar(written) is None:
        get_artifact_version(session, name_or_id=name_or_id, version=version, project=NOWHERE)


def _stack(session: Session, params: dict[str, Any], project: str, visible: Visible, body: Any) -> None:
    from runyard.workspace.services.stacks import stack_row

    if stack_row(session, params["name_or_id"], project).id not in visible.stacks:
        stack_row(session, params["name_or_id"], NOWHERE)


def _stack_update(session: Session, params: dict[str, Any], project: str, visible: Visible, body: Any) -> None:
    """The stack must be shared, and every component it is given must already be in a shared stack: an
    update must not pull in (and so reveal) a component of the project the caller cannot see."""
    from runyard.workspace.services.stacks import component_row
    from runyard.workspace.services.visibility import components_of

    _stack(session, params, project, visible, body)
    wanted = body.get("components") if isinstance(body, dict) else None
    if not isinstance(wanted, dict):
        return  # the route's own validation answers a malformed body
    allowed = set(session.scalars(components_of(visible)))
    for kind, name_or_id in wanted.items():
        if not isinstance(kind, str) or not isinstance(name_or_id, str):
            continue
        if component_row(session, type=kind, name_or_id=name_or_id, project=project).id not in allowed:
            component_row(session, type=kind, name_or_id=name_or_id, project=NOWHERE)


def _component(session: Session, params: dict[str, Any], project: str, visible: Visible, body: Any) -> None:
    from runyard.workspace.db.models import StackComponentRow
    from runyard.workspace.services.stacks import component_row
    from runyard.workspace.services.visibility import components_of

    kind, name_or_id = str(params["type"]), str(params["name_or_id"])
    row = component_row(session, type=kind, name_or_id=name_or_id, project=project)
    if session.scalar(components_of(visible).where(StackComponentRow.component_id == row.id).limit(1)) is None:
        component_row(session, type=kind, name_or_id=name_or_id, project=NOWHERE)


#: Routes a share admits for one row: (method, route template) -> the check.
ITEMS: dict[tuple[str, str], Check] = {
    ("GET", "/pipelines/{name_or_id}"): _pipeline,
    ("DELETE", "/pipelines/{name_or_id}"): _pipeline,
    ("GET", "/snapshots/{snapshot_id}"): _snapshot,
    ("GET", "/runs/{run_id}"): _run,
    ("GET", "/runs/{run_id}/steps"): _run,  # the run's step page (what `Run.steps` reads)
    ("DELETE", "/runs/{run_id}"): _run,
    ("POST", "/runs/{run_id}/cancel"): _run,
    ("GET", "/runs/{run_id}/logs"): _run,
    ("GET", "/runs/{run_id}/logs/stream"): _run,
    ("GET", "/steps/{step_run_id}"): _step,
    ("GET", "/artifact-versions/{name_or_id}"): _artifact_version,
    ("GET", "/stacks/{name_or_id}"): _stack,
    ("PATCH", "/stacks/{name_or_id}"): _stack_update,
    ("DELETE", "/stacks/{name_or_id}"): _stack,
    ("GET", "/components/{type}/{name_or_id}"): _component,
}


def _artifact_store(session: Session, params: dict[str, Any], project: str, visible: Visible, body: Any) -> None:
    """The artifact store holding a version the shared pipelines wrote: the SDK needs it to load the version."""
    from runyard.workspace.db.models import ArtifactVersionRow
    from runyard.workspace.services.stacks import component_row
    from runyard.workspace.services.visibility import artifact_versions_of

    kind, name_or_id = str(params["type"]), str(params["name_or_id"])
    row = component_row(session, type=kind, name_or_id=name_or_id, project=project)
    holds = select(ArtifactVersionRow.id).where(ArtifactVersionRow.artifact_store_id == row.id,
                                                ArtifactVersionRow.id.in_(artifact_versions_of(visible))).limit(1)
    if kind != "artifact_store" or session.scalar(holds) is None:
        component_row(session, type=kind, name_or_id=name_or_id, project=NOWHERE)


#: Item routes reached through a share that carries another permission: route -> (that permission, check).
THROUGH: dict[tuple[str, str], tuple[str, Check]] = {
    ("GET", "/components/{type}/{name_or_id}"): ("artifacts:read", _artifact_store),
}


def visible_through(shares: tuple[ShareClaim, ...], permission: str, project: str) -> Visible | None:
    """The shared roots of ``project`` whose shares carry ``permission``; ``None`` if there are none."""
    relevant = [s for s in shares if s.project == project and allows(s.permissions, permission)]
    if not relevant:
        return None
    return Visible(pipelines=frozenset(s.resource for s in relevant if s.type == "pipelines"),
                   stacks=frozenset(s.resource for s in relevant if s.type == "stacks"))


async def admit(request: Request, shares: tuple[ShareClaim, ...], permission: str, project: str | None,
                ) -> Visible | None:
    """What the request may see through ``shares`` (``None``: refused; the caller answers 403). Raises the
    service's ``NotFound`` for a row outside the shares."""
    if project is None:
        return None  # resources of the whole workspace (secrets) are never shared one by one
    if not request.url.path.startswith("/api/v1/"):
        return None  # the dashboard's pages (the same templates, no filter) stay closed to shares
    route = str(getattr(request.scope.get("route"), "path_format", ""))
    key = (request.method, route.removeprefix("/api/v1"))
    visible = visible_through(shares, permission, project)
    check = ITEMS.get(key)
    if (visible is None or check is None) and key in THROUGH:
        other, check = THROUGH[key]
        visible = visible_through(shares, other, project)
    if visible is None:
        return None
    if key in LISTS:
        return visible
    if check is None:
        return None
    params: dict[str, Any] = dict(request.path_params)
    if "version" in request.query_params:
        try:
            params["version"] = int(request.query_params["version"])
        except ValueError:
            params["version"] = 0
        if not 1 <= params["version"] <= 2**31 - 1:
            return visible  # the route's own validation answers 422; the route does not run
    body: Any = None
    if request.method in ("POST", "PATCH", "PUT"):
        try:
            body = await request.json()
        except ValueError:
            body = None
    await run_in_threadpool(_check, request, check, params, project, visible, body)
    return visible


def _check(request: Request, check: Check, params: dict[str, Any], project: str, visible: Visible, body: Any) -> None:
    try:
        with request.app.state.database.get().session(write=False) as session:
            check(session, params, project, visible, body)
    except _Malformed:
        return  # only a malformed UUID passes; anything else raised here refuses the request
