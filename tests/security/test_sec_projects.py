"""Project scope with authentication on: a grant on one project opens that project and nothing else.

``project`` is a developer on ``p1`` only, ``other_project`` a developer on ``p2`` only, ``viewer`` a
viewer of the whole workspace (see ``tests/control_plane/cp_world.py``).
"""

from __future__ import annotations

import uuid
from typing import Any

from cp_world import World, bearer
from fastapi.testclient import TestClient


def _as(world: World, who: str, project: str | None) -> dict[str, str]:
    headers = bearer(world.token(who))
    if project is not None:
        headers["X-Runyard-Project"] = project
    return headers


def _ok(response: Any, status: int = 200) -> dict[str, Any]:
    assert response.status_code == status, (response.status_code, response.text)
    return response.json()  # type: ignore[no-any-return]


def _project_cookie(response: Any) -> str | None:
    """The ``Set-Cookie`` line of the dashboard's project cookie, lower-cased (the CSRF cookie may come too)."""
    found = [c.lower() for c in response.headers.get_list("set-cookie") if c.startswith("runyard_project=")]
    return found[0] if found else None


def _run_in(client: TestClient, headers: dict[str, str]) -> dict[str, Any]:
    pipe = _ok(client.post("/api/v1/pipelines", json={"name": "training"}, headers=headers), 201)
    stack = _ok(client.get("/api/v1/stacks/default", headers=headers))
    snapshot = _ok(client.post("/api/v1/snapshots", headers=headers, json={
        "id": str(uuid.uuid4()), "pipeline_id": pipe["id"], "stack_id": stack["id"], "spec": {"steps": []},
        "spec_hash": "h" * 16}), 201)
    return _ok(client.post("/api/v1/runs", headers=headers, json={
        "id": str(uuid.uuid4()), "snapshot_id": snapshot["id"], "status": "running"}), 201)


def test_a_project_grant_opens_its_project_only(world: World, ws_client: TestClient) -> None:
    in_p1 = _as(world, "project", "p1")
    run = _run_in(ws_client, in_p1)
    assert [r["id"] for r in _ok(ws_client.get("/api/v1/runs", headers=in_p1))["items"]] == [run["id"]]

    # the same user outside p1: the default project (no header) and p2 are closed
    for project in (None, "p2"):
        headers = _as(world, "project", project)
        assert ws_client.get("/api/v1/runs", headers=headers).status_code == 403
        assert ws_client.get(f"/api/v1/runs/{run['id']}", headers=headers).status_code == 403
        assert ws_client.post("/api/v1/pipelines", json={"name": "x"}, headers=headers).status_code == 403


def test_another_projects_user_can_neither_read_list_nor_guess(world: World, ws_client: TestClient) -> None:
    run = _run_in(ws_client, _as(world, "project", "p1"))
    other_in_p1 = _as(world, "other_project", "p1")
    assert ws_client.get("/api/v1/runs", headers=other_in_p1).status_code == 403
    assert ws_client.get(f"/api/v1/runs/{run['id']}", headers=other_in_p1).status_code == 403
    assert ws_client.post("/api/v1/pipelines", json={"name": "x"}, headers=other_in_p1).status_code == 403
    assert ws_client.patch(f"/api/v1/runs/{run['id']}", json={"status": "failed"},
                           headers=other_in_p1).status_code == 403

    # in its own project, p1's rows do not exist: a known id is 404, exactly like a made-up one
    other_in_p2 = _as(world, "other_project", "p2")
    known = ws_client.get(f"/api/v1/runs/{run['id']}", headers=other_in_p2)
    made_up = ws_client.get(f"/api/v1/runs/{uuid.uuid4()}", headers=other_in_p2)
    assert known.status_code == made_up.status_code == 404 and known.json()["error"] == made_up.json()["error"]
    assert ws_client.patch(f"/api/v1/runs/{run['id']}", json={"status": "failed"},
                           headers=other_in_p2).status_code == 404
    assert _ok(ws_client.get("/api/v1/runs", headers=other_in_p2))["items"] == []
    mine = _run_in(ws_client, other_in_p2)  # and it works in p2, even with the same pipeline name
    assert mine["pipeline_id"] != run["pipeline_id"]
    assert _ok(ws_client.get(f"/api/v1/runs/{run['id']}", headers=_as(world, "project", "p1")))["status"] == "running"


def test_a_workspace_wide_viewer_sees_every_project(world: World, ws_client: TestClient) -> None:
    in_p1 = _run_in(ws_client, _as(world, "project", "p1"))
    in_p2 = _run_in(ws_client, _as(world, "other_project", "p2"))
    for project, run in (("p1", in_p1), ("p2", in_p2)):
        viewer = _as(world, "viewer", project)
        assert [r["id"] for r in _ok(ws_client.get("/api/v1/runs", headers=viewer))["items"]] == [run["id"]]
        assert _ok(ws_client.get(f"/api/v1/runs/{run['id']}", headers=viewer))["id"] == run["id"]
        assert ws_client.post("/api/v1/pipelines", json={"name": "x"}, headers=viewer).status_code == 403
    assert _ok(ws_client.get("/api/v1/runs", headers=_as(world, "viewer", None)))["items"] == []


def test_the_dashboard_ignores_the_api_header_and_takes_its_project_from_the_address(
    world: World, ws_client: TestClient
) -> None:
    """Naming p1 in the API's header does not move the dashboard (a page's project is ``?project=``, then
    the cookie): a p1 user still cannot see default that way, but sees p1 once the address names it."""
    assert ws_client.get("/runs", headers=_as(world, "project", "p1")).status_code == 403
    assert ws_client.get("/runs", headers=_as(world, "viewer", "p1")).status_code == 200
    assert ws_client.get("/runs?project=p1", headers=_as(world, "project", None)).status_code == 200


def test_a_project_user_uses_the_dashboard_in_its_project_and_the_cookie_keeps_it(
    world: World, ws_client: TestClient
) -> None:
    run = _run_in(ws_client, _as(world, "project", "p1"))
    me = _as(world, "project", None)  # no API header: the dashboard never reads it
    listed = ws_client.get("/runs?project=p1", headers=me)
    assert listed.status_code == 200 and run["id"] in listed.text
    assert 'value="p1"' in listed.text  # the header's switcher shows the current project
    cookie = _project_cookie(listed) or ""
    assert cookie.startswith("runyard_project=p1;") and "httponly" in cookie and "samesite=lax" in cookie
    assert "path=/" in cookie

    # the cookie keeps p1: the plain links (no parameter) stay in it, pages and their JSON feeds alike
    again = ws_client.get("/runs", headers=me)
    assert again.status_code == 200 and run["id"] in again.text and _project_cookie(again) is None
    page = ws_client.get(f"/runs/{run['id']}", headers=me)
    assert page.status_code == 200 and run["name"] in page.text
    assert '<meta name="runyard-project" content="p1">' in page.text  # what logs.js / run.js send to the API
    assert ws_client.get(f"/runs/{run['id']}/graph.json", headers=me).status_code == 200
    assert ws_client.get(f"/runs/{run['id']}/status.json", headers=me).json()["run"]["id"] == run["id"]
    statuses = ws_client.get(f"/runs/status.json?ids={run['id']}", headers=me).json()["runs"]
    assert list(statuses) == [run["id"]]
    for path in ("/", "/pipelines", "/pipelines/training", "/artifacts", "/stacks", "/components"):
        assert ws_client.get(path, headers=me).status_code == 200, path

    # a script's fetch names its page's project and is answered there, but never moves the cookie
    fetched = ws_client.get(f"/runs/{run['id']}/status.json?project=p1", headers={**me, "Sec-Fetch-Mode": "cors"})
    assert fetched.status_code == 200 and _project_cookie(fetched) is None
    ws_client.cookies.clear()
    ws_client.cookies.set("runyard_project", "p2")  # another tab switched to p2 meanwhile
    fetched = ws_client.get(f"/runs/{run['id']}/graph.json?project=p1", headers={**me, "Sec-Fetch-Mode": "cors"})
    assert fetched.status_code == 200 and _project_cookie(fetched) is None
    ws_client.cookies.clear()
    ws_client.cookies.set("runyard_project", "p1")

    # the default project stays closed to it, and the refusal does not move the cookie
    refused = ws_client.get("/runs?project=default", headers=me)
    assert refused.status_code == 403 and _project_cookie(refused) is None
    assert '<option value="p1">' in refused.text  # the refusal page's switcher offers the caller's project
    assert ws_client.get("/runs", headers=me).status_code == 200
    ws_client.cookies.clear()
    assert ws_client.get("/runs", headers=me).status_code == 403  # no cookie, no parameter: default


def test_another_projects_user_cannot_open_p1_in_the_dashboard(world: World, ws_client: TestClient) -> None:
    run = _run_in(ws_client, _as(world, "project", "p1"))
    other = _as(world, "other_project", None)
    for path in ("/runs?project=p1", f"/runs/{run['id']}?project=p1", f"/runs/{run['id']}/graph.json?project=p1",
                 f"/runs/status.json?ids={run['id']}&project=p1", "/pipelines/training?project=p1"):
        response = ws_client.get(path, headers=other)
        assert response.status_code == 403 and _project_cookie(response) is None, path
    # in its own project, p1's run is not found, exactly like a made-up id
    ws_client.cookies.set("runyard_project", "p2")
    assert ws_client.get("/runs", headers=other).status_code == 200
    known = ws_client.get(f"/runs/{run['id']}", headers=other)
    made_up = ws_client.get(f"/runs/{uuid.uuid4()}", headers=other)
    assert known.status_code == made_up.status_code == 404
    assert ws_client.get(f"/runs/status.json?ids={run['id']}", headers=other).json()["runs"] == {}


def test_a_run_of_p1_opened_in_the_default_project_is_not_found(world: World, ws_client: TestClient) -> None:
    run = _run_in(ws_client, _as(world, "project", "p1"))
    viewer = _as(world, "viewer", None)  # workspace-wide: may read both projects
    assert ws_client.get(f"/runs/{run['id']}?project=p1", headers=viewer).status_code == 200
    for path in (f"/runs/{run['id']}", f"/runs/{run['id']}/graph.json", f"/runs/{run['id']}/status.json",
                 f"/compare?runs={run['id']},{uuid.uuid4()}", "/pipelines/training"):
        assert ws_client.get(path + ("&" if "?" in path else "?") + "project=default",
                             headers=viewer).status_code == 404, path
    listed = ws_client.get("/runs?project=default", headers=viewer)
    assert listed.status_code == 200 and run["id"] not in listed.text


def test_a_malformed_project_name_is_a_400_page_and_sets_no_cookie(world: World, ws_client: TestClient) -> None:
    for bad in ("Bad", "-x", "a" * 64, "p1;path=/x", ""):
        response = ws_client.get("/runs", params={"project": bad}, headers=_as(world, "viewer", None))
        assert response.status_code == 400 and "project" in response.text, bad
        assert _project_cookie(response) is None, bad
    # a cookie the server never set is ignored: the default project
    ws_client.cookies.set("runyard_project", "Not/Valid")
    assert ws_client.get("/runs", headers=_as(world, "project", None)).status_code == 403
    assert ws_client.get("/runs", headers=_as(world, "viewer", None)).status_code == 200


def test_secrets_belong_to_the_workspace_so_a_project_grant_does_not_reach_them(
    world: World, ws_client: TestClient
) -> None:
    admin = _as(world, "admin", None)
    _ok(ws_client.post("/api/v1/secrets", json={"name": "warehouse", "values": {"password": "s3cret"}},
                       headers=admin), 201)
    # a developer on p1 only: whatever project it names, the workspace's secrets stay closed
    for project in (None, "p1"):
        headers = _as(world, "project", project)
        assert ws_client.get("/api/v1/secrets", headers=headers).status_code == 403
        assert ws_client.get("/api/v1/secrets/warehouse", headers=headers).status_code == 403
    # a workspace-wide developer reads the metadata (never the values), in any project
    developer = _as(world, "developer", "p1")
    assert [s["name"] for s in _ok(ws_client.get("/api/v1/secrets", headers=developer))] == ["warehouse"]
    assert ws_client.get("/api/v1/secrets/warehouse/values", headers=developer).status_code == 403
