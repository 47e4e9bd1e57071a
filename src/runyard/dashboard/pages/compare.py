"""``/compare?runs=id1,id2,...``: runs side by side, every row whose values differ highlighted.

Rows: the run's facts, its parameters, its metrics (run metadata logged with ``log_metadata``), then per
step its status, duration, code hash (the step's source hash) and each output's content hash. Equal
content hashes mean byte-identical outputs, so a glance says which steps really produced something new.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Query, Request
from sqlalchemy.orm import Session
from starlette.responses import HTMLResponse

from runyard.dashboard.web import CanReadRuns, PageProject, duration, number, page_router, parse_id, render
from runyard.exceptions import InvalidInput
from runyard.schemas.runs import RunRead
from runyard.workspace.api.deps import ReadSession
from runyard.workspace.services import dashboard
from runyard.workspace.services import runs as runs_service

router = page_router()

MAX_RUNS = 10


@dataclass(frozen=True)
class Row:
    label: str
    values: list[str]
    section: str
    href: list[str] | None = None

    @property
    def differs(self) -> bool:
        return len(set(self.values)) > 1


@router.get("/compare")
def compare(request: Request, principal: CanReadRuns, session: ReadSession, project: PageProject,
            runs: Annotated[list[str] | None, Query(max_length=MAX_RUNS * 40)] = None) -> HTMLResponse:
    """``runs`` may be repeated (the runs page's checkboxes) or comma-separated (a hand-written URL)."""
    ids = list(dict.fromkeys(i.strip() for value in runs or [] for i in value.split(",") if i.strip()))
    if len(ids) > MAX_RUNS:
        raise InvalidInput(f"At most {MAX_RUNS} runs can be compared at once.", hint="Pick fewer runs.")
    chosen = [runs_service.get_run(session, run_id=parse_id(i, "run"), project=project) for i in ids]
    rows = comparison_rows(session, chosen) if len(chosen) >= 2 else []
    return render(request, "compare.html", {
        "title": "Compare runs", "nav": "runs", "runs": chosen, "rows": rows,
        "only_diff": request.query_params.get("diff") == "1",
    })


def comparison_rows(session: Session, runs: list[RunRead]) -> list[Row]:
    steps = dashboard.steps_of_runs(session, run_ids=[r.id for r in runs])
    rows = [
        Row("pipeline", [r.pipeline_name for r in runs], "run"),
        Row("status", [str(r.status) for r in runs], "run"),
        Row("duration", [duration(dashboard.duration_s(r.started, r.ended)) for r in runs], "run"),
        Row("tags", [", ".join(r.tags) for r in runs], "run"),
    ]
    rows += _keyed("parameters", [r.parameters for r in runs])
    rows += _keyed("metrics", [r.metadata for r in runs])
    by_run = [{s.invocation_id: s for s in steps[r.id]} for r in runs]
    order = list(dict.fromkeys(inv for mapping in by_run for inv in mapping))
    for inv in order:
        found = [m.get(inv) for m in by_run]
        hrefs = [f"/runs/{r.id}?step={inv}" for r in runs]
        rows.append(Row(f"{inv}: status", [str(s.status) if s else "-" for s in found], "steps", hrefs))
        rows.append(Row(f"{inv}: duration", [duration(dashboard.duration_s(s.started, s.ended)) if s else "-"
                                             for s in found], "steps"))
        rows.append(Row(f"{inv}: code hash", [(s.source_hash or "-")[:12] if s else "-" for s in found], "steps"))
        outputs = list(dict.fromkeys(name for s in found if s for name in s.outputs))
        for name in outputs:
            versions = [s.outputs.get(name) if s else None for s in found]
            rows.append(Row(f"{inv} → {name}", [v.content_hash[:12] if v else "-" for v in versions], "outputs",
                            [f"/artifact-versions/{v.id}" if v else "" for v in versions]))
    return rows


def _keyed(section: str, mappings: list[dict[str, Any]]) -> list[Row]:
    keys = sorted({k for m in mappings for k in m})
    return [Row(k, [_show(m[k]) if k in m else "-" for m in mappings], section) for k in keys]


def _show(value: Any) -> str:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return number(value)
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True, default=str)
    return text if len(text) <= 120 else text[:120] + "…"
