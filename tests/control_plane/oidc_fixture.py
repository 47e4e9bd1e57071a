"""Starts the real ``oidc-provider`` (npm) on loopback for SSO tests, and a control plane to sign in to.

The provider's ``package.json`` and ``provider.mjs`` live beside this file; ``npm install`` runs once
into ``~/.cache/runyard-test-oidc/<hash of package.json>`` (about 5 s), and later runs reuse it.
"""

from __future__ import annotations

import hashlib
import html
import os
import re
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

HERE = Path(__file__).resolve().parent / "oidc"
CLIENT_SECRET = "runyard-sso-test-client-secret"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def provider_dir() -> Path:
    """The folder with ``node_modules/oidc-provider`` installed, made once per package.json."""
    package = (HERE / "package.json").read_bytes()
    target = Path(os.environ.get("RUNYARD_TEST_CACHE", Path.home() / ".cache")) / "runyard-test-oidc" / \
        hashlib.sha256(package).hexdigest()[:12]
    if not (target / "node_modules" / "oidc-provider").is_dir():
        target.mkdir(parents=True, exist_ok=True)
        (target / "package.json").write_bytes(package)
        subprocess.run(["npm", "install", "--no-audit", "--no-fund", "--loglevel=error"], cwd=target, check=True,
                       timeout=300, capture_output=True)
    shutil.copy(HERE / "provider.mjs", target / "provider.mjs")
    return target


@contextmanager
def oidc_provider(redirect_uri: str) -> Iterator[str]:
    """Runs the provider; yields its issuer URL; stops it (by process id) at the end."""
    folder = provider_dir()
    port = free_port()
    env = {**os.environ, "PORT": str(port), "REDIRECT_URI": redirect_uri, "CLIENT_SECRET": CLIENT_SECRET}
    process = subprocess.Popen(["node", "provider.mjs"], cwd=folder, env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT)
    issuer = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if process.poll() is not None:
                out = process.stdout.read().decode() if process.stdout else ""
                raise AssertionError(f"oidc-provider exited: {out}")
            try:
                if httpx.get(issuer + "/.well-known/openid-configuration", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        yield issuer
    finally:
        process.terminate()
        try:
            process.wait(5)
        except subprocess.TimeoutExpired:
            process.kill()


@contextmanager
def serve_in_thread(app: object, port: int) -> Iterator[str]:
    """uvicorn in a thread of this process (so the test can share the control plane object)."""
    import uvicorn

    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))  # type: ignore[arg-type]
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 20
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    try:
        yield url
    finally:
        server.should_exit = True
        thread.join(10)


_FORM = re.compile(r"<form([^>]*)>(.*?)</form>", re.S | re.I)
_INPUT = re.compile(r"<input[^>]*>", re.I)
_ATTR = re.compile(r"(\w+)=(?:\"([^\"]*)\"|'([^']*)'|([^\s>]+))")


def forms(page: str) -> list[tuple[str, dict[str, str]]]:
    """Every form of an HTML page: (action, {input name: value}); enough for the provider's plain forms."""
    found = []
    for form_attrs, inner in _FORM.findall(page):
        action = next((m[1] or m[2] or m[3] for m in _ATTR.findall(form_attrs) if m[0].lower() == "action"), "")
        fields = {}
        for tag in _INPUT.findall(inner):
            attrs = {m[0].lower(): html.unescape(m[1] or m[2] or m[3]) for m in _ATTR.findall(tag)}
            if "name" in attrs:
                fields[attrs["name"]] = attrs.get("value", "")
        found.append((html.unescape(action), fields))
    return found


def sign_in_through_provider(client: httpx.Client, start_url: str, login: str) -> httpx.Response:
    """Follows the SSO redirect and fills the provider's login and consent forms with plain form posts."""
    response = client.get(start_url, follow_redirects=True)
    for _ in range(5):
        if "/interaction/" not in response.url.path:
            return response
        action, fields = forms(response.text)[0]
        if "login" in fields:
            fields.update(login=login, password="any password")
        response = client.post(str(response.url.join(action)), data=fields, follow_redirects=True)
    return response
