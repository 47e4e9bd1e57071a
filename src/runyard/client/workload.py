"""Workload tokens: what a run's steps write with, instead of the credential of whoever started the run.

After the launcher creates a run on a Workspace Server that requires a login, it asks the control plane
for a token scoped to that run (``POST /api/v1/auth/workload-token``, with the caller's own credential:
an API key, or a control-plane token renewed from the ``runyard login`` session). The orchestrator, the
step runners (forked workers too), heartbeats and the run's final status then use that token: it may
write this run only, in this run's project only, and it is refused once the run has finished. The
embedded workspace and servers without authentication need none.
"""

from __future__ import annotations

import sys
import uuid
from typing import TYPE_CHECKING

from runyard import exceptions as ex

if TYPE_CHECKING:
    from runyard.client.http import HTTPTransport
    from runyard.client.workspace_api import WorkspaceAPI

WORKLOAD_TOKEN_PATH = "/api/v1/auth/workload-token"


def workload_api(api: WorkspaceAPI, run_id: uuid.UUID) -> WorkspaceAPI:
    """A client of the same workspace and project that writes with run ``run_id``'s workload token, or
    ``api`` itself where no login is needed."""
    if "runyard.client.http" not in sys.modules:  # then it cannot be an HTTP transport: skip importing it
        return api
    from runyard.client.http import HTTPTransport

    transport = api.transport
    if not isinstance(transport, HTTPTransport) or not (transport.api_key or transport.bearer):
        return api
    token = request_workload_token(transport, run_id=run_id, project=api.project)
    if token is None:
        return api
    return api.with_transport(transport.with_token(token))


def request_workload_token(transport: HTTPTransport, *, run_id: uuid.UUID, project: str) -> str | None:
    """The control plane's workload token for ``run_id``; ``None`` if the server needs no login."""
    import httpx

    if transport.bearer is not None and not transport.api_key:
        control_plane_url, audience = transport.bearer.control_plane_url, transport.bearer.audience
        credential = transport.bearer.control_plane_token()
    else:
        from runyard.client.login import discover

        found = discover(transport.url)
        if found is None:  # the server takes no logins: nothing to scope
            return None
        control_plane_url, audience = str(found["control_plane_url"]), str(found["audience"])
        credential = str(transport.api_key)
    try:
        response = httpx.post(control_plane_url.rstrip("/") + WORKLOAD_TOKEN_PATH, timeout=transport.timeout,
                              json={"audience": audience, "run_id": str(run_id), "project": project},
                              headers={"Authorization": f"Bearer {credential}"})
    except httpx.HTTPError as exc:
        raise ex.ServerUnavailable(f"Cannot reach the control plane at {control_plane_url} for the run's "
                                   f"workload token ({type(exc).__name__}).") from None
    if response.status_code == 200:
        return str(response.json()["access_token"])
    message = _message(response) or f"The control plane refused a workload token (HTTP {response.status_code})."
    if response.status_code == 403:
        raise ex.PermissionDenied(message, hint=f"Ask an admin for 'runs:create' in project {project!r}.")
    if response.status_code == 401:
        raise ex.Unauthenticated(message, hint=f"Run `runyard login {transport.url}` again.")
    raise ex.ServerUnavailable(message)


def _message(response: object) -> str | None:
    try:
        body = response.json()  # type: ignore[attr-defined]
    except ValueError:
        return None
    return str(body.get("message")) if isinstance(body, dict) and body.get("message") else None
