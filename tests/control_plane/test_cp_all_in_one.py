"""All-in-one mode through the real CLI: ``runyard up --admin-email``, ``runyard login --password``, the SDK
over HTTP with the stored login, ``runyard audit list|export``, ``runyard logout``."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from oidc_fixture import free_port
from typer.testing import CliRunner

from all_in_one_server import all_in_one_server
from runyard.cli.main import app

pytestmark = pytest.mark.slow
ADMIN, PASSWORD = "admin@example.com", "a sturdy first password"


@pytest.fixture
def server(runyard_home: Path, tmp_path: Path) -> Iterator[str]:
    with all_in_one_server(tmp_path / "server-home", admin=ADMIN, password=PASSWORD, timeout_s=40) as url:
        yield url
    assert PASSWORD not in (tmp_path / "server-home" / "up.log").read_text()


def test_up_login_use_audit_logout(server: str, runyard_home: Path) -> None:
    runner = CliRunner()
    assert httpx.get(server + "/api/v1/runs").status_code == 401
    assert httpx.get(server + "/.well-known/runyard").json()["audience"] == "runyard:default:default"

    wrong = runner.invoke(app, ["login", server, "--password", "--email", ADMIN], input="not the password!\n")
    assert wrong.exit_code != 0 and "Wrong email or password" in wrong.output
    result = runner.invoke(app, ["login", server, "--password", "--email", ADMIN], input=PASSWORD + "\n")
    assert result.exit_code == 0, result.output
    stored = runyard_home / "credentials.json"
    assert stat.S_IMODE(stored.stat().st_mode) == 0o600
    tokens = json.loads(stored.read_text())[server]
    assert tokens["refresh_token"].startswith("ryr_") and tokens["refresh_token"] not in result.output
    assert tokens["access_token"] not in result.output

    listed = runner.invoke(app, ["run", "list", "-o", "json"])  # the SDK over HTTP, with the stored login
    assert listed.exit_code == 0, listed.output

    audit = runner.invoke(app, ["audit", "list", "-o", "json"])
    assert audit.exit_code == 0, audit.output
    events = json.loads(audit.output)["items"]
    assert {("login", "success"), ("login", "failure")} <= {(e["action"], e["outcome"]) for e in events}
    assert all(e["ip"] == "127.0.0.1" for e in events if e["action"] == "login")
    exported = runner.invoke(app, ["audit", "export", "--format", "csv"])
    assert exported.exit_code == 0 and exported.output.startswith("time,action,outcome")
    assert PASSWORD not in exported.output and tokens["refresh_token"] not in exported.output

    refresh = tokens["refresh_token"]
    assert runner.invoke(app, ["logout"]).exit_code == 0
    assert server not in json.loads(stored.read_text())
    again = httpx.post(server + "/api/v1/auth/token", data={"grant_type": "refresh_token", "refresh_token": refresh})
    assert again.status_code == 401  # the session ended at the control plane too


def test_up_refuses_to_start_without_a_first_admin_password(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RUNYARD_")}
    env["RUNYARD_HOME"] = str(tmp_path / "h")
    done = subprocess.run([sys.executable, "-m", "runyard.cli.main", "up", "--port", str(free_port()),
                           "--admin-email", ADMIN], env=env, stdin=subprocess.DEVNULL, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 2 and "RUNYARD_ADMIN_PASSWORD" in done.stderr
