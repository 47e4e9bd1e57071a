"""A real pipeline against a real Workspace Server (uvicorn on a loopback port), and the server CLI.

Everything the SDK and CLI do here goes over HTTP: the embedded workspace is never opened.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
import uuid
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated

import httpx
import pytest
from typer.testing import CliRunner

from runyard import Client, pipeline, step
from runyard.client import connection
from runyard.client.config import ClientConfig
from runyard.client.http import HTTPTransport
from runyard.settings import get_settings

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message=".*httpx2")
    import uvicorn

    from runyard.cli.main import app as cli
    from runyard.workspace.app import create_app


@step
def numbers(n: int = 4) -> Annotated[list[int], "numbers"]:
    return list(range(n))


@step
def squares(numbers: list[int]) -> Annotated[list[int], "squares"]:
    return [x * x for x in numbers]


@step
def total(squares: list[int]) -> Annotated[int, "total"]:
    return sum(squares)


@pipeline
def squares_pipeline(n: int = 4) -> None:
    total(squares(numbers(n=n)))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_for_health(url: str, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            if httpx.get(url + "/health", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        assert time.monotonic() < deadline, f"no server answered at {url}"
        time.sleep(0.05)


def _text(output: str) -> str:
    """CLI output with Rich's line wrapping undone."""
    return " ".join(output.split())


def _reset_client() -> None:
    get_settings.cache_clear()
    connection.reset()


@pytest.fixture
def server(runyard_home: Path) -> Iterator[str]:
    """A Workspace Server in a background thread, on its own SQLite database."""
    database = f"sqlite:///{runyard_home / 'server' / 'workspace.db'}"
    config = uvicorn.Config(create_app(database), host="127.0.0.1", port=_free_port(), log_level="warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="workspace-server", daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{config.port}"
    try:
        _wait_for_health(url)
        yield url
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@pytest.fixture
def remote(server: str, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("RUNYARD_URL", server)
    _reset_client()
    return server


def test_a_pipeline_runs_against_the_server(remote: str, runyard_home: Path) -> None:
    assert isinstance(connection.workspace_api().transport, HTTPTransport)
    run = squares_pipeline(n=5)

    assert run.status == "completed"
    assert list(run.steps) == ["numbers", "squares", "total"]
    assert all(st.status == "completed" for st in run.steps.values())
    assert run.steps["squares"].outputs["squares"].load() == [0, 1, 4, 9, 16]
    assert run.steps["total"].outputs["total"].load() == 30

    again = Client().get_run(run.id)
    assert again.status == "completed" and again.steps["total"].outputs["total"].version == 1
    assert [r.id for r in Client().list_runs(pipeline="squares_pipeline")] == [run.id]
    assert Client().get_artifact_version("total").load() == 30

    # it really went over HTTP: the server counted the requests, the embedded workspace was never created
    metrics = httpx.get(remote + "/metrics").text
    assert 'method="POST",route="/api/v1/runs",status="201"' in metrics
    assert 'method="PATCH",route="/api/v1/steps/{step_run_id:uuid}",status="200"' in metrics
    assert not (runyard_home / "workspace.db").exists()

    listed = CliRunner().invoke(cli, ["run", "list", "-o", "json"])
    assert listed.exit_code == 0, listed.output
    assert [r["id"] for r in json.loads(listed.stdout)["items"]] == [str(run.id)]

    status = CliRunner().invoke(cli, ["status"])
    assert status.exit_code == 0 and remote in status.stdout and "database ok" in _text(status.stdout)


def test_errors_over_http_are_the_domain_errors(remote: str) -> None:
    from runyard.exceptions import NotFound

    with pytest.raises(NotFound, match="No run with id"):
        Client().get_run(uuid.uuid4())
    shown = CliRunner().invoke(cli, ["run", "show", str(uuid.uuid4())])
    assert shown.exit_code == 1 and "No run with id" in _text(shown.output)


def test_login_status_logout(server: str, runyard_home: Path) -> None:
    runner = CliRunner()
    logged_in = runner.invoke(cli, ["login", server + "/"])
    assert logged_in.exit_code == 0, logged_in.output
    assert "Logged in" in _text(logged_in.stdout) and ClientConfig.load().url == server
    _reset_client()
    assert isinstance(connection.workspace_api().transport, HTTPTransport)
    assert "database ok" in _text(runner.invoke(cli, ["status"]).stdout)

    logged_out = runner.invoke(cli, ["logout"])
    assert logged_out.exit_code == 0 and "embedded workspace" in _text(logged_out.stdout)
    assert ClientConfig.load().url is None
    _reset_client()
    assert not isinstance(connection.workspace_api().transport, HTTPTransport)


def test_login_to_nothing_says_so_and_saves_nothing() -> None:
    result = CliRunner().invoke(cli, ["login", f"http://127.0.0.1:{_free_port()}"])
    assert result.exit_code == 1
    assert "Cannot reach the Workspace Server" in _text(result.output) and "runyard up" in _text(result.output)
    assert ClientConfig.load().url is None


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.10", "::", "example.com"])
def test_up_refuses_to_listen_beyond_loopback_without_auth(host: str) -> None:
    result = CliRunner().invoke(cli, ["up", "--host", host])
    assert result.exit_code == 2
    assert "no authentication" in _text(result.output) and "--i-know-there-is-no-auth" in _text(result.output)


def test_runyard_up_serves_the_workspace(runyard_home: Path, tmp_path: Path) -> None:
    port = _free_port()
    env = {**os.environ, "RUNYARD_HOME": str(runyard_home), "PYTHONWARNINGS": "ignore"}
    database = f"sqlite:///{tmp_path / 'up.db'}"
    process = subprocess.Popen(
        [sys.executable, "-m", "runyard.cli.main", "up", "--port", str(port), "--database-url", database],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        _wait_for_health(url)
        assert httpx.get(url + "/").status_code == 200
        assert httpx.post(url + "/api/v1/pipelines", json={"name": "from_up"}).status_code == 201
        assert (tmp_path / "up.db").exists()
    finally:
        process.terminate()
        output, _ = process.communicate(timeout=20)
    assert f"http://127.0.0.1:{port}/" in output and "runyard login" in _text(output)


@step(enable_cache=False)
def wait_for_flag(flag: str) -> Annotated[int, "waited"]:
    deadline = time.time() + 30
    while not Path(flag).exists() and time.time() < deadline:
        time.sleep(0.05)
    return 1


@step(enable_cache=False)
def after_wait(x: int) -> Annotated[int, "after_wait"]:
    return x + 1


@pipeline
def waiting_pipeline(flag: str = "") -> None:
    after_wait(wait_for_flag(flag=flag))


def test_cancel_over_http_from_another_thread(remote: str, tmp_path: Path) -> None:
    """The runner reports over HTTP in a thread; the cancel comes over HTTP from this one."""
    from runyard.exceptions import Conflict

    flag = tmp_path / "go"
    result: dict[str, object] = {}
    thread = threading.Thread(target=lambda: result.update(run=waiting_pipeline(flag=str(flag))))
    thread.start()
    client = Client()
    deadline = time.monotonic() + 30
    run_id = None
    while run_id is None and time.monotonic() < deadline:
        for run in client.list_runs(pipeline="waiting_pipeline", status="running"):
            step_run = run.steps.get("wait_for_flag")
            if step_run is not None and step_run.status == "running":
                run_id = run.id
        time.sleep(0.05)
    assert run_id is not None
    assert client.cancel_run(run_id).status == "cancelling"
    flag.touch()
    thread.join(30)
    finished = client.get_run(run_id)
    assert finished.status == "cancelled"
    assert {k: v.status for k, v in finished.steps.items()} == {"wait_for_flag": "completed", "after_wait": "cancelled"}
    assert 'method="POST",route="/api/v1/runs/{run_id}/cancel",status="200"' in httpx.get(remote + "/metrics").text

    with pytest.raises(Conflict, match="already been cancelled"):  # the same exception class as in-process
        client.cancel_run(run_id)
    refused = CliRunner().invoke(cli, ["run", "cancel", str(run_id)])
    assert refused.exit_code == 1 and "already been cancelled" in _text(refused.output)
