"""Step runs: creation (idempotent), status reports with their outputs, cache look-ups.

These run once or twice per step of every pipeline, so they use Core statements (see ``db/tables.py``):
a step's start is 4 statements, its final report 5 to 8, each read of step runs 2.

A step run carries its run's project, so a request's project is checked against the row already being
read (the run's on creation, the step's own on a report or a read): projects cost no extra statement.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

# the generic ARRAY: importing the postgresql dialect's would cost every SQLite process ~25 ms of start-up
from sqlalchemy import (
    ARRAY,
    ColumnElement,
    Uuid,
    and_,
    any_,
    bindparam,
    func,
    insert,
    literal_column,
    or_,
    select,
    update,
)
from sqlalchemy.orm import Session

from runyard.exceptions import Conflict, NotFound
from runyard.schemas.artifacts import ArtifactVersionCreate, ArtifactVersionRead
from runyard.schemas.base import DEFAULT_PROJECT, Page, PageRequest
from runyard.schemas.metadata import ResourceType
from runyard.schemas.status import StepStatus
from runyard.schemas.steps import (
    CacheLookup,
    CacheLookupResult,
    RunStepRead,
    RunStepsPage,
    StepRunCreate,
    StepRunFilter,
    StepRunRead,
    StepRunUpdate,
)
from runyard.workspace.db import tables as t
from runyard.workspace.db.types import utcnow
from runyard.workspace.services.artifacts import VERSION_COLUMNS, register_version, version_read
from runyard.workspace.services.metadata import put_metadata
from runyard.workspace.services.pagination import apply_keyset, decode_cursor, encode_cursor
from runyard.workspace.services.visibility import Visible
from runyard.workspace.state import STEP_TRANSITIONS, check_step_transition

_STEP_COLUMNS = [c for c in t.step_runs.c if c.name != "pipeline_id"]
_sr = t.step_runs.c

# Statements built once: constructing and coercing them per call costs more than running them.
_FIND_STEP = select(_sr.id).where(
    or_(_sr.id == bindparam("sid"), and_(_sr.run_id == bindparam("rid"), _sr.invocation_id == bindparam("inv")))
)
_RUN_OF_STEP = select(t.runs.c.pipeline_id, t.runs.c.project, t.runs.c.status).where(t.runs.c.id == bindparam("rid"))
#: A run in one of these has been asked to stop: no step of it starts any more.
_STOPPING = frozenset({"cancelling", "cancelled"})
#: What a runner may still record in a stopping run: outcomes, not starts.
_RECORDABLE_WHEN_STOPPING = frozenset({StepStatus.FAILED, StepStatus.SKIPPED, StepStatus.CANCELLED})
CANCELLED_BEFORE_START = "The run was cancelled before this step started."
_INSERT_STEP = insert(t.step_runs)
_INSERT_EDGES = insert(t.edges)
_LOCK_STEP = select(*_STEP_COLUMNS).where(_sr.id == bindparam("sid")).with_for_update()
_UPDATE_STEP = update(t.step_runs).where(_sr.id == bindparam("sid"))
_UPDATE_STEPS = update(t.step_runs).where(_sr.id == any_(bindparam("sids", type_=ARRAY(Uuid))))
_OUTPUT_NAMES = select(t.edges.c.name).where(t.edges.c.step_run_id == bindparam("sid"), t.edges.c.kind == "output")
_GET_STEP = select(*_STEP_COLUMNS).where(_sr.id == bindparam("sid"), _sr.project == bindparam("project"))
_EDGES = (
    # the edge's name is labelled: the artifact's own ``name`` (in VERSION_COLUMNS) must not be shadowed
    select(t.edges.c.step_run_id, t.edges.c.kind, t.edges.c.name.label("edge_name"), *VERSION_COLUMNS)
    .join(t.artifact_versions, t.artifact_versions.c.id == t.edges.c.artifact_version_id)
    .join(t.artifacts, t.artifacts.c.id == t.artifact_versions.c.artifact_id)
)
_EDGES_OF = _EDGES.where(t.edges.c.step_run_id.in_(bindparam("ids", expanding=True)))
# PostgreSQL: the ids as one array parameter. ``IN`` expands to one placeholder per id, and a page of 500
# step runs then costs more to render and parse (every time: the statement is too long to cache) than to run.
_EDGES_OF_ARRAY = _EDGES.where(t.edges.c.step_run_id == any_(bindparam("ids", type_=ARRAY(Uuid))))
# One step run (every create and report answers with one): a plain equality, no list parameter to expand or dump.
_EDGES_OF_ONE = _EDGES.where(t.edges.c.step_run_id == bindparam("sid"))

# A run's step page: the links alone, then each linked version once (the join above reads a version per link).
# Columns in the order of the read models' fields: rows become models by position (``trusted_many``).
_RUN_IN_PROJECT = select(t.runs.c.id).where(t.runs.c.id == bindparam("rid"), t.runs.c.project == bindparam("project"))
_PAGE_STEP_COLUMNS = [_sr[name] for name in RunStepRead.__pydantic_fields__ if name not in ("inputs", "outputs",
                                                                                            "metadata")]
_LINKS = select(t.edges.c.step_run_id, t.edges.c.kind, t.edges.c.name, t.edges.c.artifact_version_id)
_LINKS_OF = _LINKS.where(t.edges.c.step_run_id.in_(bindparam("ids", expanding=True)))
_LINKS_OF_ARRAY = _LINKS.where(t.edges.c.step_run_id == any_(bindparam("ids", type_=ARRAY(Uuid))))
_av = t.artifact_versions.c
_VERSIONS = select(
    _av.id, _av.created, _av.artifact_id, t.artifacts.c.name, _av.version, _av.uri, _av.content_hash, _av.size,
    _av.materializer, _av.data_type, _av.artifact_store_id, _av.producer_step_run_id, _av.metadata_json,
).join(t.artifacts, t.artifacts.c.id == _av.artifact_id)
_VERSIONS_OF = _VERSIONS.where(_av.id.in_(bindparam("ids", expanding=True)))
_VERSIONS_OF_ARRAY = _VERSIONS.where(_av.id == any_(bindparam("ids", type_=ARRAY(Uuid))))
_STATUSES = {str(s): s for s in StepStatus}


def create_step_run(
    session: Session, *, step: StepRunCreate, project: str = DEFAULT_PROJECT, brief: bool = False
) -> StepRunRead:
    """Registers a step's start (or its cached reuse, or an outcome such as ``skipped``).

    In a run being cancelled no step starts: the step run is stored ``cancelled`` instead of what was
    asked, and that answer is how the runner learns of the cancel, with no extra request per step.
    ``brief``: answer without the artifact links (see :func:`answer`).
    """
    step_id = step.id or uuid.uuid4()
    conn = session.connection()
    run = conn.execute(_RUN_OF_STEP, {"rid": step.run_id}).first()
    if run is None or run.project != project:
        raise NotFound(f"No run with id {step.run_id}.", hint="Create the run before its steps.")
    # one query answers both "is this a retried request?" and "is the invocation taken?"
    found = conn.execute(_FIND_STEP, {"sid": step_id, "rid": step.run_id, "inv": step.invocation_id}).first()
    if found is not None:
        if found.id == step_id:
            return get_step_run(session, step_run_id=step_id, project=project)
        raise Conflict(
            f"Run {step.run_id} already has a step run for invocation {step.invocation_id!r} ({found.id}).",
            hint="Update that step run instead of creating another.",
        )
    if run.status in _STOPPING and step.status not in _RECORDABLE_WHEN_STOPPING:
        step = step.model_copy(update={"status": StepStatus.CANCELLED, "outputs": [], "inputs": {}})
    now = utcnow()
    row = dict(
        id=step_id,
        project=project,
        run_id=step.run_id,
        pipeline_id=run.pipeline_id,
        invocation_id=step.invocation_id,
        step_name=step.step_name,
        status=str(step.status),
        parameters=step.parameters,
        source_hash=step.source_hash,
        cache_key=step.cache_key,
        cache_parts=step.cache_parts,
        original_step_run_id=step.original_step_run_id,
        attempts=1,
        metadata_json={},
        created=now,
        started=now if step.status not in (StepStatus.PENDING, StepStatus.CANCELLED) else None,
        ended=now if step.status.is_finished else None,
        error=CANCELLED_BEFORE_START if step.status == StepStatus.CANCELLED else None,
        traceback=None,
    )
    conn.execute(_INSERT_STEP, row)
    links = [
        {"step_run_id": step_id, "kind": "input", "name": name, "artifact_version_id": version_id}
        for name, version_id in step.inputs.items()
    ] + [
        {"step_run_id": step_id, "kind": "output", "name": link.name, "artifact_version_id": link.artifact_version_id}
        for link in step.outputs
    ]
    if links:
        conn.execute(_INSERT_EDGES, links)
    # the row is what we just wrote: build the answer from it, reading only the artifact links back
    return answer(session, _Row(row), brief=brief)


def update_step_run(
    session: Session, *, step_run_id: uuid.UUID, update: StepRunUpdate, project: str = DEFAULT_PROJECT,
    brief: bool = False,
) -> StepRunRead:
    """One transaction for a step's report: status, new output versions, metadata. ``brief``: answer
    without the artifact links and metadata (see :func:`answer`)."""
    conn = session.connection()
    if update.status is not None and not update.new_outputs and not update.metadata and conn.dialect.update_returning:
        row = _transition(conn, step_run_id, update, project)
        if row is not None:
            return answer(session, row, brief=brief)
        # no row: unknown step, a refused transition or a repeated report; the checked path below answers
    current = conn.execute(_LOCK_STEP, {"sid": step_run_id}).first()
    if current is None or current.project != project:
        raise NotFound(f"No step run with id {step_run_id}.")
    now = utcnow()
    values: dict[str, Any] = {}
    if update.status is not None:
        status = StepStatus(current.status)
        check_step_transition(status, update.status, step_run_id=step_run_id)
        if update.status != status:
            values["status"] = str(update.status)
            if update.status == StepStatus.RUNNING and current.started is None:
                values["started"] = now
            if update.status.is_finished:
                values["ended"] = now
    if update.error is not None:
        values["error"] = update.error
    if update.traceback is not None:
        values["traceback"] = update.traceback
    if update.attempts is not None:
        values["attempts"] = update.attempts
    if values:
        conn.execute(_UPDATE_STEP, {"sid": step_run_id, **values})
    if update.new_outputs:
        # only a report repeated after it was stored can meet outputs that exist already
        repeated = update.status is not None and str(update.status) == current.status
        _register_outputs(session, step_run_id, update.new_outputs, check_existing=repeated, project=project)
    if update.metadata:
        put_metadata(session, ResourceType.STEP_RUN, step_run_id, update.metadata)
        if not brief:
            return get_step_run(session, step_run_id=step_run_id, project=project)
    return answer(session, _Row({**current._asdict(), **values}), brief=brief)


def answer(session: Session, row: Any, *, brief: bool) -> StepRunRead:
    """The answer to a step report: the step run as stored, or with ``brief`` its own fields alone (no
    artifact links, no metadata).

    Why brief: a runner reports each step's start and end and already knows the artifacts it named; it
    reads the answer's status only (a start refused in a cancelled run). Leaving the links out spares a
    query and most of the answer (about a fifth of the embedded workspace's work per step)."""
    if brief:
        return StepRunRead.trusted(**{**_step_values(row), "metadata": {}}, inputs={}, outputs={})
    return reads_from_rows(session, [row])[0]


#: For each step status, the statuses a step may move to it from (``STEP_TRANSITIONS`` read backwards).
_SOURCES: dict[StepStatus, list[str]] = {
    new: sorted(str(old) for old, allowed in STEP_TRANSITIONS.items() if new in allowed) for new in StepStatus
}


def _transition(conn: Any, step_run_id: uuid.UUID, update: StepRunUpdate, project: str) -> Any:
    """A status report without outputs or metadata, as one ``UPDATE ... RETURNING``; ``None`` if no row moved.

    The ``WHERE`` holds the state machine's rule (the current status is one the new one may follow), so
    the statement moves the row only where the checked path would, and a row it does not move costs that
    path nothing it would not pay anyway. Runners report every step's start and end: this is their path,
    1 statement instead of 2 (the row lock is the ``UPDATE``'s own).
    """
    status = update.status
    assert status is not None
    if not _SOURCES[status]:
        return None
    given = tuple(name for name in ("error", "traceback", "attempts") if getattr(update, name) is not None)
    stmt = _TRANSITIONS.get((status, given))
    if stmt is None:
        stmt = _TRANSITIONS[(status, given)] = transition_statement(status, given)
    params: dict[str, Any] = {"sid": step_run_id, "in_project": project, "now": utcnow()}
    for name in given:
        params["new_" + name] = getattr(update, name)
    return conn.execute(stmt, params).first()


#: The statements of :func:`_transition` by (new status, optional fields given): built once each, since
#: building and cache-keying a statement per call cost as much as running it.
_TRANSITIONS: dict[tuple[StepStatus, tuple[str, ...]], Any] = {}


def transition_sources(status: StepStatus) -> list[str]:
    """The statuses a step may move to ``status`` from (none: nothing moves a step to it)."""
    return _SOURCES[status]


def transition_statement(status: StepStatus, given: tuple[str, ...], *, many: bool = False) -> Any:
    """The ``UPDATE ... RETURNING`` that moves a step to ``status`` only from one of its sources, setting the
    optional fields ``given`` (from ``new_<name>`` parameters); ``sid``, ``in_project`` and ``now`` bind the rest.
    ``many``: every step whose id is in the array ``sids`` instead (PostgreSQL)."""
    values: dict[str, Any] = {"status": str(status)}
    if status == StepStatus.RUNNING:
        values["started"] = func.coalesce(_sr.started, bindparam("now"))
    if status.is_finished:
        values["ended"] = bindparam("now")
    for name in given:
        values[name] = bindparam("new_" + name)
    # the sources are our own status names, written into the SQL: no list parameter to expand per call
    sources: list[ColumnElement[Any]] = [literal_column(f"'{source}'") for source in _SOURCES[status]]
    return (
        (_UPDATE_STEPS if many else _UPDATE_STEP).where(_sr.project == bindparam("in_project"), _sr.status.in_(sources))
        .values(values)
        .returning(*_STEP_COLUMNS)
    )


def _register_outputs(
    session: Session, step_run_id: uuid.UUID, versions: list[ArtifactVersionCreate], *, check_existing: bool,
    project: str,
) -> None:
    conn = session.connection()
    have = set(conn.execute(_OUTPUT_NAMES, {"sid": step_run_id}).scalars()) if check_existing else set()
    for version in versions:
        if version.output_name in have:
            continue  # a retried report: this output is registered already
        version_id = register_version(session, version=version, producer_step_run_id=step_run_id, project=project)
        conn.execute(
            _INSERT_EDGES,
            {
                "step_run_id": step_run_id,
                "kind": "output",
                "name": version.output_name,
                "artifact_version_id": version_id,
            },
        )


def get_step_run(session: Session, *, step_run_id: uuid.UUID, project: str = DEFAULT_PROJECT) -> StepRunRead:
    row = session.connection().execute(_GET_STEP, {"sid": step_run_id, "project": project}).first()
    if row is None:
        raise NotFound(f"No step run with id {step_run_id}.")
    return reads_from_rows(session, [row])[0]


def list_step_runs(
    session: Session, *, filter: StepRunFilter, project: str = DEFAULT_PROJECT, visible: Visible | None = None
) -> Page[StepRunRead]:
    c = t.step_runs.c
    stmt = select(*_STEP_COLUMNS).where(c.project == project)
    if visible is not None:
        stmt = stmt.where(c.pipeline_id.in_(visible.pipelines))
    if filter.run_id is not None:
        stmt = stmt.where(c.run_id == filter.run_id)
    if filter.status is not None:
        stmt = stmt.where(c.status == str(filter.status))
    if filter.invocation_id is not None:
        stmt = stmt.where(c.invocation_id == filter.invocation_id)
    if filter.cursor:
        created, row_id = decode_cursor(filter.cursor)
        stmt = stmt.where(or_(c.created < created, and_(c.created == created, c.id < row_id)))
    rows = session.execute(stmt.order_by(c.created.desc(), c.id.desc()).limit(filter.limit + 1)).all()
    cursor = None
    if len(rows) > filter.limit:
        rows = rows[: filter.limit]
        cursor = encode_cursor(rows[-1].created, rows[-1].id)
    return Page[StepRunRead](items=reads_from_rows(session, rows), next_cursor=cursor)


def list_run_steps(
    session: Session, *, run_id: uuid.UUID, page: PageRequest, project: str = DEFAULT_PROJECT
) -> RunStepsPage:
    """A run's step runs in run order, each artifact version they read or wrote listed once per page.

    What a client showing a run reads (``Run.steps``): the same facts as ``list_step_runs``, in about
    half the bytes for a chain, and with a third fewer rows read (links, then the distinct versions).
    """
    conn = session.connection()
    if conn.execute(_RUN_IN_PROJECT, {"rid": run_id, "project": project}).first() is None:
        raise NotFound(f"No run with id {run_id}.", hint="List runs with `runyard runs list`.")
    c = t.step_runs.c
    stmt = apply_keyset(select(*_PAGE_STEP_COLUMNS, c.metadata_json).where(c.run_id == run_id), created_col=c.created,
                        id_col=c.id, cursor=page.cursor, limit=page.limit, ascending=True)
    rows = conn.execute(stmt).all()
    cursor = None
    if len(rows) > page.limit:
        rows = rows[: page.limit]
        cursor = encode_cursor(rows[-1].created, rows[-1].id)
    pg = conn.dialect.name == "postgresql"
    links = conn.execute(_LINKS_OF_ARRAY if pg else _LINKS_OF, {"ids": [r[0] for r in rows]}).all() if rows else []
    ins: dict[uuid.UUID, dict[str, uuid.UUID]] = defaultdict(dict)
    outs: dict[uuid.UUID, dict[str, uuid.UUID]] = defaultdict(dict)
    for step_run_id, kind, name, version_id in links:
        (ins if kind == "input" else outs)[step_run_id][name] = version_id
    version_ids = list({link[3] for link in links})
    versions = conn.execute(_VERSIONS_OF_ARRAY if pg else _VERSIONS_OF, {"ids": version_ids}).all() if links else []
    # rows hold the fields in declaration order, up to the step's status and after it up to ``ended``
    items = RunStepRead.trusted_many(
        (*r[:5], _STATUSES[r[5]], *r[6:16], ins.get(r[0], {}), outs.get(r[0], {}), r[16] or {}) for r in rows
    )
    read_versions = ArtifactVersionRead.trusted_many((*v[:12], v[12] or {}) for v in versions)
    return RunStepsPage(items=items, artifact_versions={v.id: v for v in read_versions}, next_cursor=cursor)


def lookup_cache(session: Session, *, lookup: CacheLookup, project: str = DEFAULT_PROJECT) -> CacheLookupResult:
    """A hit is the newest step run that really executed with this key; a miss returns the last key's parts.

    Only steps of the same project count: a hit hands over its outputs, which another project may not read.
    """
    c = t.step_runs.c
    hit = session.execute(
        select(*_STEP_COLUMNS)
        .where(c.cache_key == lookup.cache_key, c.status == str(StepStatus.COMPLETED), c.project == project)
        .order_by(c.created.desc())
        .limit(1)
    ).first()
    if hit is not None:
        return CacheLookupResult(hit=reads_from_rows(session, [hit])[0])
    previous = session.scalar(
        select(c.cache_parts)
        .where(
            c.pipeline_id == lookup.pipeline_id,
            c.invocation_id == lookup.invocation_id,
            c.cache_key.is_not(None),
            c.project == project,
        )
        .order_by(c.created.desc())
        .limit(1)
    )
    return CacheLookupResult(previous_parts=previous)


class _Row:
    """Attribute access over a dict, so rows built in memory read like fetched ones."""

    def __init__(self, values: dict[str, Any]) -> None:
        self.__dict__.update(values)


def reads_from_rows(session: Session, rows: Sequence[Any]) -> list[StepRunRead]:
    """Builds step runs with one more query for all their artifacts, however many steps (no N+1)."""
    if not rows:
        return []
    conn = session.connection()
    if len(rows) == 1:
        edge_rows = conn.execute(_EDGES_OF_ONE, {"sid": rows[0].id}).all()
    else:
        stmt = _EDGES_OF_ARRAY if conn.dialect.name == "postgresql" else _EDGES_OF
        edge_rows = conn.execute(stmt, {"ids": [r.id for r in rows]}).all()  # one fetch, not one per row
    cache: dict[uuid.UUID, ArtifactVersionRead] = {}
    ins: dict[uuid.UUID, dict[str, ArtifactVersionRead]] = defaultdict(dict)
    outs: dict[uuid.UUID, dict[str, ArtifactVersionRead]] = defaultdict(dict)
    for e in edge_rows:
        read = cache.get(e.id)
        if read is None:
            read = cache[e.id] = version_read(e)
        (ins if e.kind == "input" else outs)[e.step_run_id][e.edge_name] = read
    return [StepRunRead.trusted(**_step_values(r), inputs=ins[r.id], outputs=outs[r.id]) for r in rows]


def _step_values(r: Any) -> dict[str, Any]:
    """A step run row's own fields (all but its artifacts), for either read model."""
    return {
        "id": r.id,
        "created": r.created,
        "run_id": r.run_id,
        "invocation_id": r.invocation_id,
        "step_name": r.step_name,
        "status": StepStatus(r.status),
        "parameters": r.parameters,
        "source_hash": r.source_hash,
        "cache_key": r.cache_key,
        "cache_parts": r.cache_parts,
        "original_step_run_id": r.original_step_run_id,
        "error": r.error,
        "traceback": r.traceback,
        "attempts": r.attempts,
        "started": r.started,
        "ended": r.ended,
        "metadata": r.metadata_json or {},
    }
