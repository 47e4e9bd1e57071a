"""Signing in to a protected Workspace Server: discovery, the device flow, or a password.

``discover(url)`` reads the workspace's ``/.well-known/runyard`` (absent: the server needs no login).
:func:`device_login` is the OAuth 2.0 device authorization grant (RFC 8628) that ``runyard login`` uses
by default, like ``gh auth login``: it shows a URL and a code, then polls the control plane until the
person approves in a browser. :func:`password_login` is for terminals without a browser nearby.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from runyard import exceptions as ex
from runyard.client.credentials import Login

DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"


def discover(url: str, *, timeout: float = 10) -> dict[str, Any] | None:
    import httpx

    try:
        response = httpx.get(url.rstrip("/") + "/.well-known/runyard", timeout=timeout)
    except httpx.HTTPError as exc:
        raise ex.ServerUnavailable(f"Cannot reach {url} ({type(exc).__name__}).") from None
    if response.status_code == 404:
        return None
    try:
        data = response.json()
    except ValueError:
        return None
    return data if isinstance(data, dict) and data.get("auth") == "control_plane" else None


def device_login(control_plane_url: str, audience: str, *, show: Callable[[dict[str, Any]], None],
                 sleep: Callable[[float], None] = time.sleep, max_wait_s: float = 900) -> Login:
    """Runs the device flow; ``show`` gets the control plane's answer (``verification_uri``, ``user_code``)."""
    import httpx

    base = control_plane_url.rstrip("/")
    response = httpx.post(base + "/api/v1/auth/device/code", data={"audience": audience, "client_id": "runyard-cli"},
                          timeout=15)
    if response.status_code != 200:
        raise ex.ServerUnavailable("The control plane did not start a device login.")
    start = response.json()
    show(start)
    interval = float(start.get("interval", 5))
    deadline = time.monotonic() + min(max_wait_s, float(start.get("expires_in", 600)))
    while time.monotonic() < deadline:
        sleep(interval)
        polled = httpx.post(base + "/api/v1/auth/token", timeout=15,
                            data={"grant_type": DEVICE_GRANT, "device_code": start["device_code"]})
        body = polled.json()
        if polled.status_code == 200:
            return _login(base, audience, body)
        error = body.get("error")
        if error == "slow_down":
            interval += 5
        elif error != "authorization_pending":
            raise ex.Unauthenticated(f"The login was not approved ({error}).", hint="Run `runyard login` again.")
    raise ex.Unauthenticated("The login was not approved in time.", hint="Run `runyard login` again.")


def password_login(control_plane_url: str, audience: str, *, email: str, password: str) -> Login:
    import httpx

    base = control_plane_url.rstrip("/")
    response = httpx.post(base + "/api/v1/auth/token", timeout=30, data={
        "grant_type": "password", "username": email, "password": password, "audience": audience})
    if response.status_code != 200:
        message = "Wrong email or password."
        try:
            message = str(response.json().get("message") or message)
        except ValueError:
            pass
        raise ex.Unauthenticated(message)
    return _login(base, audience, response.json())


def _login(base: str, audience: str, body: dict[str, Any]) -> Login:
    return Login(control_plane_url=base, audience=audience, refresh_token=body.get("refresh_token"),
                 access_token=body["access_token"], expires_at=time.time() + float(body.get("expires_in", 300)))
