"""Dashboard at scale: the runs page's server time over many runs, and a 2,000-step DAG in a browser.

    .venv/bin/python benchmarks/dashboard_bench.py                          # SQLite, 100,000 runs
    .venv/bin/python benchmarks/dashboard_bench.py --database postgresql --runs 1000000
    .venv/bin/python benchmarks/dashboard_bench.py --no-browser --requests 100

Seeds a fresh workspace (a temporary SQLite file, or a PostgreSQL database created on 127.0.0.1:5432 and
dropped at the end): pipelines and snapshots through the service layer, then runs, tags and the steps of
one 2,000-step run as multi-row Core INSERTs into the same tables (``workspace/db/tables.py``), in
batches, so a million rows take two minutes rather than an hour of per-run transactions; then ANALYZE.

Then it times, in process with FastAPI's TestClient, each dashboard page a person opens on such a
workspace (p50 / p95 over ``--requests`` requests, after a warm-up), and, in headless Chromium against
uvicorn, how long the 2,000-step run page takes until its DAG is drawn and scrollable, and the longest
main-thread stall meanwhile (the layout runs in a Web Worker, so the page should stay responsive). Times
are the page's own clock (``performance.now()``, from navigation start) at the first frame after drawing;
the driver's view (playwright polling through this loaded Python process) comes later and is printed too.
Cases:
``--loads`` loads each of the first view (a fresh browser profile per load), the timeline view, and the
repeat view (a profile that has seen the run, so the layout kept in its localStorage is reused).
"""

from __future__ import annotations

import argparse
import os
import random
import secrets
import shutil
import statistics
import sys
import tempfile
import threading
import time
import uuid
import warnings
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

PG_ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
VIEWPORT = {"width": 1366, "height": 900}
BATCH = 10_000
PIPELINES = 20


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--runs", type=int, default=100_000)
    parser.add_argument("--steps", type=int, default=2_000, help="steps of the big run drawn in the browser")
    parser.add_argument("--requests", type=int, default=40, help="timed requests per page")
    parser.add_argument("--loads", type=int, default=5, help="browser loads per case")
    parser.add_argument("--no-browser", action="store_true")
    parser.add_argument("--keep", action="store_true", help="keep the seeded database (prints its URL)")
    args = parser.parse_args()

    home = Path(tempfile.mkdtemp(prefix="runyard-dash-bench-"))
    os.environ["RUNYARD_HOME"] = str(home)
    url, drop = _database(args.database, home)
    try:
        print(f"Seeding {args.runs:,} runs and a {args.steps:,}-step run on {args.database} ...", flush=True)
        started = time.perf_counter()
        seeded = seed(url, runs=args.runs, steps=args.steps)
        print(f"  seeded in {time.perf_counter() - started:.1f} s", flush=True)
        server_times(url, seeded, requests=args.requests)
        if not args.no_browser:
            browser_times(url, seeded, loads=args.loads)
    finally:
        from runyard.workspace.db import engine

        engine.reset_databases()
        if args.keep:
            print(f"\nKept: RUNYARD_HOME={home} database {url}")
        else:
            drop()
            shutil.rmtree(home, ignore_errors=True)
    return 0


def _database(kind: str, home: Path) -> tuple[str, Any]:
    if kind == "sqlite":
        return f"sqlite:///{home / 'workspace.db'}", lambda: None
    import sqlalchemy

    name = f"runyard_dash_bench_{secrets.token_hex(4)}"
    admin = sqlalchemy.create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f"CREATE DATABASE {name}")

    def drop() -> None:
        with admin.connect() as conn:
            conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        admin.dispose()

    return PG_ADMIN.rsplit("/", 1)[0] + "/" + name, drop


# --- seeding ------------------------------------------------------------------------------------------
def seed(url: str, *, runs: int, steps: int) -> dict[str, Any]:
    from sqlalchemy import insert, text

    from runyard.schemas import PipelineCreate, RunCreate, SnapshotCreate
    from runyard.schemas.status import RunStatus
    from runyard.workspace.db import tables as t
    from runyard.workspace.db.engine import get_database
    from runyard.workspace.db.models import RunTagRow
    from runyard.workspace.services import pipelines, stacks
    from runyard.workspace.services import runs as runs_service

    db = get_database(url)
    rng = random.Random(7)
    now = datetime.now(UTC)
    with db.session(write=True) as session:
        stack_id = stacks.ensure_default_stack(session).id
        snapshots = []
        for i in range(PIPELINES):
            pid = pipelines.get_or_create_pipeline(session, pipeline=PipelineCreate(name=f"pipeline_{i:02d}")).id
            spec = {"name": f"pipeline_{i:02d}", "parameters": {"lr": 0.1}, "steps": [_spec_step("train", [])]}
            snap = pipelines.create_snapshot(session, snapshot=SnapshotCreate(
                pipeline_id=pid, stack_id=stack_id, spec=spec, spec_hash=f"h{i}"))
            snapshots.append((pid, snap.id))
    done = 0
    while done < runs:
        rows, tags = [], []
        for _ in range(min(BATCH, runs - done)):
            pid, sid = snapshots[rng.randrange(PIPELINES)]
            created = now - timedelta(seconds=(runs - done) * 30 + rng.random())
            status = rng.choices(("completed", "failed", "cancelled"), (90, 8, 2))[0]
            run_id = uuid.uuid4()
            rows.append({"id": run_id, "name": f"run-{done:08d}", "pipeline_id": pid, "snapshot_id": sid,
                         "stack_id": stack_id, "status": status, "parameters": {"lr": rng.choice((0.1, 0.01))},
                         "error": "Step(s) failed: train" if status == "failed" else None, "orchestrator_run_id": None,
                         "created": created, "updated": created, "started": created,
                         "ended": created + timedelta(seconds=rng.uniform(5, 600)), "heartbeat_at": created,
                         "metadata_json": {"accuracy": round(rng.uniform(0.7, 0.95), 3)}})
            if done % 10 == 0:
                tags.append({"run_id": run_id, "tag": "nightly"})
            done += 1
        with db.session(write=True) as session:
            session.execute(insert(t.runs), rows)
            if tags:
                session.execute(insert(RunTagRow.__table__), tags)
    # a few running now, and the big run
    with db.session(write=True) as session:
        for _pid, sid in snapshots[:3]:
            runs_service.create_run(session, run=RunCreate(snapshot_id=sid, status=RunStatus.RUNNING))
        big_pid = pipelines.get_or_create_pipeline(session, pipeline=PipelineCreate(name="big_dag")).id
        spec_steps = _big_spec(steps)
        snap = pipelines.create_snapshot(session, snapshot=SnapshotCreate(
            pipeline_id=big_pid, stack_id=stack_id, spec={"name": "big_dag", "parameters": {}, "steps": spec_steps},
            spec_hash="big"))
        big = runs_service.create_run(session, run=RunCreate(snapshot_id=snap.id, status=RunStatus.RUNNING))
        start = now - timedelta(minutes=30)
        step_rows = []
        for i, s in enumerate(spec_steps):
            began = start + timedelta(seconds=(i // 50) * 40 + rng.uniform(0, 10))
            step_rows.append({
                "id": uuid.uuid4(), "run_id": big.id, "pipeline_id": big_pid, "invocation_id": s["invocation_id"],
                "step_name": s["step_name"], "status": "completed" if i < steps - 60 else "running",
                "parameters": {}, "source_hash": "h", "cache_key": None, "cache_parts": {},
                "original_step_run_id": None, "attempts": 1, "metadata_json": {}, "created": began, "started": began,
                "ended": began + timedelta(seconds=rng.uniform(3, 30)) if i < steps - 60 else None, "error": None,
                "traceback": None})
        session.execute(insert(t.step_runs), step_rows)
    # as autovacuum would soon after a real bulk load: without statistics the planner guesses that a
    # pipeline has ~800 runs rather than 50,000 and picks plans 500x slower than it would in production
    with db.session(write=True) as session:
        session.execute(text("ANALYZE"))  # both databases accept it inside a transaction
    return {"big_run": big.id, "pipeline": "pipeline_03", "steps": steps}


def _spec_step(inv: str, upstream: list[str]) -> dict[str, Any]:
    return {"invocation_id": inv, "step_name": inv.rsplit("_", 1)[0], "source": f"bench:{inv}", "source_hash": "h",
            "parameters": {}, "inputs": {f"in{j}": {"step": u, "output": "out"} for j, u in enumerate(upstream)},
            "after": [], "outputs": [{"name": "out", "type_name": "builtins.int"}]}


def _big_spec(steps: int) -> list[dict[str, Any]]:
    """Layers of 50 steps; each step reads two outputs of the layer before (a realistic fan-in/fan-out)."""
    out = []
    for i in range(steps):
        layer = i // 50
        ups = [] if layer == 0 else sorted({f"step_{(layer - 1) * 50 + (i * 7) % 50}",
                                            f"step_{(layer - 1) * 50 + (i * 13 + 3) % 50}"})
        out.append(_spec_step(f"step_{i}", ups))
    return out


# --- server-side timings ------------------------------------------------------------------------------
def server_times(url: str, seeded: dict[str, Any], *, requests: int) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from fastapi.testclient import TestClient

    from runyard.workspace.app import create_app

    client = TestClient(create_app(url))
    first = client.get("/runs?limit=50").text
    cursor = _next_cursor(first)
    deep = "/runs?limit=50"
    for _ in range(20):  # twenty pages in: keyset pagination costs the same as page one
        page = client.get(deep).text
        deep = _next_link(page) or deep
    big = seeded["big_run"]
    pages = {
        "runs, first page": "/runs",
        "runs, page 2 (cursor)": f"/runs?cursor={cursor}",
        "runs, page 21 (cursor)": deep,
        "runs, one pipeline": f"/runs?pipeline={seeded['pipeline']}",
        "runs, status=failed": "/runs?status=failed",
        "runs, tag=nightly": "/runs?tag=nightly",
        "runs, last 7 days": f"/runs?since={(datetime.now(UTC) - timedelta(days=7)).date()}",
        "overview": "/",
        "pipeline detail": f"/pipelines/{seeded['pipeline']}",
        "run page (2,000 steps)": f"/runs/{big}",
        "run graph.json (2,000 steps)": f"/runs/{big}/graph.json",
        "run status.json (2,000 steps)": f"/runs/{big}/status.json",
    }
    print(f"\nServer time per page (TestClient, in process; {requests} requests each after 3 warm-ups)")
    print(f"  {'page':<34} {'p50':>9} {'p95':>9} {'max':>9}")
    for label, path in pages.items():
        for _ in range(3):
            assert client.get(path).status_code == 200, path
        times = []
        for _ in range(requests):
            began = time.perf_counter()
            response = client.get(path)
            times.append((time.perf_counter() - began) * 1000)
            assert response.status_code == 200, (path, response.status_code)
        times.sort()
        p95 = times[min(len(times) - 1, int(len(times) * 0.95))]
        print(f"  {label:<34} {statistics.median(times):7.1f}ms {p95:7.1f}ms {times[-1]:7.1f}ms", flush=True)


def _next_link(page: str) -> str | None:
    import html
    import re

    found = re.search(r'href="(/runs\?[^"]*cursor=[^"]*)" rel="next"', page)
    return html.unescape(found.group(1)) if found else None


def _next_cursor(page: str) -> str:
    link = _next_link(page) or ""
    return link.split("cursor=", 1)[-1].split("&", 1)[0]


# --- browser ------------------------------------------------------------------------------------------
def browser_times(url: str, seeded: dict[str, Any], *, loads: int) -> None:
    import socket

    import uvicorn
    from playwright.sync_api import sync_playwright

    from runyard.workspace.app import create_app

    if not Path(CHROMIUM).exists():
        print(f"\n{CHROMIUM} is missing (apt-get install -y chromium); skipping the browser figures.")
        return
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(create_app(url), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.02)
    base = f"http://127.0.0.1:{port}"
    print(f"\nHeadless Chromium, {seeded['steps']:,}-step run (uvicorn on loopback; {loads} loads each; "
          "median [min-max])")
    print(f"  load average before: {_loadavg()}")
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            page_url = f"{base}/runs/{seeded['big_run']}"
            cases = [
                # a fresh browser profile per load: nothing kept from an earlier visit
                ("dag, first view", "dag", lambda: _load(browser, f"{page_url}?view=dag", "dag")),
                ("timeline", "timeline", lambda: _load(browser, f"{page_url}?view=timeline", "timeline")),
            ]
            warm = browser.new_context(viewport=VIEWPORT)
            _load(warm, f"{page_url}?view=dag", "dag")  # this profile keeps the layout (localStorage)
            cases.append(("dag, repeat view", "dag", lambda: _load(warm, f"{page_url}?view=dag", "dag")))
            for label, _view, load in cases:
                results = [load() for _ in range(loads)]
                _print_loads(label, results)
            warm.close()
            browser.close()
        print(f"  load average after: {_loadavg()}")
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def _print_loads(label: str, results: list[dict[str, float]]) -> None:
    def fig(key: str) -> str:
        values = [r[key] for r in results]
        return f"{statistics.median(values):.0f} [{min(values):.0f}-{max(values):.0f}]"

    print(f"  {label:<17} drawn+scrollable after {fig('drawn_ms')} ms (seen by the driver at {fig('seen_ms')} ms); "
          f"HTML parsed at {fig('dom_ms')} ms; "
          f"layout+draw {fig('layout_ms')} ms (dagre in the worker {fig('worker_ms')} ms); "
          f"longest main-thread stall {fig('stall_ms')} ms; scrollable={all(r['scrollable'] for r in results)}; "
          f"nodes in the DOM {fig('nodes')}", flush=True)


def _loadavg() -> str:
    return " ".join(f"{v:.2f}" for v in os.getloadavg())


_STALL_PROBE = """
window.__stall = 0; let last = performance.now();
(function tick() { const now = performance.now(); window.__stall = Math.max(window.__stall, now - last);
  last = now; requestAnimationFrame(tick); })();
"""


def _load(browser_or_context: Any, url: str, view: str) -> dict[str, float]:
    """One load; ``browser.new_page`` opens it in a fresh profile (a new context), a context's in that one."""
    fresh = hasattr(browser_or_context, "new_context")
    page = browser_or_context.new_page(**({"viewport": VIEWPORT} if fresh else {}))
    page.add_init_script(_STALL_PROBE)
    page.goto(url, wait_until="domcontentloaded")
    page.wait_for_selector(f"#run-graph[data-drawn='{view}'][data-drawn-at]", timeout=120_000)
    seen = page.evaluate("performance.now()")  # includes the driver's polling: later than the page's own clock
    drawn = float(page.evaluate("Number(document.getElementById('run-graph').dataset.drawnAt)"))
    dom = page.evaluate("performance.getEntriesByType('navigation')[0].domContentLoadedEventEnd")
    scrollable = page.evaluate("""() => { const g = document.getElementById('run-graph');
        const before = g.scrollTop; g.scrollTop = before + 400; const moved = g.scrollTop !== before;
        return (g.scrollHeight > g.clientHeight || g.scrollWidth > g.clientWidth) && moved ? 1 : 0; }""")
    page.wait_for_timeout(300)
    result = {
        "drawn_ms": drawn, "seen_ms": seen, "dom_ms": dom, "scrollable": scrollable,
        "layout_ms": float(page.evaluate("Number(document.getElementById('run-graph').dataset.layoutMs || 0)")),
        "stall_ms": page.evaluate("window.__stall"),
        "worker_ms": float(page.evaluate("Number(document.getElementById('run-graph').dataset.workerMs || 0)")),
        "nodes": page.evaluate("document.querySelectorAll('#run-graph .node, #run-graph .timeline-row').length"),
    }
    page.close()
    return result


if __name__ == "__main__":
    sys.exit(main())
