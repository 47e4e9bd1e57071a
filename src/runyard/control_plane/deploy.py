"""Deployment modes: the app factories uvicorn serves.

- **split**: ``create_control_plane_server()`` (the control plane alone, its own database) and
  ``create_protected_workspace()`` (a Workspace Server that verifies tokens against the control plane at
  ``RUNYARD_CONTROL_PLANE_URL``, which it calls only for keys, revocations, API-key exchange and audit).
- **all-in-one**: ``RUNYARD_AUTH=all_in_one`` and the usual ``create_app``: one process serves the
  workspace API, the dashboard and the control plane, each with its own database; the workspace
  verifies tokens in-process.

Both protected modes put ``/.well-known/runyard`` on the workspace, which tells ``runyard login`` where
to sign in and which audience to ask for. The dashboard signs browsers in with the control plane's own
cookie session (all-in-one) or through ``/auth/login`` and the control plane's ``/workspace-login``
(split mode, :mod:`runyard.control_plane.browser_login`).
"""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request

from runyard.control_plane.audit_sink import HttpAuditSink, LocalAuditSink, LogAuditSink
from runyard.control_plane.cookie_auth import CookieSessions
from runyard.control_plane.core import DEFAULT_ORG, ControlPlane
from runyard.control_plane.guard import Authenticator, install_auth
from runyard.control_plane.verifier import HttpKeySource, TokenVerifier
from runyard.exceptions import ConfigurationError
from runyard.settings import Settings, get_settings

logger = logging.getLogger("runyard.auth")
DEFAULT_WORKSPACE = "default"


def authenticator_from_settings(settings: Settings) -> Authenticator | None:
    """``RUNYARD_AUTH=control_plane`` -> an authenticator against ``RUNYARD_CONTROL_PLANE_URL``; else ``None``."""
    if settings.auth != "control_plane":
        return None
    if not settings.control_plane_url or not settings.workspace_audience:
        raise ConfigurationError(
            "RUNYARD_AUTH=control_plane needs RUNYARD_CONTROL_PLANE_URL and RUNYARD_WORKSPACE_AUDIENCE.",
            hint="Register the workspace in the control plane and use the audience it shows.")
    verifier = TokenVerifier(HttpKeySource(settings.control_plane_url), audience=settings.workspace_audience,
                             issuer=settings.control_plane_issuer, min_refresh_s=settings.jwks_min_refresh_s,
                             poll_s=settings.revocation_poll_s)
    sink = HttpAuditSink(settings.control_plane_url, settings.audit_api_key.get_secret_value()) \
        if settings.audit_api_key else LogAuditSink()
    from runyard.control_plane.browser_login import cookie_token

    return Authenticator(verifier, audit=sink, cookie_login=cookie_token)


def install_discovery(app: FastAPI, *, control_plane_url: str | None, audience: str) -> None:
    """``GET /.well-known/runyard``: where to log in for this workspace (``null`` URL: this same server)."""

    @app.get("/.well-known/runyard", include_in_schema=False)
    def discovery(request: Request) -> dict[str, str | None]:
        base = control_plane_url or str(request.base_url).rstrip("/")
        return {"auth": "control_plane", "control_plane_url": base, "audience": audience}


def protect_from_settings(app: FastAPI, settings: Settings) -> None:
    """What ``create_app`` calls unless ``RUNYARD_AUTH=none``: the guard, and the discovery route."""
    if settings.auth == "all_in_one":
        serve_control_plane_here(app, ControlPlane())
        return
    authenticator = authenticator_from_settings(settings)
    if authenticator is None:
        return
    from runyard.control_plane.browser_login import install_browser_login

    install_auth(app, authenticator)
    install_discovery(app, control_plane_url=settings.control_plane_url, audience=authenticator.verifier.audience)
    assert settings.control_plane_url is not None
    install_browser_login(app, control_plane_url=settings.control_plane_url, audience=authenticator.verifier.audience,
                          verifier=authenticator.verifier)


def serve_control_plane_here(app: FastAPI, cp: ControlPlane) -> None:
    """All-in-one: mounts the control plane on the workspace's app; the workspace is ``default/default``
    and verifies tokens in-process."""
    from runyard.control_plane.api.app import SecurityHeadersMiddleware, include_routes, install_refusal_audit

    audience = cp.settings.workspace_audience or f"runyard:{DEFAULT_ORG}:{DEFAULT_WORKSPACE}"
    workspace = cp.register_workspace(name=DEFAULT_WORKSPACE, url="http://127.0.0.1", audience=audience)
    app.state.control_plane = cp
    include_routes(app)
    install_refusal_audit(app)
    install_auth(app, Authenticator(cp.verifier(audience), audit=LocalAuditSink(cp), org_id=str(workspace.org_id),
                                    cookie_login=CookieSessions(cp, audience)))
    install_discovery(app, control_plane_url=None, audience=audience)
    app.state.sign_in_path = "/login"  # dashboard pages send signed-out browsers there
    app.add_middleware(SecurityHeadersMiddleware)


def create_protected_workspace() -> FastAPI:
    """Split mode's Workspace Server (uvicorn factory): ``create_app`` with ``RUNYARD_AUTH=control_plane``."""
    from runyard.workspace.app import create_app

    if get_settings().auth != "control_plane":
        raise ConfigurationError("A protected workspace needs RUNYARD_AUTH=control_plane.")
    return create_app()


def create_control_plane_server() -> FastAPI:
    """Split mode's Control Plane (uvicorn factory)."""
    from runyard.control_plane.api.app import create_control_plane_app

    return create_control_plane_app()


def ensure_admin(control_plane: ControlPlane, *, email: str | None, password: str | None) -> bool:
    """Creates the first admin if given; ``False`` if the control plane has no user at all afterwards."""
    if email and password:
        control_plane.bootstrap_admin(email=email, password=password)
    return control_plane.has_users()
