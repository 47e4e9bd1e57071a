"""``/runs/{id}``: one run as a DAG or a timeline, live while it runs, and each step in detail.

The graph travels as JSON (built from the snapshot's spec and one query for the step runs), inline in the
page (a ``application/json`` script block, never executed) and at ``graph.json``; a 2,000-step run is
laid out in the browser's Web Worker, not in HTML.
While the run is unfinished the page polls ``status.json`` (statuses and times only). A step's panel,
``/runs/{id}/steps/{invocation}``, is a full page at that stable URL, or the panel's HTML alone with
``?partial=1`` when the run page loads it beside the graph.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from fastapi import Request
from sqlalchemy.orm import Session
from starlette.responses import HTMLResponse, JSONResponse

from runyard.dashboard.source import StepSource, step_source
from runyard.dashboard.web import CanReadRuns, PageProject, page_router, parse_id, render
from runyard.exceptions import NotFound
from runyard.schemas.runs import RunRead
from runyard.schemas.steps import StepRunRead
from runyard.workspace.api.deps import ReadSession
from runyard.workspace.services import dashboard
from runyard.workspace.services import runs as runs_service
from runyard.workspace.services import stacks as stacks_service
from runyard.workspace.services import steps as steps_service

router = page_router()

#: Above this many steps the timeline is the default view: a DAG that large is a wall of boxes.
TIMELINE_DEFAULT_ABOVE = 200
#: Up to this many steps the page also lists them in a server-rendered table (works without scripts).
TABLE_MAX_STEPS = 500


@dataclass(frozen=True)
class StepRow:
    """A spec step joined with its step run (if it started): one node of the graph or row of the table."""

    invocation_id: str
    step_name: str
    upstream: list[str]
    status: str
    started: datetime | None
    ended: datetime | None

    @property
    def duration_s(self) -> float | None:
        return dashboard.duration_s(self.started, self.ended)


@router.get("/runs/{run_id}")
def run_page(request: Request, principal: CanReadRuns, session: ReadSession, project: PageProject, run_id: str,
             view: str = "", step: str = "") -> HTMLResponse:
    run = runs_service.get_run(session, run_id=parse_id(run_id, "run"), project=project)
    rows = step_rows(session, run)
    chosen = view if view in ("dag", "timeline", "table") else (
        "timeline" if len(rows) > TIMELINE_DEFAULT_ABOVE else "dag")
    panel, missing_step = None, ""
    if step:
        try:
            panel = step_panel_context(session, run, step, project)
        except NotFound:  # a stale ?step= still shows the run
            missing_step = step
    return render(request, "run.html", {
        "graph": _graph_body(run, rows),
        "title": run.name, "nav": "runs", "run": run, "steps": rows[:TABLE_MAX_STEPS], "step_count": len(rows),
        "view": chosen, "live": not run.status.is_finished, "stack_name": _stack_name(session, run.stack_id, project),
        "duration_s": dashboard.duration_s(run.started, run.ended), "panel": panel, "selected": step,
        "table_max": TABLE_MAX_STEPS, "missing_step": missing_step,
        # the Cancel button, for whoever may change runs (the API checks it again on the click)
        "can_cancel": principal.can("runs:update", project),
    })


@router.get("/runs/{run_id}/graph.json")
def run_graph(principal: CanReadRuns, session: ReadSession, project: PageProject, run_id: str) -> JSONResponse:
    """The DAG: ``steps`` with ``up`` (upstream invocation ids), status and start/end (epoch seconds)."""
    run = runs_service.get_run(session, run_id=parse_id(run_id, "run"), project=project)
    return _json(_graph_body(run, step_rows(session, run)))


def _graph_body(run: RunRead, rows: list[StepRow]) -> dict[str, Any]:
    """What the browser lays out; the run page also carries it inline, so the layout starts at once."""
    return {
        "run": _run_state(run),
        "steps": [
            {"id": r.invocation_id, "name": r.step_name, "up": r.upstream, "status": r.status,
             "start": _ts(r.started), "end": _ts(r.ended)}
            for r in rows
        ],
    }


@router.get("/runs/{run_id}/status.json")
def run_status(principal: CanReadRuns, session: ReadSession, project: PageProject, run_id: str) -> JSONResponse:
    """What changes while a run runs: its status and each started step's status and times."""
    run = runs_service.get_run(session, run_id=parse_id(run_id, "run"), project=project)
    briefs = dashboard.step_briefs(session, run_id=run.id)
    return _json({
        "run": _run_state(run),
        "steps": {b.invocation_id: [str(b.status), _ts(b.started), _ts(b.ended)] for b in briefs},
    })


@router.get("/runs/{run_id}/steps/{invocation_id}")
def step_page(request: Request, principal: CanReadRuns, session: ReadSession, project: PageProject, run_id: str,
              invocation_id: str, partial: bool = False) -> HTMLResponse:
    run = runs_service.get_run(session, run_id=parse_id(run_id, "run"), project=project)
    context = step_panel_context(session, run, invocation_id, project)
    if partial:
        return render(request, "_step_panel.html", {"panel": context, "run": run})
    return render(request, "step.html", {"title": f"{invocation_id} · {run.name}", "nav": "runs", "run": run,
                                         "panel": context})


def step_rows(session: Session, run: RunRead) -> list[StepRow]:
    """Every step of the spec, in its topological order, with the status of its step run if any."""
    spec = dashboard.snapshot_spec(session, snapshot_id=run.snapshot_id)
    briefs = {b.invocation_id: b for b in dashboard.step_briefs(session, run_id=run.id)}
    rows: list[StepRow] = []
    for s in spec.get("steps", [])[: dashboard.MAX_GRAPH_STEPS]:
        inv = s["invocation_id"]
        upstream = list(dict.fromkeys([*(i["step"] for i in s.get("inputs", {}).values()), *s.get("after", [])]))
        brief = briefs.pop(inv, None)
        rows.append(StepRow(inv, s.get("step_name", inv), upstream, str(brief.status) if brief else "pending",
                            brief.started if brief else None, brief.ended if brief else None))
    for brief in briefs.values():  # step runs the spec does not name (a spec written by another version)
        rows.append(StepRow(brief.invocation_id, brief.step_name, [], str(brief.status), brief.started, brief.ended))
    return rows


@dataclass(frozen=True)
class StepPanel:
    invocation_id: str
    spec: dict[str, Any]
    step: StepRunRead | None
    source: StepSource | None
    explanation: str | None
    original_run_id: uuid.UUID | None

    @property
    def duration_s(self) -> float | None:
        return dashboard.duration_s(self.step.started, self.step.ended) if self.step else None


def step_panel_context(session: Session, run: RunRead, invocation_id: str, project: str) -> StepPanel:
    """``run`` was read in ``project``; its step runs are read there too."""
    spec = dashboard.snapshot_spec(session, snapshot_id=run.snapshot_id)
    spec_step = next((s for s in spec.get("steps", []) if s.get("invocation_id") == invocation_id), None)
    sid = dashboard.step_run_id(session, run_id=run.id, invocation_id=invocation_id)
    if spec_step is None and sid is None:
        raise NotFound(f"Run {run.name!r} has no step {invocation_id!r}.", hint="Pick a step in the run's graph.")
    step = steps_service.get_step_run(session, step_run_id=sid, project=project) if sid else None
    source = step_source(spec_step) if spec_step else None
    original_run = None
    if step is not None and step.original_step_run_id is not None:
        try:
            original_run = steps_service.get_step_run(session, step_run_id=step.original_step_run_id,
                                                      project=project).run_id
        except NotFound:
            original_run = None
    explanation = step.cache_parts.get("explanation") if step is not None else None
    return StepPanel(invocation_id, spec_step or {}, step, source, explanation, original_run)


def _stack_name(session: Session, stack_id: uuid.UUID | None, project: str) -> str | None:
    if stack_id is None:
        return None
    try:
        return stacks_service.stack_row(session, str(stack_id), project).name
    except NotFound:
        return None


def _run_state(run: RunRead) -> dict[str, Any]:
    return {"id": str(run.id), "status": str(run.status), "active": not run.status.is_finished,
            "start": _ts(run.started), "end": _ts(run.ended), "now": datetime.now(UTC).timestamp()}


def _ts(value: datetime | None) -> float | None:
    return round(value.timestamp(), 3) if value else None


def _json(body: dict[str, Any]) -> JSONResponse:
    return JSONResponse(body, headers={"Cache-Control": "no-store"})
