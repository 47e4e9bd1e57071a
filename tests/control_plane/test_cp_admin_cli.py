"""The administration commands against a real all-in-one server (``runyard up --admin-email`` in its own
process), signed in with ``runyard login --password``: one walk through each command group, the
``--output json`` of each listing, a viewer refused with a one-line message, and the not-logged-in,
not-found and unreachable errors naming their fix."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from oidc_fixture import free_port
from typer.testing import CliRunner

from all_in_one_server import all_in_one_server
from runyard.cli.main import app

pytestmark = pytest.mark.slow
ADMIN, PASSWORD = "admin@example.com", "a sturdy first password"
VIEWER, VIEWER_PASSWORD = "vera@example.com", "vera's own passphrase"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    home = tmp_path_factory.mktemp("server-home")
    with all_in_one_server(home, admin=ADMIN, password=PASSWORD, timeout_s=40) as url:
        yield url
    log = (home / "up.log").read_text()
    assert PASSWORD not in log and VIEWER_PASSWORD not in log


def ok(*args: str, input: str | None = None, env: dict[str, str] | None = None) -> str:
    result = CliRunner().invoke(app, list(args), input=input, env=env)
    assert result.exit_code == 0, f"runyard {' '.join(args)}:\n{result.output}"
    return result.output


def as_json(*args: str) -> Any:
    return json.loads(ok(*args, "-o", "json"))


def fails(*args: str) -> str:
    result = CliRunner().invoke(app, list(args))
    assert result.exit_code != 0, result.output
    assert "Traceback" not in result.output
    return result.output


def test_not_logged_in_names_the_fix(runyard_home: Path) -> None:
    out = fails("team", "list")
    assert "Not logged in" in out and "runyard login URL" in out


def test_every_group_as_admin_then_a_viewer_is_refused(server: str, runyard_home: Path) -> None:
    ok("login", server, "--password", "--email", ADMIN, input=PASSWORD + "\n")

    # org, workspace
    assert [o["name"] for o in as_json("org", "list")] == ["default"]
    assert as_json("org", "show")["permissions"] == ["*"]
    assert "default" in ok("org", "show")
    assert ok("org", "create", "research").startswith("Created organization")
    assert {o["name"] for o in as_json("org", "list")} == {"default", "research"}
    ok("workspace", "create", "lab", "http://127.0.0.1:9", "--org", "research")
    assert [w["name"] for w in as_json("workspace", "list", "--org", "research")] == ["lab"]

    # project
    ok("project", "create", "churn")
    assert [p["name"] for p in as_json("project", "list")] == ["churn"]

    # user, team
    ok("user", "create", VIEWER, "--name", "Vera", "--password", env={"RUNYARD_NEW_USER_PASSWORD": VIEWER_PASSWORD})
    assert {u["email"] for u in as_json("user", "list")} == {ADMIN, VIEWER}
    ok("team", "create", "data-science")
    ok("team", "add-member", "data-science", VIEWER)
    assert as_json("team", "show", "data-science")["members"] == [VIEWER]
    assert [t["name"] for t in as_json("team", "list")] == ["data-science"]

    # role, grant
    ok("role", "create", "auditor", "--permission", "audit:read", "--permission", "runs:read")
    assert {"admin", "viewer", "auditor"} <= {r["name"] for r in as_json("role", "list")}
    granted = as_json("grant", "create", "--role", "viewer", "--user", VIEWER)
    assert granted["subject"] == VIEWER and granted["scope_type"] == "org"
    on_project = as_json("grant", "create", "--role", "auditor", "--team", "data-science", "--workspace", "default",
                         "--project", "churn")
    assert on_project["scope"] == "default/churn"
    assert {g["id"] for g in as_json("grant", "list")} >= {granted["id"], on_project["id"]}
    assert "viewer" in ok("user", "show", VIEWER)

    # service-account, api-key
    ok("service-account", "create", "ci", "--description", "GitHub Actions")
    assert [a["name"] for a in as_json("service-account", "list")] == ["ci"]
    created = CliRunner().invoke(app, ["api-key", "create", "deploy", "--service-account", "ci"])
    assert created.exit_code == 0, created.output
    secret = created.stdout.strip()
    assert secret.startswith("ry_") and "never shown again" in created.stderr
    listed = as_json("api-key", "list", "--service-account", "ci")
    assert [k["name"] for k in listed] == ["deploy"] and secret not in json.dumps(listed)
    rotated = as_json("api-key", "rotate", listed[0]["id"])
    assert rotated["key"].startswith("ry_") and rotated["key"] != secret
    ok("api-key", "revoke", rotated["id"])
    assert httpx.post(server + "/api/v1/auth/token", data={"grant_type": "api_key",
                                                           "api_key": rotated["key"]}).status_code == 401
    pat = CliRunner().invoke(app, ["api-key", "create", "laptop", "--personal"])
    assert pat.exit_code == 0 and pat.stdout.strip().startswith("ryp_")

    # errors: not found, bad input, conflict
    missing = fails("team", "show", "nope")
    assert "No team 'nope'" in missing and "runyard team list" in missing
    assert "exactly one of --user" in fails("grant", "create", "--role", "viewer")
    assert "Revoke its grants first" in fails("role", "delete", "auditor", "--yes")
    ok("grant", "revoke", on_project["id"])
    ok("role", "delete", "auditor", "--yes")

    # a viewer: reads, but may not create a team, with one line naming the fix
    ok("login", server, "--password", "--email", VIEWER, input=VIEWER_PASSWORD + "\n")
    assert [t["name"] for t in as_json("team", "list")] == ["data-science"]
    refused = fails("team", "create", "sneaky")
    assert "You may not create teams in this organization." in refused
    assert "Ask an organization admin for 'teams:create'." in refused
    outsider = fails("org", "show", "--org", "research")  # not a member: 404, like an unknown one
    assert "No such organization." in outsider and "runyard org list" in outsider
    ok("login", server, "--password", "--email", ADMIN, input=PASSWORD + "\n")
    assert [t["name"] for t in as_json("team", "list")] == ["data-science"]

    # and the deletions
    ok("team", "remove-member", "data-science", VIEWER)
    ok("team", "delete", "data-science", "--yes")
    ok("project", "delete", "churn", "--yes")
    ok("service-account", "delete", "ci", "--yes")
    ok("user", "disable", VIEWER, "--yes")
    assert [u["is_active"] for u in as_json("user", "list") if u["email"] == VIEWER] == [False]
    assert as_json("team", "list") == [] and as_json("project", "list") == []
    actions = {e["action"] for e in as_json("audit", "list", "--limit", "200")["items"]}
    assert {"team.create", "team.delete", "grant.create", "role.delete", "service_account.delete",
            "user.deactivate", "auth.forbidden"} <= actions


def test_an_unreachable_control_plane_is_one_line(runyard_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RUNYARD_CONTROL_PLANE_URL", f"http://127.0.0.1:{free_port()}")
    monkeypatch.setenv("RUNYARD_API_KEY", "ry_abcdefgh_" + "x" * 32)
    from runyard.settings import get_settings

    get_settings.cache_clear()
    out = fails("user", "list")
    assert "Cannot reach the control plane" in out and "runyard up" in out
