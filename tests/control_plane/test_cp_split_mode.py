"""Split mode, end to end: a control plane and two Workspace Servers as separate uvicorn processes.

Each has its own database; the workspaces know the control plane only by URL. A user of workspace A can
neither read, list nor guess anything of workspace B; revoking a session reaches a workspace within its
poll interval; a workspace keeps serving issued tokens while the control plane is down.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from cp_world import World, build_world

from runyard.control_plane.core import ControlPlane

pytestmark = pytest.mark.slow
SECRET = "split-mode-test-secret-key-0123456789"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Server:
    process: subprocess.Popen[bytes]
    url: str
    log: Path

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)


def _start(factory: str, env: dict[str, str], log: Path) -> Server:
    port = _free_port()
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("RUNYARD_")}
    full_env.update(env)
    with open(log, "wb") as handle:
        process = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "--factory", factory, "--host", "127.0.0.1", "--port", str(port),
             "--log-level", "warning"], env=full_env, stdout=handle, stderr=subprocess.STDOUT)
    server = Server(process, f"http://127.0.0.1:{port}", log)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"{factory} exited:\n{log.read_text()}")
        try:
            if httpx.get(server.url + "/health", timeout=1).status_code == 200:
                return server
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    server.stop()
    raise AssertionError(f"{factory} did not start:\n{log.read_text()}")


@dataclass
class Deployment:
    world: World
    cp: Server
    a: Server
    b: Server


@pytest.fixture
def deployment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Deployment]:
    from runyard.settings import get_settings

    monkeypatch.setenv("RUNYARD_CONTROL_PLANE_SECRET_KEY", SECRET)
    get_settings.cache_clear()
    cp_url = f"sqlite:///{tmp_path / 'cp.db'}"
    world = build_world(ControlPlane(cp_url))
    common = {"RUNYARD_CONTROL_PLANE_SECRET_KEY": SECRET, "RUNYARD_PASSWORD_HASH_MEMORY_KIB": "8192",
              "RUNYARD_PASSWORD_HASH_TIME_COST": "1"}
    servers: list[Server] = []
    try:
        cp = _start("runyard.control_plane.deploy:create_control_plane_server",
                    {**common, "RUNYARD_HOME": str(tmp_path / "cp-home"),
                     "RUNYARD_CONTROL_PLANE_DATABASE_URL": cp_url}, tmp_path / "cp.log")
        servers.append(cp)
        for name, ws in (("a", world.ws_a), ("b", world.ws_b)):
            servers.append(_start("runyard.control_plane.deploy:create_protected_workspace", {
                "RUNYARD_HOME": str(tmp_path / f"ws-{name}"), "RUNYARD_AUTH": "control_plane",
                "RUNYARD_DATABASE_URL": f"sqlite:///{tmp_path / f'ws-{name}.db'}",
                "RUNYARD_CONTROL_PLANE_URL": cp.url, "RUNYARD_WORKSPACE_AUDIENCE": ws.audience,
                "RUNYARD_REVOCATION_POLL_S": "1", "RUNYARD_JWKS_MIN_REFRESH_S": "1"}, tmp_path / f"ws-{name}.log"))
        yield Deployment(world, cp, servers[1], servers[2])
    finally:
        for server in servers:
            server.stop()


def _h(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _seed(ws: Server, token: str, label: str) -> dict[str, str]:
    """A pipeline, snapshot and run in one workspace, created over HTTP by its user."""
    with httpx.Client(base_url=ws.url, headers=_h(token), timeout=10) as client:
        pipe = client.post("/api/v1/pipelines", json={"name": f"pipe-{label}"})
        assert pipe.status_code == 201, pipe.text
        stack = client.get("/api/v1/stacks/default").json()
        snap = client.post("/api/v1/snapshots", json={"id": str(uuid.uuid4()), "pipeline_id": pipe.json()["id"],
                                                      "stack_id": stack["id"], "spec": {"steps": []},
                                                      "spec_hash": "h" * 16})
        assert snap.status_code == 201, snap.text
        run = client.post("/api/v1/runs", json={"id": str(uuid.uuid4()), "snapshot_id": snap.json()["id"],
                                                "status": "running", "name": f"run-{label}"})
        assert run.status_code == 201, run.text
        return {"pipeline": pipe.json()["id"], "run": run.json()["id"]}


def test_split_mode_isolates_workspaces_and_revokes(deployment: Deployment) -> None:
    world, a, b = deployment.world, deployment.a, deployment.b
    token_a, refresh_a = world.session_token("developer", "a")
    token_b = world.token("other_ws", "b")
    in_a, in_b = _seed(a, token_a, "a"), _seed(b, token_b, "b")

    # A's user, on B: every read, list and guess is refused before any lookup
    for path in ("/api/v1/pipelines", "/api/v1/runs", f"/api/v1/runs/{in_b['run']}",
                 f"/api/v1/pipelines/{in_b['pipeline']}", "/api/v1/artifacts", "/api/v1/stacks", "/runs"):
        response = httpx.get(b.url + path, headers=_h(token_a))
        assert response.status_code == 401, (path, response.status_code)
        assert "pipe-b" not in response.text and in_b["run"] not in response.text
    # ... and the control plane will not give them a token for B
    refused = httpx.post(deployment.cp.url + "/api/v1/auth/token", data={
        "grant_type": "refresh_token", "refresh_token": refresh_a, "audience": world.ws_b.audience})
    assert refused.status_code == 403
    # ... while in A they see A only, and B's ids are simply unknown there
    listed = httpx.get(a.url + "/api/v1/pipelines", headers=_h(token_a)).json()
    assert [p["name"] for p in listed["items"]] == ["pipe-a"] and listed["items"][0]["id"] == in_a["pipeline"]
    assert httpx.get(a.url + f"/api/v1/runs/{in_b['run']}", headers=_h(token_a)).status_code == 404
    # an API key works through the control plane's exchange
    assert httpx.get(a.url + "/api/v1/runs", headers=_h(world.api_key)).status_code == 200

    # revoking A's session (through the control plane's API) reaches workspace A within the poll interval
    admin_cp = world.cp.login_token(user_id=world.users["admin"].id, audience=None)[0]
    claims = world.cp.verifier(world.ws_a.audience).verify(token_a)
    assert httpx.delete(deployment.cp.url + f"/api/v1/orgs/acme/sessions/{claims['sid']}",
                        headers=_h(admin_cp)).status_code == 204
    deadline = time.monotonic() + 10
    status = 200
    while time.monotonic() < deadline and status == 200:
        status = httpx.get(a.url + "/api/v1/runs", headers=_h(token_a)).status_code
        time.sleep(0.2)
    assert status == 401

    # the control plane goes down: B keeps serving the token it already verified
    deployment.cp.stop()
    for _ in range(3):
        assert httpx.get(b.url + "/api/v1/runs", headers=_h(token_b)).status_code == 200
        time.sleep(0.3)
    assert "pipe-b" in httpx.get(b.url + "/api/v1/pipelines", headers=_h(token_b)).text
    fresh = world.token("other_ws", "b")  # issued while the control plane's server is down: known key, accepted
    assert httpx.get(b.url + "/api/v1/runs", headers=_h(fresh)).status_code == 200
