"""``/pipelines`` and ``/pipelines/{name}``: each pipeline's trend, run history, durations and parameters."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from typing import Any

from fastapi import Request
from starlette.responses import HTMLResponse

from runyard.dashboard.charts import duration_bars
from runyard.dashboard.pages.overview import pipeline_trends
from runyard.dashboard.web import CanReadPipelines, PageProject, page_router, render
from runyard.schemas.pipelines import PipelineFilter
from runyard.schemas.runs import RunFilter, RunRead
from runyard.workspace.api.deps import ReadSession
from runyard.workspace.services import dashboard
from runyard.workspace.services import pipelines as pipelines_service
from runyard.workspace.services import runs as runs_service

router = page_router()

PAGE_SIZE = 50
#: Runs the detail page summarizes (durations plot, parameter sets); the runs page has the rest.
HISTORY = 100


@dataclass(frozen=True)
class ParameterSet:
    parameters: dict[str, Any]
    runs: int
    last: RunRead


@router.get("/pipelines")
def list_pipelines(request: Request, principal: CanReadPipelines, session: ReadSession, project: PageProject,
                   cursor: str | None = None) -> HTMLResponse:
    page = pipelines_service.list_pipelines(session, filter=PipelineFilter(limit=PAGE_SIZE, cursor=cursor),
                                            project=project)
    return render(request, "pipelines.html", {
        "title": "Pipelines", "nav": "pipelines", "trends": pipeline_trends(session, page.items),
        "next_cursor": page.next_cursor, "cursor": cursor,
    })


@router.get("/pipelines/{name}")
def pipeline_detail(request: Request, principal: CanReadPipelines, session: ReadSession, project: PageProject,
                    name: str) -> HTMLResponse:
    pipeline = pipelines_service.get_pipeline(session, name_or_id=name, project=project)
    history = runs_service.list_runs(session, filter=RunFilter(pipeline_id=pipeline.id, limit=HISTORY),
                                     project=project).items
    oldest_first = list(reversed(history))
    bars = duration_bars([
        (dashboard.duration_s(r.started, r.ended), str(r.status), f"{r.name}: {r.status}", f"/runs/{r.id}")
        for r in oldest_first
    ])
    spec = dashboard.latest_spec(session, pipeline_id=pipeline.id)
    finished = [r for r in history if r.status.is_finished]
    return render(request, "pipeline.html", {
        "title": pipeline.name, "nav": "pipelines", "pipeline": pipeline, "runs": history[:25],
        "more_runs": len(history) > 25, "bars": bars, "parameter_sets": parameter_sets(history),
        "spec_steps": spec.get("steps", []), "spec_parameters": spec.get("parameters", {}),
        "success": (sum(r.status == "completed" for r in finished) / len(finished)) if finished else None,
        "history_size": len(history),
    })


def parameter_sets(runs: list[RunRead]) -> list[ParameterSet]:
    """Distinct parameter combinations among ``runs`` (newest first), most used first."""
    counts: Counter[str] = Counter()
    last: dict[str, RunRead] = {}
    for run in runs:
        key = json.dumps(run.parameters, sort_keys=True, default=str)
        counts[key] += 1
        last.setdefault(key, run)
    return [ParameterSet(last[k].parameters, n, last[k]) for k, n in counts.most_common()]
