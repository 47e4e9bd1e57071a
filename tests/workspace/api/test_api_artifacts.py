"""``/artifacts`` and ``/artifact-versions``: versions registered by step reports, lineage, reads."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi.testclient import TestClient

from runyard.workspace.services import artifacts


def test_versions_are_numbered_per_name_and_read_back(client: TestClient, make: Any, stored: Any) -> None:
    run = make.run()
    first = make.finished_step(run["id"], "dataset")["outputs"]["output"]
    second = make.finished_step(run["id"], "dataset")["outputs"]["output"]
    assert (first["version"], second["version"]) == (1, 2)

    newest = client.get("/api/v1/artifact-versions/dataset")
    assert newest.status_code == 200 and newest.json()["id"] == second["id"]
    assert client.get("/api/v1/artifact-versions/dataset", params={"version": 1}).json()["id"] == first["id"]
    assert client.get(f"/api/v1/artifact-versions/{first['id']}").json() == first
    assert stored(artifacts.get_artifact_version, name_or_id="dataset").id == uuid.UUID(second["id"])

    missing = client.get("/api/v1/artifact-versions/dataset", params={"version": 3})
    assert missing.status_code == 404 and "version 3" in missing.json()["message"]


def test_artifact_name_with_a_slash_is_found(client: TestClient, make: Any) -> None:
    run = make.run()
    version = make.finished_step(run["id"], "data/train")["outputs"]["output"]
    response = client.get("/api/v1/artifact-versions/data%2Ftrain")
    assert response.status_code == 200 and response.json()["id"] == version["id"]


def test_list_artifacts_and_versions(client: TestClient, make: Any) -> None:
    run, other = make.run(), make.run()
    make.finished_step(run["id"], "model")
    make.finished_step(run["id"], "metrics")
    make.finished_step(other["id"], "model")
    names = sorted(a["name"] for a in client.get("/api/v1/artifacts").json()["items"])
    assert names == ["metrics", "model"]
    of_model = client.get("/api/v1/artifact-versions", params={"name": "model"}).json()["items"]
    assert [v["version"] for v in of_model] == [2, 1]
    of_run = client.get("/api/v1/artifact-versions", params={"run_id": run["id"]}).json()["items"]
    assert sorted(v["name"] for v in of_run) == ["metrics", "model"]
    contains = client.get("/api/v1/artifact-versions", params={"name_contains": "etr"}).json()["items"]
    assert [v["name"] for v in contains] == ["metrics"]


def test_lineage_names_producer_and_consumers(client: TestClient, make: Any) -> None:
    run = make.run()
    producer = make.finished_step(run["id"], "dataset", invocation_id="load")
    version = producer["outputs"]["output"]
    consumer = make.step(run["id"], "train", inputs={"data": version["id"]})
    lineage = client.get(f"/api/v1/artifact-versions/{version['id']}/lineage")
    assert lineage.status_code == 200
    body = lineage.json()
    assert body["producer"]["step_run_id"] == producer["id"]
    assert [c["step_run_id"] for c in body["consumers"]] == [consumer["id"]]
    assert body["consumers"][0]["name"] == "data"
    assert client.get(f"/api/v1/artifact-versions/{uuid.uuid4()}/lineage").status_code == 404


def test_step_input_naming_a_missing_version_is_4xx(client: TestClient, make: Any) -> None:
    run = make.run()
    response = client.post("/api/v1/steps", json={"run_id": run["id"], "invocation_id": "x", "step_name": "x",
                                                  "inputs": {"data": str(uuid.uuid4())}})
    assert 400 <= response.status_code < 500, response.text


def test_artifact_named_like_the_lineage_route_is_found_by_name(client: TestClient, make: Any) -> None:
    run = make.run()
    make.finished_step(run["id"], "reports/lineage", invocation_id="report")
    found = client.get("/api/v1/artifact-versions/reports%2Flineage")
    assert found.status_code == 200, found.text
    assert found.json()["name"] == "reports/lineage"
    # a name that is not an id reaches the name route (404 naming the artifact), not a 422 about a malformed id
    missing = client.get("/api/v1/artifact-versions/other/lineage")
    assert missing.status_code == 404, missing.text
