"""Step runs written straight to JSON bytes, for the Workspace Server's hot routes.

A run's step page (``steps-list_of_run``) and a runner's status report (``steps-update`` without outputs
or metadata) answer with the same JSON as the generic path, which builds pydantic models and has FastAPI
write them, but without the Python objects in between: for a page of 500 step runs, decoding 2,000 JSON
documents, 5,000 UUIDs and the timestamps into objects, building 1,000 models and writing them out again
was about half the page's CPU (in-process: 25-32 ms per page, 13-14.5 ms here). Here rows become JSON with
orjson from plain tuples. On PostgreSQL, JSON columns and UUIDs are selected as text and the documents are
spliced into the answer verbatim (``orjson.Fragment``): its ``json`` type stores only valid JSON, as the
server's writes produced it. On SQLite and MariaDB the columns are read as the generic path reads them (their
JSON is not checked on write), and orjson writes the objects.

The answers equal the generic path's after parsing, with keys in the models' field order (a test compares
both on every database). Values orjson cannot write (integers beyond 64 bits in a JSON column on SQLite
or MariaDB) raise ``orjson.JSONEncodeError``; callers then answer through the generic path.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import UTC
from functools import cache
from typing import Any

import orjson
from sqlalchemy import (
    ARRAY,
    JSON,
    ColumnElement,
    DateTime,
    Text,
    Uuid,
    any_,
    bindparam,
    cast,
    func,
    select,
    type_coerce,
)
from sqlalchemy.orm import Session

from runyard.exceptions import NotFound
from runyard.schemas.artifacts import ArtifactVersionRead
from runyard.schemas.base import PageRequest
from runyard.schemas.status import StepStatus
from runyard.schemas.steps import RunStepRead, StepRunRead, StepRunUpdate
from runyard.workspace.db import tables as t
from runyard.workspace.db.engine import Database
from runyard.workspace.db.types import UTCDateTime, utcnow
from runyard.workspace.services.pagination import apply_keyset, encode_cursor
from runyard.workspace.services.steps import transition_sources, transition_statement, update_step_run

#: timestamps are naive UTC on PostgreSQL (read without UTCDateTime's processor), aware UTC elsewhere; orjson
#: writes both as pydantic does (UTC as "Z", microseconds only when not zero)
_OPTIONS = orjson.OPT_NAIVE_UTC | orjson.OPT_UTC_Z
_EMPTY = orjson.Fragment(b"{}")

_sr, _av, _e = t.step_runs.c, t.artifact_versions.c, t.edges.c
#: A run step's own columns, in the order of ``RunStepRead``'s fields (its links come apart).
_STEP_FIELDS = [name for name in RunStepRead.__pydantic_fields__ if name not in ("inputs", "outputs", "metadata")]
_ITEM_KEYS = (*_STEP_FIELDS, "inputs", "outputs", "metadata")
_VERSION_KEYS = tuple(ArtifactVersionRead.__pydantic_fields__)
_N = len(_STEP_FIELDS)


def _as_text(column: ColumnElement[Any], name: str, pg: bool) -> ColumnElement[Any]:
    """How this module selects a column: on PostgreSQL UUIDs and JSON as text, timestamps without the
    ``UTCDateTime`` processor (naive UTC, which orjson writes with its "Z"); elsewhere as stored types read."""
    if not pg:
        return column.label(name)
    if isinstance(column.type, Uuid | JSON):
        return cast(column, Text).label(name)
    if isinstance(column.type, UTCDateTime):
        return type_coerce(column, DateTime()).label(name)
    return column.label(name)


class _Statements:
    """The run page's statements for one kind of database (PostgreSQL, or the others), built once."""

    def __init__(self, pg: bool) -> None:
        self.pg = pg
        self.steps = [_as_text(_sr[n], n, pg) for n in _STEP_FIELDS] + [_as_text(_sr.metadata_json, "metadata", pg)]
        links = select(*(_as_text(c, c.name, pg) for c in (_e.step_run_id, _e.kind, _e.name, _e.artifact_version_id)))
        #: in the order of ``ArtifactVersionRead``'s fields
        self.version_columns = [
            *(_as_text(_av[n], n, pg) for n in ("id", "created", "artifact_id")), t.artifacts.c.name,
            *(_as_text(_av[n], n, pg) for n in ("version", "uri", "content_hash", "size", "materializer", "data_type",
                                                "artifact_store_id", "producer_step_run_id", "metadata_json")),
        ]
        versions = select(*self.version_columns).join(t.artifacts, t.artifacts.c.id == _av.artifact_id)
        if pg:  # the ids as one comma-separated text (psycopg dumps a list parameter element by element)
            ids = cast(func.string_to_array(bindparam("ids", type_=Text), ","), ARRAY(Uuid))
            self.links = links.where(_e.step_run_id == any_(ids))
            self.versions = versions.where(_av.id == any_(ids))
        else:
            self.links = links.where(_e.step_run_id.in_(bindparam("ids", expanding=True)))
            self.versions = versions.where(_av.id.in_(bindparam("ids", expanding=True)))


@cache
def _statements(pg: bool) -> _Statements:
    return _Statements(pg)


_RUN_IN_PROJECT = select(t.runs.c.id).where(t.runs.c.id == bindparam("rid"), t.runs.c.project == bindparam("project"))


def list_run_steps_json(session: Session, *, run_id: uuid.UUID, page: PageRequest, project: str) -> bytes:
    """``steps.list_run_steps`` as JSON bytes: the same statements, the same page, no models."""
    conn = session.connection()
    if conn.execute(_RUN_IN_PROJECT, {"rid": run_id, "project": project}).first() is None:
        raise NotFound(f"No run with id {run_id}.", hint="List runs with `runyard runs list`.")
    pg = conn.dialect.name == "postgresql"
    st = _statements(pg)
    stmt = apply_keyset(select(*st.steps).where(_sr.run_id == run_id), created_col=_sr.created, id_col=_sr.id,
                        cursor=page.cursor, limit=page.limit, ascending=True)
    rows = conn.execute(stmt).all()
    cursor = None
    if len(rows) > page.limit:
        rows = rows[: page.limit]
        last = rows[-1]
        created = last[1] if last[1].tzinfo is not None else last[1].replace(tzinfo=UTC)
        cursor = encode_cursor(created, last[0] if isinstance(last[0], uuid.UUID) else uuid.UUID(last[0]))
    links = conn.execute(st.links, {"ids": _ids([r[0] for r in rows], pg)}).all() if rows else []
    ins: dict[Any, dict[str, Any]] = defaultdict(dict)
    outs: dict[Any, dict[str, Any]] = defaultdict(dict)
    for step_run_id, kind, name, version_id in links:
        (ins if kind == "input" else outs)[step_run_id][name] = version_id
    version_ids = list({link[3] for link in links})
    versions = conn.execute(st.versions, {"ids": _ids(version_ids, pg)}).all() if version_ids else []
    return orjson.dumps({
        "items": step_items(rows, ins, outs, pg),
        "artifact_versions": {v[0] if pg else str(v[0]): _version(v, pg) for v in versions},
        "next_cursor": cursor,
    }, option=_OPTIONS)


def _ids(ids: list[Any], pg: bool) -> Any:
    """The ``ids`` parameter of ``_Statements.links`` / ``.versions``."""
    return ",".join(ids) if pg else ids


def step_items(rows: Iterable[Sequence[Any]], ins: dict[Any, dict[str, Any]], outs: dict[Any, dict[str, Any]],
               pg: bool) -> list[dict[str, Any]]:
    """Run steps (rows of ``_Statements.steps``) as the dicts orjson writes, keys in ``RunStepRead``'s order."""
    keys, n = _ITEM_KEYS, _N
    empty: dict[str, Any] = {}
    if pg:
        doc = orjson.Fragment
        return [dict(zip(keys, (*r[:6], doc(r[6]), r[7], r[8], doc(r[9]), *r[10:n], ins.get(r[0], empty),
                                outs.get(r[0], empty), _metadata_text(r[n])), strict=True)) for r in rows]
    return [dict(zip(keys, (*r[:n], ins.get(r[0], empty), outs.get(r[0], empty), r[n] or empty), strict=True))
            for r in rows]


def _version(v: Sequence[Any], pg: bool) -> dict[str, Any]:
    """An artifact version (a row of ``_Statements.versions``), keys in ``ArtifactVersionRead``'s order."""
    return dict(zip(_VERSION_KEYS, (*v[:12], _metadata_text(v[12]) if pg else v[12] or {}), strict=True))


def _metadata_text(text: str | None) -> Any:
    """A ``metadata`` document as stored on PostgreSQL; the generic path reads a JSON null as ``{}``."""
    return _EMPTY if text is None or text == "null" else orjson.Fragment(text)


# --- a runner's status report --------------------------------------------------------------------------
def report_status_json(db: Database, *, step_run_id: uuid.UUID, update: StepRunUpdate, project: str,
                       tried: bool = False) -> bytes:
    """``steps.update_step_run`` for a status-only report (no outputs, no metadata), answered as JSON bytes.

    On PostgreSQL the transition is one statement in autocommit: the ``UPDATE ... RETURNING`` of
    ``steps.transition_statement`` (the state machine's rule in its ``WHERE``) with the step's artifact links
    joined to the returned row, on a connection of a pool without pre-ping (``Database.autocommit_connection``):
    no ``BEGIN``/``COMMIT``, no ping, no second query for the links. When it moves no row (unknown step, another
    project, a refused transition, a repeated report) or the database errs, the checked path answers in a
    transaction of its own, exactly as the generic route would (404, 409, the idempotent repeat, 422/503).
    Elsewhere the checked path always answers. ``tried``: :func:`move_statuses_json` tried the statement
    already and it moved no row, so only the checked path is left.
    """
    if update.status is None or update.new_outputs or update.metadata:
        raise ValueError("report_status_json takes status reports only (no outputs, no metadata)")
    if db.url.startswith("postgresql") and not tried:
        rows = _transition_rows(db, step_run_id, update, project)
        if rows:
            return orjson.dumps(_reported(rows), option=_OPTIONS)
    with db.session(write=True) as session:
        read = update_step_run(session, step_run_id=step_run_id, update=update, project=project)
    return read.__pydantic_serializer__.to_json(read)


#: One report of several (``report_statuses_json``): the step run's id, the report, the request's project.
Report = tuple[uuid.UUID, StepRunUpdate, str]


def move_statuses_json(db: Database, reports: Sequence[Report]) -> list[bytes | None]:
    """Several status-only reports (a server's reports that queued while others were in the database) moved
    together where they can be: for each, :func:`report_status_json`'s answer, or ``None`` where that
    function must answer it (its row did not move: 404, 409, a repeat; or it is not a plain status change).

    On PostgreSQL, the reports that set nothing but the status go in one statement per (status, project)
    (``steps.transition_statement(many=True)``, the links joined, autocommit): the commit, the round trip and
    the thread hand-off are shared; any other report goes alone, in :func:`report_status_json`'s statement.
    The same step reported twice in one batch gets the same (moved) row twice: what the second report, a
    repeat, would have been answered after the first. Elsewhere every answer is ``None``.
    """
    answers: list[bytes | None] = [None] * len(reports)
    if not db.url.startswith("postgresql"):
        return answers
    groups: dict[tuple[StepStatus, str], list[int]] = defaultdict(list)
    for i, (_, update, project) in enumerate(reports):
        status_only = update.error is None and update.traceback is None and update.attempts is None
        if update.status is not None and status_only:
            groups[(update.status, project)].append(i)
        else:
            groups[(StepStatus.PENDING, f"alone {i}")].append(i)  # a key of its own: this report goes alone
    for (status, project), members in groups.items():
        if len(members) == 1:
            step_run_id, update, project = reports[members[0]]
            rows = _transition_rows(db, step_run_id, update, project)
            answers[members[0]] = orjson.dumps(_reported(rows), option=_OPTIONS) if rows else None
            continue
        if not transition_sources(status):
            continue
        rows = _transition_rows_many(db, status, project, [reports[i][0] for i in members])
        moved: dict[str, list[Any]] = defaultdict(list)
        for row in rows:
            moved[row[0]].append(row)
        for i in members:
            mine = moved.get(str(reports[i][0]))
            if mine:
                answers[i] = orjson.dumps(_reported(mine), option=_OPTIONS)
    return answers


def _transition_rows_many(db: Database, status: StepStatus, project: str, ids: list[uuid.UUID]) -> list[Any]:
    """The moved steps' rows (each once per artifact link); empty on a database error (each report then
    goes its own way)."""
    sql, defaults = _report_statement(db, status, (), many=True)
    params = {**defaults, "sids": ids, "in_project": project, "now": utcnow().replace(tzinfo=None)}
    try:
        with db.autocommit_connection() as conn:
            cursor = conn.cursor()
            cursor.execute(sql, params)
            return list(cursor.fetchall())
    except Exception:  # e.g. a deadlock with another server process reporting the same steps
        return []


#: The statements (SQL text, parameters) of ``_transition_rows`` by (new status, optional fields given, many).
_REPORTS: dict[tuple[StepStatus, tuple[str, ...], bool], Any] = {}


def _report_statement(db: Database, status: StepStatus, given: tuple[str, ...], *, many: bool = False) -> Any:
    stmt = _REPORTS.get((status, given, many))
    if stmt is None:
        moved = transition_statement(status, given, many=many).cte("moved")
        versions = t.edges.join(t.artifact_versions, _av.id == _e.artifact_version_id).join(
            t.artifacts, t.artifacts.c.id == _av.artifact_id)
        query = select(
            *(_as_text(moved.c[n], n, True) for n in _REPORT_FIELDS), _as_text(moved.c.metadata_json, "metadata", True),
            _e.kind, _e.name.label("edge_name"), *_statements(True).version_columns,
        ).select_from(moved.outerjoin(versions, _e.step_run_id == moved.c.id))
        compiled = query.compile(dialect=db.write_engine.dialect)
        stmt = _REPORTS[(status, given, many)] = (str(compiled), dict(compiled.params))  # the SET's values too
    return stmt


_REPORT_FIELDS = [n for n in StepRunRead.__pydantic_fields__ if n not in ("inputs", "outputs", "metadata")]
_REPORT_KEYS = tuple(StepRunRead.__pydantic_fields__)


def _transition_rows(db: Database, step_run_id: uuid.UUID, update: StepRunUpdate, project: str) -> list[Any]:
    """The moved step's row once per artifact link (once without links); empty if no row moved."""
    assert update.status is not None
    given = tuple(name for name in ("error", "traceback", "attempts") if getattr(update, name) is not None)
    if not transition_sources(update.status):
        return []
    sql, defaults = _report_statement(db, update.status, given)
    # the raw statement skips UTCDateTime's bind processing: "now" goes in as naive UTC, as it would
    params: dict[str, Any] = {**defaults, "sid": step_run_id, "in_project": project,
                              "now": utcnow().replace(tzinfo=None)}
    for name in given:
        params["new_" + name] = getattr(update, name)
    try:
        with db.autocommit_connection() as conn:
            cursor = conn.cursor()
            cursor.execute(sql, params)
            return list(cursor.fetchall())
    except Exception:  # a database error: the checked path answers it as the generic route would
        return []


def _reported(rows: list[Any]) -> dict[str, Any]:
    """A moved step's rows (``_transition_rows``) as ``StepRunRead``'s JSON, its versions inline."""
    first, n = rows[0], len(_REPORT_FIELDS)
    ins: dict[str, Any] = {}
    outs: dict[str, Any] = {}
    for r in rows:
        if r[n + 1] is not None:
            (ins if r[n + 1] == "input" else outs)[r[n + 2]] = _version(r[n + 3:], True)
    doc = orjson.Fragment
    values = (*first[:6], doc(first[6]), first[7], first[8], doc(first[9]), *first[10:n], ins, outs,
              _metadata_text(first[n]))
    return dict(zip(_REPORT_KEYS, values, strict=True))
