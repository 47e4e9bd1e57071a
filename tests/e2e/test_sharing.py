"""Sharing one pipeline with a team, end to end against a real all-in-one server (``runyard up
--admin-email``): the admin runs two pipelines, shares one with team ``ml`` through ``runyard share``, a
member of the team (who holds no grant at all) logs in and sees that pipeline, its run and the artifact
it wrote, and nothing else; the member cannot share it on; revoking the share ends the member's access
within the revocation poll, with the token they already hold.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import httpx
import pytest
from typer.testing import CliRunner

from all_in_one_server import all_in_one_server
from runyard import Client, pipeline, step
from runyard.cli.main import app as cli
from runyard.exceptions import NotFound

pytestmark = pytest.mark.slow
ADMIN, ANA, PASSWORD = "admin@example.com", "ana@example.com", "a sturdy first password"


@step
def make() -> Annotated[int, "weights"]:
    return 42


@pipeline
def training() -> None:
    make()


@step
def score() -> Annotated[int, "scores"]:
    return 7


@pipeline
def scoring() -> None:
    score()


@pytest.fixture
def server(tmp_path: Path) -> Iterator[str]:
    with all_in_one_server(tmp_path / "server-home", admin=ADMIN, password=PASSWORD,
                           extra_env={"RUNYARD_REVOCATION_POLL_S": "0.2"}) as url:
        yield url


def ok(*args: str, input: str | None = None) -> str:
    result = CliRunner().invoke(cli, list(args), input=input)
    assert result.exit_code == 0, f"runyard {' '.join(args)}:\n{result.output}"
    return result.output


def as_json(*args: str) -> Any:
    return json.loads(ok(*args, "-o", "json"))


def login(server: str, email: str) -> None:
    from runyard.client import connection
    from runyard.settings import get_settings

    ok("login", server, "--password", "--email", email, input=PASSWORD + "\n")
    get_settings.cache_clear()
    connection.reset()


def test_a_team_share_end_to_end(server: str, runyard_home: Path) -> None:
    login(server, ADMIN)
    shared_run, other_run = training(), scoring()
    assert shared_run.data.status == other_run.data.status == "completed"
    admin_cp = {"Authorization": "Bearer " + httpx.post(server + "/api/v1/auth/token", data={
        "grant_type": "password", "username": ADMIN, "password": PASSWORD}).json()["access_token"]}
    created = httpx.post(server + "/api/v1/orgs/default/users", headers=admin_cp,
                         json={"email": ANA, "password": PASSWORD})
    assert created.status_code == 201, created.text
    ok("team", "create", "ml")
    ok("team", "add-member", "ml", ANA)

    out = ok("share", "create", "pipeline", "training", "--team", "ml", "--role", "viewer")
    assert out.startswith("Shared pipeline training (default) with team ml: artifacts:read, pipelines:read, runs:read")
    [share] = as_json("share", "list")
    assert (share["resource_name"], share["subject"], share["role"]) == ("training", "ml", "viewer")
    unknown = CliRunner().invoke(cli, ["share", "create", "pipeline", "training", "--team", "nope", "--role", "viewer"])
    assert unknown.exit_code != 0 and "No team 'nope'" in unknown.output and "runyard team list" in unknown.output
    assert "Traceback" not in unknown.output

    # ana holds no grant: only the share lets her in, and she sees the shared pipeline and no more
    login(server, ANA)
    assert [p["name"] for p in as_json("pipeline", "list")["items"]] == ["training"]
    assert [r["id"] for r in as_json("run", "list")["items"]] == [str(shared_run.id)]
    client = Client()
    assert client.get_run(shared_run.id).status == "completed"
    assert client.get_artifact_version("weights").load() == 42
    with pytest.raises(NotFound):
        client.get_run(other_run.id)
    with pytest.raises(NotFound):
        client.get_artifact_version("scores")
    refused = CliRunner().invoke(cli, ["share", "create", "pipeline", "training", "--user", ADMIN, "--role", "viewer"])
    assert refused.exit_code != 0 and "Traceback" not in refused.output
    assert "You may not share pipelines in project 'default'" in refused.output and "pipelines:share" in refused.output
    credentials = json.loads((runyard_home / "credentials.json").read_text())
    ana = {"Authorization": f"Bearer {credentials[server]['access_token']}"}
    assert httpx.get(f"{server}/api/v1/runs/{shared_run.id}", headers=ana).status_code == 200

    # revoked: the token ana already holds stops working within the workspace's revocation poll
    login(server, ADMIN)
    assert ok("share", "revoke", share["id"]).startswith(f"Revoked share {share['id']}")
    deadline = time.monotonic() + 10
    while httpx.get(f"{server}/api/v1/runs/{shared_run.id}", headers=ana).status_code != 403:
        assert time.monotonic() < deadline, "the workspace kept honouring a revoked share"
        time.sleep(0.1)
    assert as_json("share", "list") == []
    events = httpx.get(server + "/api/v1/orgs/default/audit", headers=admin_cp).json()
    actions = [e["action"] for e in (events["items"] if isinstance(events, dict) else events)]
    assert "share.create" in actions and "share.revoke" in actions and "auth.forbidden" in actions
    gone = CliRunner().invoke(cli, ["share", "revoke", str(uuid.uuid4())])
    assert gone.exit_code != 0 and gone.output.startswith("Error: No such share")
    assert "runyard share list" in gone.output
