"""``/``: the overview: what runs now, what failed lately, the newest runs, and each pipeline's trend."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import Request
from sqlalchemy.orm import Session
from starlette.responses import HTMLResponse

from runyard.dashboard.charts import Chart, sparkline
from runyard.dashboard.web import CanReadRuns, PageProject, page_router, render
from runyard.schemas.pipelines import PipelineFilter, PipelineRead
from runyard.schemas.runs import RunFilter
from runyard.schemas.status import RunStatus
from runyard.workspace.api.deps import ReadSession
from runyard.workspace.services import dashboard
from runyard.workspace.services import pipelines as pipelines_service
from runyard.workspace.services import runs as runs_service

router = page_router()

#: Pipelines on the overview; the pipelines page pages through the rest.
OVERVIEW_PIPELINES = 30
TREND_POINTS = 20


@router.get("/")
def overview(request: Request, principal: CanReadRuns, session: ReadSession, project: PageProject) -> HTMLResponse:
    recent = runs_service.list_runs(session, filter=RunFilter(limit=15), project=project).items
    active = dashboard.active_runs(session, project=project, limit=20)
    failures = dashboard.recent_failures(session, project=project, limit=8)
    pipes = pipelines_service.list_pipelines(session, filter=PipelineFilter(limit=OVERVIEW_PIPELINES),
                                             project=project).items
    trends = pipeline_trends(session, pipes)
    return render(request, "overview.html", {
        "title": "Overview", "nav": "overview", "recent": recent, "active": active, "failures": failures,
        "trends": trends,
    })


@dataclass(frozen=True)
class Trend:
    pipeline: PipelineRead
    points: list[dashboard.RunPoint]
    rate: float | None
    spark: Chart

    @property
    def last(self) -> dashboard.RunPoint | None:
        return self.points[-1] if self.points else None


def pipeline_trends(session: Session, pipes: list[PipelineRead], per_pipeline: int = TREND_POINTS) -> list[Trend]:
    """Per pipeline: its last runs, success rate and a sparkline of completed runs' durations; the most
    recently run first. One query for all pipelines (see ``recent_runs_per_pipeline``)."""
    points = dashboard.recent_runs_per_pipeline(session, pipeline_ids=[p.id for p in pipes], per_pipeline=per_pipeline)
    trends = []
    for p in pipes:
        mine = points[p.id]
        durations = [pt.duration_s if pt.status == RunStatus.COMPLETED else None for pt in mine]
        trends.append(Trend(p, mine, dashboard.success_rate(mine), sparkline(durations)))
    trends.sort(key=lambda t: t.last.created if t.last else t.pipeline.created, reverse=True)
    return trends
