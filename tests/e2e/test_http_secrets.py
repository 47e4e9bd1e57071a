"""Secrets through a real Workspace Server process (`runyard up` in its own RUNYARD_HOME): the CLI and a
pipeline step reach them over HTTP, and the key that encrypts them exists only where the server runs."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated

import httpx
import pytest
from typer.testing import CliRunner

from runyard import pipeline, step
from runyard.cli.main import app as cli
from runyard.client import connection
from runyard.secrets import get_secret
from runyard.settings import get_settings

PASSWORD = "only-the-server-can-decrypt-this"


@step(enable_cache=False)
def uses_secret() -> Annotated[int, "password_length"]:
    return len(get_secret("warehouse")["password"])


@pipeline(enable_cache=False)
def secret_pipeline() -> None:
    uses_secret()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def server_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    home = tmp_path / "server-home"
    port = _free_port()
    env = {**os.environ, "RUNYARD_HOME": str(home), "PYTHONWARNINGS": "ignore"}
    env.pop("RUNYARD_SECRETS_KEY", None)
    process = subprocess.Popen([sys.executable, "-m", "runyard.cli.main", "up", "--port", str(port)], env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(url + "/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline and process.poll() is None, "the server did not start"
            time.sleep(0.1)
        monkeypatch.setenv("RUNYARD_URL", url)
        get_settings.cache_clear()
        connection.reset()
        yield home
    finally:
        process.terminate()
        process.wait(timeout=20)


def test_secrets_over_a_real_server(server_home: Path, runyard_home: Path) -> None:
    runner = CliRunner()
    made = runner.invoke(cli, ["secret", "create", "warehouse", "-v", "user=etl", "-v", "password"],
                         input=PASSWORD + "\n")
    assert made.exit_code == 0, made.output
    listed = json.loads(runner.invoke(cli, ["secret", "list", "-o", "json"]).stdout)
    assert [(s["name"], s["keys"]) for s in listed] == [("warehouse", ["password", "user"])]
    shown = json.loads(runner.invoke(cli, ["secret", "get", "warehouse", "--show-values", "-o", "json"]).stdout)
    assert shown["values"]["password"] == PASSWORD

    run = secret_pipeline()
    assert run.status == "completed"
    assert run.steps["uses_secret"].outputs["password_length"].load() == len(PASSWORD)

    assert (server_home / "secrets.key").exists()  # the key lives beside the server's database...
    assert not (runyard_home / "secrets.key").exists()  # ...and never on the client
    stored = b"".join(p.read_bytes() for p in server_home.glob("workspace.db*"))  # with the WAL file
    assert b"warehouse" in stored and PASSWORD.encode() not in stored
