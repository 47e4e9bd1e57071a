"""The dashboard in a real browser: Debian's Chromium, headless, driven by playwright.

A uvicorn server in a thread serves ``create_app`` over the SQLite workspace the pipelines filled; the
browser may reach nothing but that loopback server (every other request is aborted and fails the test).
Screenshots land in ``test-output/dashboard/`` (gitignored). A missing Chromium fails these tests: it is
installed with ``apt-get install -y chromium`` (the Makefile does it), never downloaded by playwright.
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import httpx
import pytest
from dashboard_pipelines import LOG_LINE
from dashboard_workspace import Served

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-output" / "dashboard"
#: Console errors the dashboard causes on purpose: the sandbox refusing the hostile HTML artifact's script.
EXPECTED_CONSOLE = ("because the document's frame is sandboxed",)


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    """Named apart from pytest-playwright's ``browser`` fixture, which would try to download its own."""
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: install it with `apt-get install -y chromium chromium-driver` "
                    "(`make browser`); the browser tests never download one.")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        yield instance
        instance.close()


class Tab:
    """One page with loopback-only networking, console errors recorded, and screenshots by name."""

    def __init__(self, browser: Any, served: Served, *, phone: bool = False) -> None:
        viewport = {"width": 390, "height": 844} if phone else {"width": 1366, "height": 900}
        self.context = browser.new_context(viewport=viewport, is_mobile=phone, has_touch=phone)
        self.blocked: list[str] = []
        self.errors: list[str] = []
        self.context.route("**/*", self._only_loopback)
        self.page = self.context.new_page()
        self.page.set_default_timeout(10_000)
        self.page.on("pageerror", lambda exc: self.errors.append(f"pageerror: {exc}"))
        self.page.on("console", self._console)
        self.base = served.url

    def _only_loopback(self, route: Any) -> None:
        host = urlparse(route.request.url).hostname
        if route.request.url.startswith(("data:", "blob:", "about:")) or host in ("127.0.0.1", "localhost"):
            route.continue_()
        else:
            self.blocked.append(route.request.url)
            route.abort()

    def _console(self, message: Any) -> None:
        if message.type == "error" and not any(s in message.text for s in EXPECTED_CONSOLE):
            self.errors.append(f"console: {message.text}")

    def goto(self, path: str) -> Any:
        response = self.page.goto(self.base + path)
        assert response is not None and response.status == 200, path
        return self.page

    def shot(self, name: str, *, full: bool = True) -> None:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=full)

    def close(self) -> None:
        self.context.close()
        assert self.blocked == [], f"requests left loopback: {self.blocked}"
        assert self.errors == [], self.errors


@pytest.fixture
def tab(chromium: Any, served: Served) -> Iterator[Tab]:
    opened = Tab(chromium, served)
    yield opened
    opened.close()


def test_main_path_runs_to_run_to_step_to_artifact_to_lineage(tab: Tab, served: Served) -> None:
    page = tab.goto("/runs")
    assert page.locator(f'tr[data-run-id="{served.ws.second}"]').is_visible()
    tab.shot("runs")
    page.locator(f'tr[data-run-id="{served.ws.second}"] td a').first.click()
    page.wait_for_selector("#run-graph[data-drawn='dag'] .node")
    names = page.locator("#run-graph .node").evaluate_all(
        "nodes => nodes.map(n => n.querySelector('text').textContent)")
    assert sorted(names) == ["draw_chart", "evaluate", "featurize", "load_table", "write_report"]
    assert "s-cached" in (page.locator('[data-node="load_table"]').get_attribute("class") or "")
    tab.shot("run-dag", full=False)

    page.locator('#run-graph [data-node="featurize"]').click()
    page.wait_for_selector("#step-title:text('featurize')")
    assert "step=featurize" in page.url
    panel = page.locator("#step-panel")
    assert "cache miss: parameter 'scale' changed (1.0 -> 2.0)" in panel.inner_text()
    assert "def featurize" in panel.locator("pre.source").inner_text()
    logs = panel.locator(".logs-lines")
    logs.locator("text=scaling features by 2.0").wait_for()
    panel.locator(".logs-search").fill("SCALING")
    assert panel.locator(".logs-lines mark").first.inner_text() == "scaling"
    tab.shot("run-step")

    panel.locator('a[data-output="features"]').click()
    page.wait_for_selector("#lineage-graph .node")
    assert "6 \u00d7 2" in page.locator(".card").first.inner_text()
    lineage = page.locator("#lineage-graph").inner_text()
    assert "featurize" in lineage and "evaluate" in lineage and "features v2" in lineage
    tab.shot("artifact-features")
    page.locator('#lineage-graph .node.k-step:has-text("evaluate")').click()
    page.wait_for_url(re.compile(r"/runs/[0-9a-f-]+\?step=evaluate"))
    page.wait_for_selector("#step-title:text('evaluate')")


def test_dataframe_preview_and_a_step_log_line(tab: Tab, served: Served) -> None:
    page = tab.goto(f"/runs/{served.ws.first}?step=load_table")
    page.locator(f".logs-lines >> text={LOG_LINE}").wait_for()
    assert "two stations reported late" in page.locator(".logs-lines").inner_text()
    page.locator('a[data-output="table"]').click()
    header = page.locator(".preview-table thead").inner_text()
    assert all(column in header for column in ("city", "temperature", "rain_mm"))
    assert "Oslo" in page.locator(".preview-table tbody").inner_text()
    tab.shot("artifact-table")


def test_the_project_switcher_moves_every_page_to_that_project(tab: Tab, served: Served) -> None:
    page = tab.goto("/runs")
    switch = page.locator("form.project-switch input[name=project]")
    assert switch.input_value() == "default" and page.locator(f'tr[data-run-id="{served.ws.first}"]').count() == 1
    switch.fill("p9")
    page.locator("form.project-switch button").click()
    page.wait_for_url(re.compile(r"/runs\?project=p9$"))
    assert page.locator("tr[data-run-id]").count() == 0  # p9 holds no run
    tab.shot("project-switch", full=False)
    page.locator('#nav a[href="/pipelines"]').click()  # a plain link: the cookie keeps p9
    page.wait_for_url(re.compile(r"/pipelines$"))
    assert page.locator("form.project-switch input[name=project]").input_value() == "p9"
    assert "weather" not in page.locator("main").inner_text()
    response = page.goto(f"{served.url}/runs/{served.ws.first}")
    assert response is not None and response.status == 404  # default's run, asked for in p9
    tab.errors = [e for e in tab.errors if "status of 404" not in e]  # the browser logs that 404: expected
    tab.goto("/runs?project=default")
    assert page.locator(f'tr[data-run-id="{served.ws.first}"]').count() == 1

    # two tabs: this one stays on a run of default while the other switches to p9; its feeds (the step
    # panel's fetch) name the page's project, so they keep working and do not move the other tab's cookie
    tab.goto(f"/runs/{served.ws.first}")
    other = tab.context.new_page()
    other.goto(f"{served.url}/runs?project=p9")
    page.locator('#run-graph [data-node="load_table"]').click()
    page.wait_for_selector("#step-title:text('load_table')")
    page.locator(f".logs-lines >> text={LOG_LINE}").wait_for()  # the API's logs, in the page's project
    other.goto(f"{served.url}/runs")
    assert other.locator("form.project-switch input[name=project]").input_value() == "p9"
    other.close()


def test_timeline_and_table_views(tab: Tab, served: Served) -> None:
    page = tab.goto(f"/runs/{served.ws.failed}")
    page.locator('.tabs [data-view="timeline"]').click()
    page.wait_for_selector("#run-graph[data-drawn='timeline']")
    assert page.locator(".timeline-row").count() == 3
    page.locator('.timeline-row[data-node="explode"]').click()
    page.wait_for_selector("#step-title:text('explode')")
    assert "boom: the sensor feed is corrupt" in page.locator("#step-panel").inner_text()
    assert "view=timeline" in page.url
    tab.shot("run-timeline", full=False)
    page.locator('.tabs [data-view="table"]').click()
    assert page.locator("#step-table").is_visible() and page.locator(".steps-table tbody tr").count() == 3


def test_compare_page_highlights_differences(tab: Tab, served: Served) -> None:
    page = tab.goto("/runs?pipeline=weather")
    for run_id in (served.ws.first, served.ws.second):
        page.locator(f'input[type="checkbox"][value="{run_id}"]').check()
    page.locator("#compare-form button").click()
    page.wait_for_url(re.compile(r"/compare\?runs="))
    scale = page.locator('tr.diff:has(th:text-is("scale"))')
    assert scale.is_visible()
    background = scale.locator("td").first.evaluate("cell => getComputedStyle(cell).backgroundColor")
    assert background == "rgb(255, 244, 204)"  # the highlight colour
    assert page.locator('tr.same:has(th:text-is("load_table → table"))').is_visible()
    tab.shot("compare")


def test_html_artifact_stays_in_its_sandbox(tab: Tab, served: Served) -> None:
    version = httpx.get(f"{served.url}/api/v1/artifact-versions/report_html").json()
    page = tab.goto(f"/artifact-versions/{version['id']}")
    frame = page.frame_locator("iframe.preview-frame")
    assert frame.locator("h1").inner_text() == "Weather"
    assert page.title() == "report_html v1 · Runyard"  # its script did not run
    markdown = httpx.get(f"{served.url}/api/v1/artifact-versions/report_md").json()
    tab.goto(f"/artifact-versions/{markdown['id']}")
    assert page.frame_locator("iframe.preview-frame").locator("strong").inner_text() == "warmest"


def test_phone_layout(chromium: Any, served: Served) -> None:
    phone = Tab(chromium, served, phone=True)
    try:
        page = phone.goto("/")
        assert not page.locator("#nav").is_visible()
        page.locator(".nav-toggle").click()
        assert page.locator("#nav a:text('Runs')").is_visible()
        phone.shot("phone-overview")
        page = phone.goto(f"/runs/{served.ws.second}?step=featurize")
        page.wait_for_selector("#run-graph[data-drawn='dag'] .node")
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, "the page scrolls sideways on a phone"
        phone.shot("phone-run")
    finally:
        phone.close()


def test_live_updates_while_a_run_runs(tab: Tab, served: Served) -> None:
    """A run driven through the API: the DAG recolours, the step's log tails, the lists follow."""
    from runyard.logs.backends.artifact_store import ArtifactStoreLogBackend
    from runyard.logs.records import encode_batch
    from runyard.schemas import ComponentRead
    from runyard.stack.resolve import artifact_store_from

    api = httpx.Client(base_url=served.url + "/api/v1")
    name = f"live_{uuid.uuid4().hex[:6]}"
    pipeline = api.post("/pipelines", json={"name": name}).json()
    stack = api.get("/stacks/default").json()
    spec = {"name": name, "parameters": {}, "steps": [
        {"invocation_id": inv, "step_name": inv, "source": f"m:{inv}", "source_hash": "h", "parameters": {},
         "inputs": {}, "after": after, "outputs": []} for inv, after in (("first", []), ("second", ["first"]))
    ]}
    snapshot = api.post("/snapshots", json={"pipeline_id": pipeline["id"], "stack_id": stack["id"], "spec": spec,
                                            "spec_hash": name}).json()
    run = api.post("/runs", json={"snapshot_id": snapshot["id"], "status": "running"}).json()
    try:
        step = api.post("/steps", json={"run_id": run["id"], "invocation_id": "first", "step_name": "first"}).json()
        store = artifact_store_from(ComponentRead.model_validate(stack["components"]["artifact_store"]))
        log = ArtifactStoreLogBackend(store).open_writer(uuid.UUID(run["id"]), step["id"])
        log.append(encode_batch(time.time(), "stdout", ["epoch 1: loss 0.9"]), 1)
        log.flush()

        page = tab.goto(f"/runs/{run['id']}?step=first")
        page.wait_for_selector('[data-node="first"].s-running')
        assert "s-pending" in (page.locator('[data-node="second"]').get_attribute("class") or "")
        page.locator(".logs-lines >> text=epoch 1: loss 0.9").wait_for()
        log.append(encode_batch(time.time(), "stdout", ["epoch 2: loss 0.4"]), 1)
        log.flush()
        page.locator(".logs-lines >> text=epoch 2: loss 0.4").wait_for()  # tailed, no reload
        log.close()

        api.patch(f"/steps/{step['id']}", json={"status": "completed"})
        api.post("/steps", json={"run_id": run["id"], "invocation_id": "second", "step_name": "second"})
        page.wait_for_selector('[data-node="first"].s-completed')
        page.wait_for_selector('[data-node="second"].s-running')
        page.wait_for_selector('#step-panel [data-status="completed"]')  # the open panel reloaded
        listing = tab.context.new_page()
        listing.goto(f"{served.url}/runs?pipeline={name}")
        assert listing.locator(".run-status [data-status]").inner_text() == "running"
        api.patch(f"/runs/{run['id']}", json={"status": "failed", "error": "stopped by the test"})
        page.wait_for_selector('#run-status [data-status="failed"]')
        listing.wait_for_selector('.run-status [data-status="failed"]')
    finally:
        api.delete(f"/pipelines/{name}")  # runs, snapshots and steps go with it: the shared workspace is as before
        api.close()


_CANCELLABLE_JOB = '''
import sys, time
from pathlib import Path
from typing import Annotated
from runyard import pipeline, step

FLAG = Path(sys.argv[2])

@step(enable_cache=False)
def prepare() -> Annotated[int, "prepared"]:
    return 1

@step(enable_cache=False)
def slow(x: int) -> Annotated[int, "slowed"]:
    deadline = time.time() + 60
    while not FLAG.exists() and time.time() < deadline:
        time.sleep(0.05)
    return x + 1

@step(enable_cache=False)
def publish(x: int) -> Annotated[int, "published"]:
    return x * 2

@pipeline(name=sys.argv[1])
def job() -> None:
    publish(slow(prepare()))

print("STATUS", job().status, flush=True)
'''


def test_cancel_button_stops_a_running_run(tab: Tab, served: Served, tmp_path: Path) -> None:
    """A real pipeline runs in another process against the server; the run page's Cancel button (after
    the confirmation) stops it: the running step finishes, the next never starts, the run ends cancelled."""
    import os
    import subprocess
    import sys

    name = f"cancel_{uuid.uuid4().hex[:6]}"
    flag = tmp_path / "go"
    script = tmp_path / "job.py"
    script.write_text(_CANCELLABLE_JOB)
    env = {**os.environ, "RUNYARD_URL": served.url, "RUNYARD_HOME": str(tmp_path / "client-home")}
    env.pop("RUNYARD_DATABASE_URL", None)
    child = subprocess.Popen([sys.executable, str(script), name, str(flag)], env=env, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
    api = httpx.Client(base_url=served.url + "/api/v1")
    try:
        deadline = time.monotonic() + 60
        run_id = None
        while run_id is None and time.monotonic() < deadline and child.poll() is None:
            runs = api.get("/runs", params={"pipeline": name}).json()["items"] if api.get(
                f"/pipelines/{name}").status_code == 200 else []
            steps = api.get("/steps", params={"run_id": runs[0]["id"]}).json()["items"] if runs else []
            if any(s["invocation_id"] == "slow" and s["status"] == "running" for s in steps):
                run_id = runs[0]["id"]
            time.sleep(0.1)
        assert run_id is not None, child.communicate(timeout=5)

        page = tab.goto(f"/runs/{run_id}")
        page.wait_for_selector('[data-node="slow"].s-running')
        asked: list[str] = []
        page.once("dialog", lambda dialog: (asked.append(dialog.message), dialog.accept()))
        page.locator("#cancel-run").click()
        page.wait_for_selector('#run-status [data-status="cancelling"]')
        assert asked and "Cancel run" in asked[0]
        assert page.locator("#cancel-run").is_disabled()
        tab.shot("run-cancelling", full=False)
        assert api.get(f"/runs/{run_id}").json()["status"] == "cancelling"

        flag.touch()  # the running step finishes; the runner is refused the next one
        page.wait_for_selector('#run-status [data-status="cancelled"]', timeout=30_000)
        page.wait_for_selector('[data-node="publish"].s-cancelled')
        assert "s-completed" in (page.locator('[data-node="slow"]').get_attribute("class") or "")
        assert page.locator("#cancel-run").is_hidden()
        out, err = child.communicate(timeout=30)
        assert "STATUS cancelled" in out, err
        # a second click elsewhere (e.g. a stale tab) is a 409 that says why
        again = api.post(f"/runs/{run_id}/cancel")
        assert again.status_code == 409 and "already been cancelled" in again.json()["message"]
    finally:
        if child.poll() is None:
            child.kill()
        api.delete(f"/pipelines/{name}")
        api.close()


def test_a_big_dag_draws_what_is_in_view_and_keeps_its_layout(tab: Tab, served: Served) -> None:
    """400 steps: only the boxes near the viewport are in the DOM, scrolling brings the others, a click
    still opens a step, and the second visit reuses the layout this browser kept (no worker layout)."""
    api = httpx.Client(base_url=served.url + "/api/v1")
    name = f"big_{uuid.uuid4().hex[:6]}"
    pipeline = api.post("/pipelines", json={"name": name}).json()
    stack = api.get("/stacks/default").json()
    steps = []
    for i in range(400):
        layer = i // 20
        base = (layer - 1) * 20
        ups = sorted({f"s{base + (i * 7) % 20}", f"s{base + (i * 3 + 1) % 20}"}) if layer else []
        steps.append({"invocation_id": f"s{i}", "step_name": "s", "source": "m:s", "source_hash": "h", "parameters": {},
                      "inputs": {f"in{j}": {"step": u, "output": "out"} for j, u in enumerate(ups)}, "after": [],
                      "outputs": [{"name": "out", "type_name": "builtins.int"}]})
    snapshot = api.post("/snapshots", json={"pipeline_id": pipeline["id"], "stack_id": stack["id"], "spec_hash": name,
                                            "spec": {"name": name, "parameters": {}, "steps": steps}}).json()
    run = api.post("/runs", json={"snapshot_id": snapshot["id"], "status": "completed"}).json()
    try:
        page = tab.goto(f"/runs/{run['id']}?view=dag")
        page.wait_for_selector("#run-graph[data-drawn='dag'] .node")
        in_dom = page.locator("#run-graph .node").count()
        assert 0 < in_dom < 400
        assert float(page.get_attribute("#run-graph", "data-worker-ms") or 0) > 0  # laid out by dagre
        first = set(page.locator("#run-graph .node").evaluate_all("ns => ns.map(n => n.dataset.node)"))
        page.evaluate("const g = document.getElementById('run-graph'); g.scrollTop = g.scrollHeight; "
                      "g.scrollLeft = g.scrollWidth")
        page.wait_for_function("(first) => [...document.querySelectorAll('#run-graph .node')]"
                               ".some(n => !first.includes(n.dataset.node))", arg=list(first))
        node = page.locator("#run-graph .node").last
        picked = node.get_attribute("data-node")
        node.click()
        page.wait_for_selector(f"#step-title:text('{picked}')")

        again = tab.goto(f"/runs/{run['id']}?view=dag")
        again.wait_for_selector("#run-graph[data-drawn='dag'] .node")
        assert again.get_attribute("#run-graph", "data-worker-ms") == "0"  # the kept layout, no worker
    finally:
        api.delete(f"/pipelines/{name}")
        api.close()
