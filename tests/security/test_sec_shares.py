"""Sharing one pipeline or stack with a user or team, against a protected Workspace Server and the control
plane's own API (both real apps; tokens minted and verified as in production).

Each test runs on SQLite, PostgreSQL and MariaDB (the workspace's database). In project ``p1`` of
``ws-a``, ``project`` (a developer there) runs two pipelines, ``training`` and ``other``. Shares are
made through ``POST /api/v1/orgs/acme/shares``; each check asks the workspace with the holder's token.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import jwt
import pytest
from cp_world import World, bearer
from fastapi import FastAPI
from fastapi.testclient import TestClient
from http_runs import ok, running_run
from sqlalchemy import select

from runyard.control_plane.actor import SYSTEM
from runyard.control_plane.api.app import create_control_plane_app
from runyard.control_plane.audit_sink import LocalAuditSink
from runyard.control_plane.db.models import AuditEventRow
from runyard.control_plane.guard import Authenticator, install_auth
from runyard.control_plane.services import orgs, roles, users
from runyard.exceptions import NotFound, PermissionDenied


@pytest.fixture
def protected_app(world: World, database_url: str) -> FastAPI:
    """``ws-a``'s server as in the conftest, on each workspace database (the share filters are SQL)."""
    from runyard.workspace.app import create_app

    app = create_app(database_url)
    install_auth(app, Authenticator(world.cp.verifier(world.ws_a.audience), audit=LocalAuditSink(world.cp),
                                    org_id=str(world.org.id)))
    return app


@pytest.fixture
def cp_client(world: World) -> Iterator[TestClient]:
    with TestClient(create_control_plane_app(control_plane=world.cp), raise_server_exceptions=False) as client:
        yield client


def _user(world: World, name: str, *, team: str | None = None, grants: tuple[tuple[str, str], ...] = ()) -> None:
    """A member of ``acme`` (optionally of ``team``), with ``(role, project)`` grants in ``ws-a``."""
    with world.cp.db.session(write=True) as s:
        user = users.create_user(s, email=f"{name}@acme.test", password=None, actor=SYSTEM, org_id=world.org.id)
        orgs.add_member(s, org_id=world.org.id, user_id=user.id, actor=SYSTEM)
        world.users[name] = user
        if team is not None:
            try:
                team_row = orgs.get_team(s, org_id=world.org.id, name=team)
            except NotFound:
                team_row = orgs.create_team(s, org_id=world.org.id, name=team, actor=SYSTEM)
            orgs.add_team_member(s, team=team_row, user=user, actor=SYSTEM)
        for role, project in grants:
            p = orgs.get_project(s, workspace_id=world.ws_a.id, name=project)
            roles.create_grant(s, org_id=world.org.id, role=roles.get_role(s, org_id=world.org.id, name=role),
                               subject_type="user", subject_id=user.id, scope_type="project", scope_id=p.id,
                               actor=SYSTEM, actor_permissions=frozenset({"*"}))


def _in(world: World, who: str, project: str = "p1") -> dict[str, str]:
    return {**bearer(world.token(who)), "X-Runyard-Project": project}


def _pipeline_with_run(client: TestClient, headers: dict[str, str], name: str) -> dict[str, Any]:
    """A pipeline, a snapshot, a run, one step run that wrote an artifact version ``<name>-model``."""
    made = running_run(client, headers, name)
    pipe, snapshot, run = made["pipeline"], made["snapshot"], made["run"]
    step = ok(client.post("/api/v1/steps", headers=headers, json={
        "run_id": run["id"], "invocation_id": "train", "step_name": "train"}), 201)
    done = ok(client.patch(f"/api/v1/steps/{step['id']}", headers=headers, json={
        "status": "completed", "new_outputs": [{
            "name": f"{name}-model", "output_name": "model", "uri": f"/tmp/{name}", "content_hash": "c" * 16,
            "size": 1, "materializer": "m", "data_type": "t"}]}))
    version_id = done["outputs"]["model"]["id"]
    return {"pipeline": pipe, "snapshot": snapshot, "run": run, "step": step, "version": version_id}


@pytest.fixture
def project(world: World, ws_client: TestClient) -> dict[str, dict[str, Any]]:
    headers = _in(world, "project")
    return {name: _pipeline_with_run(ws_client, headers, name) for name in ("training", "other")}


def _share(cp: TestClient, world: World, sharer: str, body: dict[str, Any], status: int = 201) -> Any:
    full = {"workspace": "ws-a", "project": "p1", **body}
    return ok(cp.post("/api/v1/orgs/acme/shares", json=full, headers=bearer(world.token(sharer, None))), status)


def _share_pipeline(cp: TestClient, world: World, pipeline: dict[str, Any], to: str, *, team: bool = False,
                    role: str = "viewer", sharer: str = "admin", status: int = 201) -> Any:
    return _share(cp, world, sharer, {"resource_type": "pipelines", "resource_id": pipeline["id"],
                                      "resource_name": pipeline["name"], "subject_type": "team" if team else "user",
                                      "subject": to if team else f"{to}@acme.test", "role": role}, status)


def test_a_share_holder_sees_the_pipeline_and_what_it_implies_and_nothing_else(
        world: World, ws_client: TestClient, cp_client: TestClient, project: dict[str, dict[str, Any]]) -> None:
    _user(world, "holder")
    training, other = project["training"], project["other"]
    share = _share_pipeline(cp_client, world, training["pipeline"], "holder")
    assert share["permissions"] == ["artifacts:read", "pipelines:read", "runs:read"]
    token = world.token("holder")
    claims = jwt.decode(token, options={"verify_signature": False})
    assert claims["perms"] == [] and claims["proj"] == {} and claims["shr"][0]["resource"] == training["pipeline"]["id"]
    h = {**bearer(token), "X-Runyard-Project": "p1"}

    # the shared pipeline, its snapshot, run, step run, logs and the version its run wrote
    assert ok(ws_client.get(f"/api/v1/pipelines/{training['pipeline']['id']}", headers=h))["name"] == "training"
    assert ok(ws_client.get("/api/v1/pipelines/training", headers=h))["id"] == training["pipeline"]["id"]
    ok(ws_client.get(f"/api/v1/snapshots/{training['snapshot']['id']}", headers=h))
    assert ok(ws_client.get(f"/api/v1/runs/{training['run']['id']}", headers=h))["pipeline_name"] == "training"
    ok(ws_client.get(f"/api/v1/runs/{training['run']['id']}/logs", headers=h))
    page = ok(ws_client.get(f"/api/v1/runs/{training['run']['id']}/steps", headers=h))
    assert [s["id"] for s in page["items"]] == [training["step"]["id"]]
    ok(ws_client.get(f"/api/v1/steps/{training['step']['id']}", headers=h))
    version = ok(ws_client.get(f"/api/v1/artifact-versions/{training['version']}", headers=h))
    assert version["id"] == training["version"]
    assert ok(ws_client.get("/api/v1/artifact-versions/training-model", headers=h))["id"] == training["version"]

    # lists hold only what is shared
    def ids(path: str) -> list[str]:
        return [i["id"] for i in ok(ws_client.get(path, headers=h))["items"]]

    assert ids("/api/v1/pipelines") == [training["pipeline"]["id"]]
    assert ids("/api/v1/runs") == [training["run"]["id"]]
    assert ids("/api/v1/steps") == [training["step"]["id"]]
    assert ids("/api/v1/artifact-versions") == [training["version"]]
    assert [a["name"] for a in ok(ws_client.get("/api/v1/artifacts", headers=h))["items"]] == ["training-model"]
    assert ids(f"/api/v1/runs?pipeline_id={other['pipeline']['id']}") == []

    # the rest of the project answers exactly like ids that do not exist (the same body, but for the id)
    for template, real in (("/api/v1/pipelines/{}", other["pipeline"]["id"]), ("/api/v1/pipelines/{}", "other"),
                           ("/api/v1/snapshots/{}", other["snapshot"]["id"]), ("/api/v1/runs/{}", other["run"]["id"]),
                           ("/api/v1/runs/{}/logs", other["run"]["id"]), ("/api/v1/runs/{}/steps", other["run"]["id"]),
                           ("/api/v1/steps/{}", other["step"]["id"]),
                           ("/api/v1/artifact-versions/{}", other["version"]),
                           ("/api/v1/artifact-versions/{}", "other-model")):
        fake = str(uuid.uuid4()) if "-" in real and len(real) == 36 else "nope"
        known = ws_client.get(template.format(real), headers=h)
        made_up = ws_client.get(template.format(fake), headers=h)
        assert known.status_code == made_up.status_code == 404, (template, real, known.status_code)
        assert known.text.replace(real, fake) == made_up.text, (known.text, made_up.text)

    # a viewer share neither writes nor reaches other kinds of resources, nor another project
    assert ws_client.delete(f"/api/v1/pipelines/{training['pipeline']['id']}", headers=h).status_code == 403
    assert ws_client.post(f"/api/v1/runs/{training['run']['id']}/cancel", headers=h).status_code == 403
    assert ws_client.post("/api/v1/pipelines", json={"name": "x"}, headers=h).status_code == 403
    assert ws_client.get("/api/v1/stacks", headers=h).status_code == 403
    assert ws_client.get(f"/api/v1/artifact-versions/{training['version']}/lineage", headers=h).status_code == 403
    assert ws_client.get("/api/v1/runs", headers={**bearer(token), "X-Runyard-Project": "p2"}).status_code == 403
    assert ws_client.get("/api/v1/runs", headers=bearer(token)).status_code == 403  # the default project
    # the dashboard's pages (the same paths without /api/v1) do not filter: closed to a share holder
    for page in ("/runs", "/pipelines", f"/runs/{training['run']['id']}", "/artifacts"):
        assert ws_client.get(f"{page}?project=p1", headers=bearer(token)).status_code == 403, page


def test_a_non_holder_in_the_same_project_sees_only_its_own_share(
        world: World, ws_client: TestClient, cp_client: TestClient, project: dict[str, dict[str, Any]]) -> None:
    _user(world, "holder")
    _user(world, "bystander")
    training, other = project["training"], project["other"]
    _share_pipeline(cp_client, world, training["pipeline"], "holder")
    _share_pipeline(cp_client, world, other["pipeline"], "bystander")
    h = _in(world, "bystander")
    assert ws_client.get(f"/api/v1/runs/{training['run']['id']}", headers=h).status_code == 404
    assert [p["name"] for p in ok(ws_client.get("/api/v1/pipelines", headers=h))["items"]] == ["other"]
    # a developer of another project still gets nothing in p1
    assert ws_client.get("/api/v1/pipelines", headers=_in(world, "other_project")).status_code == 403


def test_a_team_share_reaches_every_member_and_a_revoked_share_stops(
        world: World, ws_client: TestClient, cp_client: TestClient, project: dict[str, dict[str, Any]]) -> None:
    _user(world, "ana", team="ml")
    _user(world, "ben", team="ml")
    _user(world, "outsider")
    training = project["training"]
    share = _share_pipeline(cp_client, world, training["pipeline"], "ml", team=True)
    assert share["subject"] == "ml" and share["subject_type"] == "team"
    ana_token = world.token("ana")
    ana = {**bearer(ana_token), "X-Runyard-Project": "p1"}
    for headers in (ana, _in(world, "ben")):
        run = ok(ws_client.get(f"/api/v1/runs/{training['run']['id']}", headers=headers))
        assert run["id"] == training["run"]["id"]
    with pytest.raises(PermissionDenied):  # no grant, no share: no token for this workspace at all
        world.token("outsider")

    listed = ok(cp_client.get("/api/v1/orgs/acme/shares", headers=bearer(world.token("ana", None))))
    assert [s["id"] for s in listed] == [share["id"]]  # a member sees the shares given to their teams
    # a member cannot revoke what they may not share; the admin can
    assert cp_client.delete(f"/api/v1/orgs/acme/shares/{share['id']}",
                            headers=bearer(world.token("ana", None))).status_code == 403
    assert cp_client.delete(f"/api/v1/orgs/acme/shares/{share['id']}",
                            headers=bearer(world.token("admin", None))).status_code == 204

    # the token issued before the revocation stops working once the workspace polls the revocation list
    verifier = ws_client.app.state.authenticator.verifier  # type: ignore[attr-defined]
    verifier.refresh_revocations()
    assert share["id"] in verifier.revoked_shares
    assert ws_client.get(f"/api/v1/runs/{training['run']['id']}", headers=ana).status_code == 403
    with pytest.raises(PermissionDenied):  # and no new token carries it
        world.token("ana")
    assert ok(cp_client.get("/api/v1/orgs/acme/shares", headers=bearer(world.token("admin", None)))) == []
    with world.cp.db.session(write=False) as s:
        actions = [e.action for e in s.scalars(select(AuditEventRow).where(AuditEventRow.action.like("share.%")))]
    assert sorted(actions) == ["share.create", "share.revoke"]


def test_sharing_needs_the_share_permission_and_cannot_escalate(
        world: World, ws_client: TestClient, cp_client: TestClient, project: dict[str, dict[str, Any]]) -> None:
    training = project["training"]
    _user(world, "holder")
    stack = ok(ws_client.get("/api/v1/stacks/default", headers=_in(world, "project")))

    # a developer holds no `pipelines:share`
    refused = _share_pipeline(cp_client, world, training["pipeline"], "holder", sharer="project", status=403)
    assert "pipelines:share" in refused["hint"]

    # a lead may share pipelines and stacks in p1, but holds no stacks:update or stacks:delete there
    with world.cp.db.session(write=True) as s:
        roles.create_role(s, org_id=world.org.id, name="sharer", permissions=["pipelines:share", "stacks:share"],
                          actor=SYSTEM, actor_permissions=frozenset({"*"}))
    _user(world, "lead", grants=(("developer", "p1"), ("sharer", "p1")))
    body = {"resource_type": "stacks", "resource_id": stack["id"], "resource_name": "default",
            "subject_type": "user", "subject": "holder@acme.test", "role": "admin"}
    refused = _share(cp_client, world, "lead", body, status=403)
    assert "stacks:delete" in refused["message"] and "stacks:update" in refused["message"]
    with world.cp.db.session(write=False) as s:
        denied = s.scalars(select(AuditEventRow).where(AuditEventRow.action == "auth.forbidden",
                                                       AuditEventRow.actor_name == "lead@acme.test")).all()
    assert len(denied) == 1 and "stacks:update" in denied[0].details["reason"]
    assert denied[0].target == "/api/v1/orgs/acme/shares" and denied[0].outcome == "denied"

    # what the lead holds can be shared; and a share never carries a permission of another resource type
    _share_pipeline(cp_client, world, training["pipeline"], "holder", sharer="lead", role="developer")
    bad = _share(cp_client, world, "lead", {**body, "resource_type": "pipelines", "role": None,
                                            "permissions": ["secrets:read_secret_values"]}, status=422)
    assert "cannot carry" in bad["message"]
    _share(cp_client, world, "lead", {**body, "subject": "nobody@acme.test", "role": "viewer"}, status=404)


def test_a_stack_shared_for_update_can_be_updated_and_nothing_more(
        world: World, ws_client: TestClient, cp_client: TestClient) -> None:
    admin = _in(world, "admin")
    default = ok(ws_client.get("/api/v1/stacks/default", headers=admin))
    gpu = ok(ws_client.post("/api/v1/stacks", headers=admin, json={"name": "gpu", "components": {
        "orchestrator": "default", "artifact_store": "default"}}), 201)
    ok(ws_client.post("/api/v1/components", headers=admin, json={
        "name": "hidden", "type": "orchestrator", "flavor": "local", "config": {}}), 201)
    _share(cp_client, world, "admin", {"resource_type": "stacks", "resource_id": gpu["id"], "resource_name": "gpu",
                                        "subject_type": "user", "subject": "project@acme.test", "role": "developer"})
    h = _in(world, "project")  # a developer of p1: reads stacks, may not update them, except the shared one
    patch = {"components": {"orchestrator": "default"}}
    assert ok(ws_client.patch("/api/v1/stacks/gpu", json=patch, headers=h))["name"] == "gpu"
    assert ws_client.patch(f"/api/v1/stacks/{default['id']}", json=patch, headers=h).status_code == 404
    assert ws_client.delete("/api/v1/stacks/gpu", headers=h).status_code == 403  # a developer share: no delete
    hidden = ws_client.patch("/api/v1/stacks/gpu", json={"components": {"orchestrator": "hidden"}}, headers=h)
    assert hidden.status_code == 404 and hidden.json()["error"] == "not_found"
    assert ws_client.patch("/api/v1/stacks/gpu", json=patch, headers=_in(world, "viewer")).status_code == 403


def test_bad_input_from_a_share_holder_or_a_sharer_is_a_clear_4xx(
        world: World, ws_client: TestClient, cp_client: TestClient, project: dict[str, dict[str, Any]]) -> None:
    _user(world, "holder")
    training = project["training"]
    _share_pipeline(cp_client, world, training["pipeline"], "holder")
    h = _in(world, "holder")
    for path in ("/api/v1/runs/not-a-uuid", "/api/v1/steps/not-a-uuid", "/api/v1/snapshots/nope",
                 "/api/v1/artifact-versions/training-model?version=99999999999",
                 "/api/v1/artifact-versions/training-model?version=x"):
        answer = ws_client.get(path, headers=h)
        assert answer.status_code in (404, 422), (path, answer.status_code, answer.text)
        assert answer.json()["error"] in ("not_found", "invalid_input", "validation_error")
    base = {"resource_type": "pipelines", "resource_id": training["pipeline"]["id"], "subject_type": "user",
            "subject": "holder@acme.test"}
    for body, fix in (({**base}, "either a role"), ({**base, "role": "viewer", "permissions": ["runs:read"]},
                                                      "either a role"),
                      ({**base, "role": "owner"}, "role"), ({**base, "resource_type": "runs", "role": "viewer"},
                                                            "resource_type")):
        answer = cp_client.post("/api/v1/orgs/acme/shares", json={"workspace": "ws-a", "project": "p1", **body},
                                headers=bearer(world.token("admin", None)))
        assert answer.status_code in (400, 422) and fix in answer.text, (body, answer.status_code, answer.text)
    assert cp_client.post("/api/v1/orgs/acme/shares", headers=bearer(world.token("admin", None)), json={
        "workspace": "ws-a", "project": "p9", **base, "role": "viewer"}).status_code == 404
