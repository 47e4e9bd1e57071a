"""``/runs``: every run, filtered by pipeline, status, tag and date, one keyset page at a time.

The filters are plain query parameters (a filtered list is a URL to share), and paging follows the API's
``next_cursor``: no OFFSET, no total count, so the page costs the same on the millionth run. While a row
is unfinished, ``static/js/dashboard.js`` polls ``/runs/status.json`` for just those rows.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import Query, Request
from starlette.responses import HTMLResponse, JSONResponse

from runyard.dashboard.web import CanReadRuns, PageProject, duration, page_router, parse_id, render
from runyard.exceptions import InvalidInput
from runyard.schemas.pipelines import PipelineFilter
from runyard.schemas.runs import RunFilter
from runyard.schemas.status import RunStatus
from runyard.workspace.api.deps import ReadSession
from runyard.workspace.services import dashboard
from runyard.workspace.services import pipelines as pipelines_service
from runyard.workspace.services import runs as runs_service

router = page_router()

PAGE_SIZES = (25, 50, 100, 200)
MAX_PAGE = 200


@router.get("/runs")
def list_runs(
    request: Request,
    principal: CanReadRuns,
    session: ReadSession,
    project: PageProject,
    pipeline: str = "",
    status: str = "",
    tag: str = "",
    since: str = "",
    until: str = "",
    cursor: str = "",
    limit: int = 50,
) -> HTMLResponse:
    filters = {"pipeline": pipeline.strip(), "status": status, "tag": tag.strip(), "since": since, "until": until}
    run_filter = RunFilter(
        pipeline=filters["pipeline"] or None,
        status=_status(status),
        tag=filters["tag"] or None,
        created_after=_day(since, "since"),
        created_before=_day(until, "until", end=True),
        cursor=cursor or None,
        limit=min(max(limit, 1), MAX_PAGE),
    )
    page = runs_service.list_runs(session, filter=run_filter, project=project)
    active = {str(s) for s in dashboard.ACTIVE_RUN_STATUSES}
    kept = {k: v for k, v in {**filters, "limit": run_filter.limit}.items() if v and v != 50}
    return render(request, "runs.html", {
        "title": "Runs", "nav": "runs", "runs": page.items, "filters": filters, "limit": run_filter.limit,
        "statuses": [str(s) for s in RunStatus], "page_sizes": PAGE_SIZES,
        "pipelines": pipelines_service.list_pipelines(session, filter=PipelineFilter(limit=200), project=project).items,
        "next_url": f"/runs?{urlencode({**kept, 'cursor': page.next_cursor})}" if page.next_cursor else None,
        "first_url": f"/runs?{urlencode(kept)}" if cursor else None,
        "live": any(str(r.status) in active for r in page.items),
    })


@router.get("/runs/status.json")
def run_statuses(principal: CanReadRuns, session: ReadSession, project: PageProject,
                 ids: Annotated[str, Query(max_length=200 * 37)] = "") -> JSONResponse:
    """Status and duration of the listed runs (the runs page polls this while any is unfinished)."""
    run_ids = [parse_id(i, "run") for i in ids.split(",") if i][: dashboard.MAX_STATUS_IDS]
    found = dashboard.run_statuses(session, run_ids=run_ids, project=project)
    body: dict[str, Any] = {
        str(rid): {"status": str(status), "duration": duration(seconds), "active": not status.is_finished}
        for rid, (status, seconds) in found.items()
    }
    return JSONResponse({"runs": body}, headers={"Cache-Control": "no-store"})


def _status(value: str) -> RunStatus | None:
    if not value:
        return None
    try:
        return RunStatus(value)
    except ValueError:
        raise InvalidInput(f"There is no run status {value!r}.",
                           hint=f"Pick one of: {', '.join(s.value for s in RunStatus)}.") from None


def _day(value: str, what: str, *, end: bool = False) -> datetime | None:
    """A ``YYYY-MM-DD`` day (UTC) as the start of that day, or of the next one for an inclusive end."""
    if not value:
        return None
    try:
        day = date.fromisoformat(value)
    except ValueError:
        raise InvalidInput(f"{what.capitalize()} {value!r} is not a date.", hint="Use YYYY-MM-DD.") from None
    start = datetime(day.year, day.month, day.day, tzinfo=UTC)
    return start + timedelta(days=1) if end else start
