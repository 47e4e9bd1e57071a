"""``/health``, ``/metrics``, the root page, and the reaper that fails runs whose runner went silent."""

from __future__ import annotations

import time
import uuid
from datetime import timedelta
from typing import Any

from fastapi.testclient import TestClient

from runyard.schemas.base import SCHEMA_VERSION
from runyard.workspace.app import create_app, reap_silent_runs
from runyard.workspace.db.engine import Database
from runyard.workspace.services import runs


def test_health_reports_ready_with_versions(client: TestClient) -> None:
    response = client.get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok", "version": response.json()["version"],
                               "schema_version": SCHEMA_VERSION}


def test_health_is_503_when_the_database_is_unreachable() -> None:
    app = create_app("postgresql+psycopg://nobody@127.0.0.1:9/nowhere?connect_timeout=2")
    with TestClient(app, raise_server_exceptions=False) as client:  # starts although the database is down
        response = client.get("/health")
        assert response.status_code == 503
        assert response.json()["database"] == "unavailable" and "nobody" not in response.text
        api = client.get("/api/v1/runs")
        assert api.status_code == 503 and api.json()["error"] == "database_unavailable"
        assert "nowhere" not in api.text


def test_metrics_expose_latency_per_route_template_pool_and_runs(client: TestClient, make: Any) -> None:
    run = make.run()
    client.get(f"/api/v1/runs/{run['id']}")
    client.get(f"/api/v1/runs/{uuid.uuid4()}")
    text = client.get("/metrics").text
    assert 'method="GET",route="/api/v1/runs/{run_id}",status="200"' in text
    assert 'route="/api/v1/runs/{run_id}",status="404"' in text
    assert run["id"] not in text  # templates, never raw paths
    assert 'runyard_db_pool_checked_out{engine="write"}' in text
    assert 'runyard_runs{status="running"} 1.0' in text
    assert 'runyard_runs{status="completed"} 0.0' in text
    assert f'schema_version="{SCHEMA_VERSION}"' in text


def test_root_page_and_docs_are_served(client: TestClient) -> None:
    page = client.get("/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert client.get("/docs").status_code == 200


def test_reaper_service_fails_only_silent_running_runs(client: TestClient, make: Any, db: Database,
                                                       stored: Any) -> None:
    silent, alive = make.run(status="running"), make.run(status="running")
    done = make.run(status="running")
    client.patch(f"/api/v1/runs/{done['id']}", json={"status": "completed"})
    time.sleep(0.3)
    client.patch(f"/api/v1/runs/{alive['id']}", json={"heartbeat": True})

    failed = reap_silent_runs(db, timeout=timedelta(seconds=0.2))
    assert failed == [uuid.UUID(silent["id"])]
    reaped = stored(runs.get_run, run_id=uuid.UUID(silent["id"]))
    assert reaped.status == "failed" and "heartbeat" in (reaped.error or "") and reaped.ended is not None
    assert stored(runs.get_run, run_id=uuid.UUID(alive["id"])).status == "running"
    assert stored(runs.get_run, run_id=uuid.UUID(done["id"])).status == "completed"
    # the runner's late report cannot resurrect it: failed is final
    late = client.patch(f"/api/v1/runs/{silent['id']}", json={"status": "completed"})
    assert late.status_code == 409


def test_the_app_reaps_in_the_background(database_url: str, stored: Any, factory_for: Any) -> None:
    app = create_app(database_url, heartbeat_timeout_s=0.3, reaper_interval_s=0.1)
    with TestClient(app) as client:
        run = factory_for(client).run(status="running")
        deadline = time.monotonic() + 10
        while client.get(f"/api/v1/runs/{run['id']}").json()["status"] != "failed":
            assert time.monotonic() < deadline, "the reaper never failed the silent run"
            time.sleep(0.1)
    assert stored(runs.get_run, run_id=uuid.UUID(run["id"])).status == "failed"
