"""Every dashboard page over a workspace filled by real runs, on SQLite and PostgreSQL.

Each test asks for a page the way a browser does and checks what a person would look for on it: the run
names, the step that failed and why, the cache decision, a DataFrame's columns, the lineage links.
"""

from __future__ import annotations

import html
import re
import uuid

from dashboard_pipelines import FAILURE, LOG_LINE
from dashboard_workspace import Filled
from fastapi.testclient import TestClient


def text_of(response_text: str) -> str:
    """The page as a person reads it: tags dropped, entities decoded, whitespace collapsed."""
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", response_text)))


def run_name(client: TestClient, run_id: uuid.UUID) -> str:
    return str(client.get(f"/api/v1/runs/{run_id}").json()["name"])


def version_ids(client: TestClient, run_id: uuid.UUID) -> dict[str, str]:
    items = client.get("/api/v1/artifact-versions", params={"run_id": str(run_id)}).json()["items"]
    return {v["name"]: v["id"] for v in items}


def test_overview_shows_failures_pipelines_and_recent_runs(client: TestClient, filled: Filled) -> None:
    response = client.get("/")
    assert response.status_code == 200
    page = text_of(response.text)
    assert "Recent failures" in page and run_name(client, filled.failed) in page
    assert "Step(s) failed: explode" in page or "explode" in page
    assert "Nothing is running." in page
    assert "weather" in page and "fragile" in page
    assert "100%" in page and "0%" in page  # weather always completed, fragile never
    assert all(run_name(client, r) in page for r in (filled.first, filled.second))
    assert "<svg class=\"spark\"" in response.text  # weather's duration sparkline (two completed runs)


def test_runs_list_filters(client: TestClient, filled: Filled) -> None:
    everything = client.get("/runs")
    assert everything.status_code == 200
    for run_id in (filled.first, filled.second, filled.failed):
        assert f'data-run-id="{run_id}"' in everything.text

    def listed(**params: str) -> set[str]:
        response = client.get("/runs", params=params)
        assert response.status_code == 200, response.text
        return set(re.findall(r'<tr data-run-id="([0-9a-f-]+)"', response.text))

    assert listed(pipeline="fragile") == {str(filled.failed)}
    assert listed(status="failed") == {str(filled.failed)}
    assert listed(status="completed") == {str(filled.first), str(filled.second)}
    assert listed(tag="nightly") == {str(filled.first)}
    assert listed(since="2000-01-01", until="2999-12-31") == {str(r) for r in (filled.first, filled.second,
                                                                                filled.failed)}
    assert listed(since="2999-01-01") == set()
    assert listed(until="2000-01-01") == set()


def test_runs_list_pages_with_the_next_cursor(client: TestClient, filled: Filled) -> None:
    seen: list[str] = []
    url: str | None = "/runs?limit=2"
    pages = 0
    while url:
        response = client.get(url)
        assert response.status_code == 200
        seen += re.findall(r'<tr data-run-id="([0-9a-f-]+)"', response.text)
        found = re.search(r'href="(/runs\?[^"]*cursor=[^"]*)" rel="next"', response.text)
        url = html.unescape(found.group(1)) if found else None
        pages += 1
    assert pages == 2
    assert sorted(seen) == sorted(str(r) for r in (filled.first, filled.second, filled.failed))


def test_runs_status_feed(client: TestClient, filled: Filled) -> None:
    response = client.get("/runs/status.json", params={"ids": f"{filled.first},{filled.failed}"})
    assert response.status_code == 200
    runs = response.json()["runs"]
    assert runs[str(filled.first)]["status"] == "completed" and runs[str(filled.first)]["active"] is False
    assert runs[str(filled.failed)]["status"] == "failed"


def test_run_page_lists_steps_parameters_and_metrics(client: TestClient, filled: Filled) -> None:
    response = client.get(f"/runs/{filled.second}")
    assert response.status_code == 200
    page = text_of(response.text)
    for step in ("load_table", "featurize", "write_report", "draw_chart", "evaluate"):
        assert step in page
    assert "scale" in page and "accuracy" in page and "0.87" in page
    assert 'data-view="dag"' in response.text  # 5 steps: the DAG is the default view


def test_run_graph_json_has_edges_and_statuses(client: TestClient, filled: Filled) -> None:
    graph = client.get(f"/runs/{filled.second}/graph.json").json()
    steps = {s["id"]: s for s in graph["steps"]}
    assert steps["featurize"]["up"] == ["load_table"]
    assert steps["evaluate"]["up"] == ["featurize"]
    assert steps["load_table"]["status"] == "cached" and steps["featurize"]["status"] == "completed"
    assert graph["run"]["active"] is False
    failed = {s["id"]: s["status"] for s in client.get(f"/runs/{filled.failed}/graph.json").json()["steps"]}
    assert failed == {"load_table": "completed", "explode": "failed", "after_explode": "skipped"}
    live = client.get(f"/runs/{filled.failed}/status.json").json()
    assert live["steps"]["explode"][0] == "failed"


def test_step_panel_explains_the_cache_miss_and_shows_the_code(client: TestClient, filled: Filled) -> None:
    response = client.get(f"/runs/{filled.second}/steps/featurize")
    assert response.status_code == 200
    page = text_of(response.text)
    assert "cache miss: parameter 'scale' changed (1.0 -> 2.0)" in page
    assert "def featurize(table: pd.DataFrame, scale: float = 1.0)" in page
    assert "same as the code that ran" in page
    features = version_ids(client, filled.second)["features"]
    assert f'href="/artifact-versions/{features}"' in response.text
    assert f'data-logs-url="/api/v1/runs/{filled.second}/logs"' in response.text
    partial = client.get(f"/runs/{filled.second}/steps/featurize", params={"partial": 1})
    assert partial.status_code == 200 and "<html" not in partial.text and "cache miss" in partial.text


def test_cached_step_links_the_run_whose_outputs_it_reused(client: TestClient, filled: Filled) -> None:
    page = client.get(f"/runs/{filled.second}", params={"step": "load_table"})
    assert page.status_code == 200
    assert "cache hit: reused the outputs of step run" in text_of(page.text)
    assert f'href="/runs/{filled.first}?step=load_table"' in page.text


def test_failed_step_shows_the_error_and_traceback(client: TestClient, filled: Filled) -> None:
    page = text_of(client.get(f"/runs/{filled.failed}/steps/explode").text)
    assert FAILURE in page and "Traceback" in page
    assert "This step has not started" in text_of(client.get(f"/runs/{filled.failed}/steps/after_explode").text) \
        or "skipped" in text_of(client.get(f"/runs/{filled.failed}/steps/after_explode").text)


def test_logs_the_step_panel_tails_are_served_by_the_api(client: TestClient, filled: Filled) -> None:
    response = client.get(f"/api/v1/runs/{filled.first}/logs", params={"step": "load_table"})
    assert response.status_code == 200
    messages = [line["message"] for line in response.json()["lines"]]
    assert LOG_LINE in messages and response.json()["complete"] is True


def test_pipeline_pages(client: TestClient, filled: Filled) -> None:
    listing = text_of(client.get("/pipelines").text)
    assert "weather" in listing and "fragile" in listing and "100%" in listing
    detail = client.get("/pipelines/weather")
    assert detail.status_code == 200
    page = text_of(detail.text)
    assert "Durations" in page and "Parameters used" in page
    assert "scale=1.0" in page and "scale=2.0" in page
    assert "dashboard_pipelines:featurize" in page
    assert detail.text.count('<rect x=') >= 2  # one duration bar per run


def test_dataframe_preview_shows_columns_rows_and_stats(client: TestClient, filled: Filled) -> None:
    table = version_ids(client, filled.first)["table"]
    response = client.get(f"/artifact-versions/{table}")
    assert response.status_code == 200
    page = text_of(response.text)
    for expected in ("city", "temperature", "rain_mm", "Oslo", "Baku", "all 6 rows", "Statistics", "mean"):
        assert expected in page
    assert "load_table" in page and run_name(client, filled.first) in page  # the producer


def test_numpy_preview_shows_shape_dtype_and_histogram(client: TestClient, filled: Filled) -> None:
    features = version_ids(client, filled.first)["features"]
    response = client.get(f"/artifact-versions/{features}")
    page = text_of(response.text)
    assert "6 \u00d7 2" in page and "float64" in page and "Histogram" in page
    assert '<svg class="histogram"' in response.text


def test_markdown_and_html_render_only_inside_the_sandbox(client: TestClient, filled: Filled) -> None:
    ids = version_ids(client, filled.first)
    for name in ("report_md", "report_html"):
        page = client.get(f"/artifact-versions/{ids[name]}")
        assert f'<iframe class="preview-frame" src="/artifact-versions/{ids[name]}/render" sandbox=""' in page.text
        assert "<script>document.title" not in page.text  # the page itself only holds escaped text
    markdown = client.get(f"/artifact-versions/{ids['report_md']}/render")
    assert markdown.status_code == 200 and "<h1>Weather report</h1>" in markdown.text
    assert "<strong>warmest</strong>" in markdown.text
    hostile = client.get(f"/artifact-versions/{ids['report_html']}/render")
    csp = hostile.headers["content-security-policy"]
    assert "default-src 'none'" in csp and "sandbox" in csp and "script-src" not in csp
    assert hostile.headers["x-frame-options"] == "SAMEORIGIN"


def test_image_and_json_previews(client: TestClient, filled: Filled) -> None:
    ids = version_ids(client, filled.first)
    page = client.get(f"/artifact-versions/{ids['chart_png']}")
    assert f'src="/artifact-versions/{ids["chart_png"]}/image"' in page.text
    image = client.get(f"/artifact-versions/{ids['chart_png']}/image")
    assert image.status_code == 200 and image.headers["content-type"] == "image/png"
    assert image.content.startswith(b"\x89PNG") and image.headers["x-content-type-options"] == "nosniff"
    assert client.get(f"/artifact-versions/{ids['table']}/image").status_code == 404  # not an image
    scores = text_of(client.get(f"/artifact-versions/{ids['scores']}").text)
    assert '"mean":' in scores and '"rows": 6' in scores


def test_artifact_lists_and_lineage(client: TestClient, filled: Filled) -> None:
    assert all(n in text_of(client.get("/artifacts").text) for n in ("table", "features", "chart_png"))
    versions = client.get("/artifacts/table")
    assert versions.status_code == 200 and "v1" in text_of(versions.text) and "v2" in text_of(versions.text)
    table = version_ids(client, filled.first)["table"]
    lineage = client.get(f"/artifact-versions/{table}/lineage.json").json()
    labels = {n["label"] for n in lineage["nodes"]}
    assert {"load_table", "featurize", "write_report", "table v1", "features v1", "features v2"} <= labels
    current = [n for n in lineage["nodes"] if n.get("current")]
    assert [n["label"] for n in current] == ["table v1"]
    page = text_of(client.get(f"/artifact-versions/{table}").text)
    assert "Consumers" in page and re.search(r"featurize \(as table ?\) in", page)


def test_compare_highlights_differences(client: TestClient, filled: Filled) -> None:
    response = client.get("/compare", params={"runs": f"{filled.first},{filled.second}"})
    assert response.status_code == 200
    rows = {label: kind for kind, label in re.findall(r'<tr class="(diff|same)"><th scope="row">([^<]+)</th>',
                                                        response.text)}
    assert rows["scale"] == "diff" and rows["accuracy"] == "diff"
    assert rows["featurize → features"] == "diff"  # new parameter, new bytes
    assert rows["load_table → table"] == "same"  # cached: the very same artifact
    assert rows["featurize: code hash"] == "same"
    repeated = client.get(f"/compare?runs={filled.first}&runs={filled.failed}")
    assert repeated.status_code == 200 and "explode: status" in text_of(repeated.text)
    assert "Pick at least two runs" in text_of(client.get("/compare").text)


def test_stacks_and_components(client: TestClient, filled: Filled) -> None:
    stacks = text_of(client.get("/stacks").text)
    assert "default" in stacks and "orchestrator" in stacks and "artifact_store" in stacks
    components = client.get("/components", params={"type": "orchestrator"})
    assert components.status_code == 200 and "local" in text_of(components.text)


def test_unknown_ids_get_friendly_not_found_pages(client: TestClient, filled: Filled) -> None:
    missing = uuid.uuid4()
    for path, words in [
        (f"/runs/{missing}", "No run with id"),
        ("/runs/not-a-run-id", "There is no run with id"),
        (f"/runs/{filled.first}/steps/nope", "has no step 'nope'"),
        (f"/artifact-versions/{missing}", "No artifact"),
        ("/artifacts/no_such_artifact", "no artifact named"),
        ("/pipelines/no_such_pipeline", "No pipeline named"),
        (f"/compare?runs={filled.first},{missing}", "No run with id"),
    ]:
        response = client.get(path)
        assert response.status_code == 404, path
        assert response.headers["content-type"].startswith("text/html")
        page = text_of(response.text)
        assert "Not found" in page and words in page, (path, page)
        assert "Overview" in page  # a way back
    stale = client.get(f"/runs/{filled.first}", params={"step": "renamed_since"})
    assert stale.status_code == 200 and "This run has no step renamed_since" in text_of(stale.text)
    bad = client.get("/runs", params={"status": "sleeping"})
    assert bad.status_code == 400 and "There is no run status 'sleeping'" in text_of(bad.text)
    assert client.get("/runs", params={"cursor": "garbage!"}).status_code == 400


def test_local_mode_shows_the_default_project_unless_the_address_names_another(
    client: TestClient, filled: Filled
) -> None:
    """Without authentication the local user may read every project; no parameter and no cookie is default."""
    plain = client.get("/runs")
    assert plain.status_code == 200 and f'data-run-id="{filled.first}"' in plain.text
    assert '<meta name="runyard-project" content="default">' in plain.text
    assert 'name="project" value="default"' in plain.text  # the header's switcher
    assert not [c for c in plain.headers.get_list("set-cookie") if c.startswith("runyard_project=")]

    elsewhere = client.get("/runs?project=p9")  # a project with nothing in it: an empty list, not an error
    assert elsewhere.status_code == 200 and "data-run-id=" not in elsewhere.text
    assert client.get(f"/runs/{filled.first}").status_code == 404  # the cookie keeps p9; the run is default's
    assert client.get("/pipelines/weather").status_code == 404
    back = client.get(f"/runs/{filled.first}?project=default")
    assert back.status_code == 200 and run_name(client, filled.first) in back.text
