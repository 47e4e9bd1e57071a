"""A real ``runyard up --admin-email`` process for end-to-end tests: its own home, cheap password hashing.

Importable from every test module (pytest puts ``tests/`` on ``sys.path`` for the root conftest).
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def all_in_one_server(home: Path, *, admin: str, password: str, extra_env: dict[str, str] | None = None,
                      timeout_s: float = 60) -> Iterator[str]:
    """Starts the server in ``home`` (its log in ``home/up.log``), yields its URL once ``/health`` answers,
    stops it at the end. Nothing of the test's own ``RUNYARD_*`` environment leaks into it."""
    home.mkdir(parents=True, exist_ok=True)
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("RUNYARD_")}
    env.update(RUNYARD_HOME=str(home), RUNYARD_ADMIN_PASSWORD=password, RUNYARD_PASSWORD_HASH_MEMORY_KIB="8192",
               RUNYARD_PASSWORD_HASH_TIME_COST="1", **(extra_env or {}))
    log = home / "up.log"
    with open(log, "wb") as handle:
        process = subprocess.Popen([sys.executable, "-m", "runyard.cli.main", "up", "--port", str(port),
                                    "--admin-email", admin, "--log-level", "warning"],
                                   env=env, stdout=handle, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout_s
        while True:
            assert process.poll() is None, log.read_text()
            assert time.monotonic() < deadline, log.read_text()
            try:
                if httpx.get(url + "/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
