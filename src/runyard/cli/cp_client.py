"""How the administration commands reach the control plane: its URL and a token from ``runyard login``.

Credentials come from ``RUNYARD_API_KEY`` (a service account key or personal access token) or from the
stored login of the workspace the client points at (``runyard login URL``); the access token is minted
for the control plane's own audience. Every failure becomes a :class:`~runyard.exceptions.RunyardError`
with a hint naming the fix, which ``friendly_errors`` prints as one line: no traceback, no token.
"""

from __future__ import annotations

import os
from typing import Any

import typer

from runyard import exceptions as ex

#: ``--org`` on every administration command; ``RUNYARD_ORG`` sets it for a whole shell.
OrgOption = typer.Option("default", "--org", envvar="RUNYARD_ORG", help="Organization (default: default).")


def connection() -> tuple[str, dict[str, str]]:
    """The control plane URL and an ``Authorization`` header (see the module docstring)."""
    from runyard.cli.control_plane import _control_plane_client

    return _control_plane_client()


def request(method: str, path: str, *, json: Any = None, params: dict[str, Any] | None = None,
            not_found_hint: str | None = None) -> Any:
    """One call to the control plane API; the decoded JSON body (``None`` for 204)."""
    import httpx

    from runyard.client.http import _error_from

    base, headers = connection()
    try:
        response = httpx.request(method, base + path, json=json, headers=headers, timeout=60,
                                 params={k: v for k, v in (params or {}).items() if v is not None})
    except httpx.HTTPError as exc:
        raise ex.ServerUnavailable(f"Cannot reach the control plane at {base} ({type(exc).__name__}).",
                                   hint="Check that the server runs (`runyard up`) and the URL you logged in to."
                                   ) from None
    if response.status_code >= 400:
        error = _error_from(response)
        if response.status_code == 401 and error.hint is None:
            error.hint = "Run `runyard login URL` again."
        if isinstance(error, ex.NotFound) and error.hint is None:
            error.hint = not_found_hint or "Check the name (and --org: `runyard org list` shows yours)."
        if "Workspace Server" in error.message:  # the generic text of the shared mapping
            error.message = error.message.replace("Workspace Server", "control plane")
        raise error
    if response.status_code == 204 or not response.content:
        return None
    return response.json()


def org_path(org: str, suffix: str = "") -> str:
    from urllib.parse import quote

    return f"/api/v1/orgs/{quote(org, safe='')}{suffix}"


def quoted(value: str) -> str:
    from urllib.parse import quote

    return quote(value, safe="")


def new_password(prompt: str) -> str:
    """A password for a new account: ``RUNYARD_NEW_USER_PASSWORD`` or a hidden, confirmed prompt."""
    value = os.environ.get("RUNYARD_NEW_USER_PASSWORD")
    if value:
        return value
    return str(typer.prompt(prompt, hide_input=True, confirmation_prompt=True))
