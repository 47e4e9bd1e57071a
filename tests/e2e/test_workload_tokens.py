"""A pipeline run by a project developer against an all-in-one server with logins (``runyard up
--admin-email``): its steps write with the run's workload token, in forked workers too.

The proof is a revocation mid-run: the second step ends the developer's own login session. Every write
after that (the third step's, the run's final status) can only succeed with the workload token, which
has a session of its own. Afterwards the developer's token is refused, the workload token is refused
because its run has finished, and the audit log shows the token's issue and the workload's writes.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import httpx
import pytest
from typer.testing import CliRunner

from all_in_one_server import all_in_one_server
from runyard import get_step_context, log_metadata, pipeline, step
from runyard.cli.main import app as cli

pytestmark = pytest.mark.slow
ADMIN, DEV, PASSWORD = "admin@example.com", "dev@example.com", "a sturdy first password"
#: Where the steps leave what the test checks afterwards (they may run in forked workers).
NOTES = Path(os.environ.get("RUNYARD_TEST_NOTES", "/nonexistent"))


@step
def first() -> Annotated[int, "seed"]:
    return 20


@step
def end_my_login(seed: int) -> Annotated[int, "doubled"]:
    """Logs the developer out at the control plane (as `runyard logout` would) and waits until the
    workspace has refused the session; keeps the run's workload token for the test."""
    notes = json.loads(NOTES.read_text())
    server = notes["server"]
    login = json.loads((Path(notes["home"]) / "credentials.json").read_text())[server]
    cp_token = httpx.post(server + "/api/v1/auth/token", data={
        "grant_type": "refresh_token", "refresh_token": login["refresh_token"]}).json()["access_token"]
    ended = httpx.post(server + "/api/v1/auth/logout", headers={"Authorization": f"Bearer {cp_token}"})
    assert ended.status_code == 204
    deadline = time.monotonic() + 10
    while httpx.get(server + "/api/v1/runs", headers={"Authorization": f"Bearer {login['access_token']}",
                                                      "X-Runyard-Project": "vision"}).status_code != 401:
        assert time.monotonic() < deadline, "the workspace kept accepting a revoked session"
        time.sleep(0.1)
    notes["workload_token"] = get_step_context().api.transport.api_key
    NOTES.write_text(json.dumps(notes))
    return seed * 2


@step
def last(doubled: int) -> Annotated[int, "answer"]:
    log_metadata({"written_after_logout": True}, on_run=True)
    return doubled + 2


@pipeline
def workload_pipeline() -> None:
    last(end_my_login(first()))


@pytest.fixture
def server(tmp_path: Path) -> Iterator[str]:
    with all_in_one_server(tmp_path / "server-home", admin=ADMIN, password=PASSWORD,
                           extra_env={"RUNYARD_REVOCATION_POLL_S": "0.2"}) as url:
        yield url


def _admin(server: str, *, workspace: bool = False) -> dict[str, str]:
    """The admin's token for the control plane, or (``workspace``) for the all-in-one workspace."""
    data = {"grant_type": "password", "username": ADMIN, "password": PASSWORD}
    if workspace:
        data["audience"] = "runyard:default:default"
    token = httpx.post(server + "/api/v1/auth/token", data=data).json()["access_token"]
    return {"Authorization": f"Bearer {token}"}


def _ok(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, (response.status_code, response.text)
    return response.json() if response.content else None


def _set_up_project(server: str) -> None:
    """Project ``vision`` with a local_parallel stack, and a developer granted on that project only."""
    admin = _admin(server)
    _ok(httpx.post(server + "/api/v1/orgs/default/users", headers=admin,
                   json={"email": DEV, "password": PASSWORD}), 201)
    _ok(httpx.post(server + "/api/v1/orgs/default/workspaces/default/projects", headers=admin,
                   json={"name": "vision"}), 201)
    _ok(httpx.post(server + "/api/v1/orgs/default/grants", headers=admin, json={
        "role": "developer", "subject_type": "user", "subject": DEV, "scope_type": "project",
        "scope": "default/vision"}), 201)
    in_vision = {**_admin(server, workspace=True), "X-Runyard-Project": "vision"}
    _ok(httpx.post(server + "/api/v1/components", headers=in_vision, json={
        "type": "orchestrator", "name": "parallel", "flavor": "local_parallel", "config": {"max_workers": 2}}), 201)
    _ok(httpx.get(server + "/api/v1/stacks/default", headers=in_vision))  # vision's default components
    _ok(httpx.post(server + "/api/v1/stacks", headers=in_vision, json={
        "name": "parallel", "components": {"orchestrator": "parallel", "artifact_store": "default"}}), 201)


def test_steps_write_with_the_runs_workload_token(server: str, runyard_home: Path, tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    from runyard.client import connection
    from runyard.settings import get_settings

    _set_up_project(server)
    login = CliRunner().invoke(cli, ["login", server, "--password", "--email", DEV], input=PASSWORD + "\n")
    assert login.exit_code == 0, login.output
    notes = tmp_path / "notes.json"
    notes.write_text(json.dumps({"server": server, "home": str(runyard_home)}))
    monkeypatch.setattr(sys.modules[__name__], "NOTES", notes)
    monkeypatch.setenv("RUNYARD_PROJECT", "vision")
    get_settings.cache_clear()
    connection.reset()

    run = workload_pipeline.with_options(stack="parallel")()

    assert run.data.status == "completed", run.data.error
    admin = {**_admin(server, workspace=True), "X-Runyard-Project": "vision"}
    stored = _ok(httpx.get(f"{server}/api/v1/runs/{run.id}", headers=admin))
    assert stored["status"] == "completed" and stored["metadata"] == {"written_after_logout": True}
    steps = _ok(httpx.get(f"{server}/api/v1/steps", headers=admin, params={"run_id": str(run.id)}))["items"]
    assert {s["invocation_id"]: s["status"] for s in steps} == {
        "first": "completed", "end_my_login": "completed", "last": "completed"}
    answer = _ok(httpx.get(f"{server}/api/v1/artifact-versions/answer", headers=admin))
    assert answer["producer_step_run_id"] == next(s["id"] for s in steps if s["invocation_id"] == "last")

    # the developer's own login is over, and the workload token ended with its run
    saved = json.loads(notes.read_text())
    workload = {"Authorization": f"Bearer {saved['workload_token']}", "X-Runyard-Project": "vision"}
    refused = httpx.get(f"{server}/api/v1/runs/{run.id}", headers=workload)
    assert refused.status_code == 401 and "finished" in refused.json()["message"]
    import jwt

    claims = jwt.decode(saved["workload_token"], options={"verify_signature": False})
    assert claims["kind"] == "workload" and claims["run"] == str(run.id) and claims["perms"] == []
    assert set(claims["proj"]) == {"vision"} and "runs:delete" not in claims["proj"]["vision"]

    events = _ok(httpx.get(server + "/api/v1/orgs/default/audit", headers=_admin(server),
                           params={"limit": 200}))["items"]
    issued = [e for e in events if e["action"] == "token.workload"]
    assert [(e["target"], e["actor_name"], e["details"].get("project")) for e in issued] == [
        (f"run:{run.id}", DEV, "vision")]
    finished = [e for e in events if e["action"] == "run.update" and e["target"] == f"/runs/{run.id}"]
    assert finished and all(e["details"].get("run") == str(run.id) for e in finished)  # written as the workload
    triggered = [e for e in events if e["action"] == "run.trigger" and e["outcome"] == "success"]
    assert [e["actor_name"] for e in triggered] == [DEV] and "run" not in triggered[0]["details"]



@step
def read_the_secret() -> Annotated[int, "length"]:
    from runyard.secrets import get_secret

    token = get_step_context().api.transport.api_key
    notes = json.loads(NOTES.read_text())
    notes["secret_reader_token"] = token
    NOTES.write_text(json.dumps(notes))
    return len(get_secret("warehouse")["password"])


@pipeline(enable_cache=False)
def secret_pipeline() -> None:
    read_the_secret()


def test_steps_read_the_secrets_their_creator_may_read_and_no_other(server: str, runyard_home: Path,
                                                                    tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """Secrets belong to the whole workspace: the workload token carries ``secrets:read_secret_values``
    only when its creator holds it workspace-wide (the admin), never from a project grant (the developer)."""
    from runyard.client import connection
    from runyard.settings import get_settings

    _set_up_project(server)
    workspace_admin = _admin(server, workspace=True)
    _ok(httpx.post(server + "/api/v1/secrets", headers=workspace_admin,
                   json={"name": "warehouse", "values": {"password": "s3cret-value"}}), 201)
    notes = tmp_path / "notes.json"
    monkeypatch.setattr(sys.modules[__name__], "NOTES", notes)

    def run_as(email: str, project: str) -> Any:
        login = CliRunner().invoke(cli, ["login", server, "--password", "--email", email], input=PASSWORD + "\n")
        assert login.exit_code == 0, login.output
        notes.write_text(json.dumps({}))
        monkeypatch.setenv("RUNYARD_PROJECT", project)
        get_settings.cache_clear()
        connection.reset()
        return secret_pipeline()

    run = run_as(ADMIN, "default")
    assert run.data.status == "completed", run.data.error
    assert run.steps["read_the_secret"].outputs["length"].load() == len("s3cret-value")
    import jwt

    claims = jwt.decode(json.loads(notes.read_text())["secret_reader_token"], options={"verify_signature": False})
    assert claims["kind"] == "workload" and "secrets:read_secret_values" in claims["perms"]
    events = _ok(httpx.get(server + "/api/v1/orgs/default/audit", headers=_admin(server),
                           params={"limit": 200}))["items"]
    reads = [e for e in events if e["action"] == "secret.read_values" and e["outcome"] == "success"]
    assert reads and reads[-1]["details"].get("run") == str(run.id)  # read as the run's workload

    refused = run_as(DEV, "vision")  # a project developer: no workspace-wide secrets grant
    assert refused.data.status == "failed"
    assert "may not read secret values" in (refused.steps["read_the_secret"].data.error or "")
    claims = jwt.decode(json.loads(notes.read_text())["secret_reader_token"], options={"verify_signature": False})
    assert claims["perms"] == []
