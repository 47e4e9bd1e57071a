"""The Control Plane server: ``create_control_plane_app()``.

Errors share the workspace's JSON shape (``{"error", "message", "hint"}``) and mapping. On top, every
401 and 403 is written to the audit log (in its own transaction: the refused request's is rolled back),
under the organization named in the path when there is one, so its admins see attempts against it.
"""

from __future__ import annotations

import contextlib
import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from runyard import __version__
from runyard import exceptions as ex
from runyard.control_plane.api import access, audit, auth, directory, pages, shares, sso, workspace_login
from runyard.control_plane.api.deps import request_actor
from runyard.control_plane.core import ControlPlane
from runyard.control_plane.services import audit as audit_service
from runyard.control_plane.services import orgs
from runyard.workspace.api import errors

logger = logging.getLogger("runyard.control_plane")

ROUTERS = (auth.router, directory.router, access.router, audit.router, pages.router, sso.router,
           workspace_login.router, shares.router)

SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"content-security-policy",
     b"default-src 'none'; style-src 'self' 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; "
     b"base-uri 'none'"),
]


def create_control_plane_app(database_url: str | None = None, *, control_plane: ControlPlane | None = None,
                             ) -> FastAPI:
    cp = control_plane or ControlPlane(database_url)
    app = FastAPI(title="Runyard Control Plane", version=__version__, openapi_url="/openapi.json",
                  docs_url="/docs", redoc_url=None,
                  description="Identities, organizations, roles and tokens for Runyard workspaces.")
    app.state.control_plane = cp
    include_routes(app)
    include_settings_pages(app)

    @app.get("/health", include_in_schema=False)
    def health() -> dict[str, Any]:
        return {"status": "ok", "service": "control-plane", "version": __version__}

    errors.install(app)
    install_refusal_audit(app)
    app.add_middleware(SecurityHeadersMiddleware)
    return app


def include_routes(app: FastAPI) -> None:
    for router in ROUTERS:
        app.include_router(router)


def include_settings_pages(app: FastAPI) -> None:
    """The dashboard's Settings pages (and their static files) on a control plane served alone (split
    mode); in all-in-one mode the workspace's dashboard already serves them."""
    from runyard.dashboard.pages import settings, settings_actions, static

    for module in (settings, settings_actions, static):
        app.include_router(module.router)


def install_refusal_audit(app: FastAPI) -> None:
    """401/403 -> an audit entry, then the usual error body (which names no internal detail)."""

    def on_refusal(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, ex.Unauthenticated | ex.PermissionDenied)
        if not getattr(request.state, "audited", False):  # a workspace route's guard may have recorded it
            try:
                _record_refusal(request, exc)
            except Exception:  # the refusal must still be answered
                logger.exception("Could not write the audit entry of a refused request.")
        status = 401 if isinstance(exc, ex.Unauthenticated) else 403
        response: JSONResponse = errors.error_response(status, exc.code, exc.message, exc.hint)
        if status == 401:
            response.headers["WWW-Authenticate"] = 'Bearer realm="runyard"'
        return response

    app.add_exception_handler(ex.Unauthenticated, on_refusal)
    app.add_exception_handler(ex.PermissionDenied, on_refusal)


def _record_refusal(request: Request, exc: ex.RunyardError) -> None:
    cp: ControlPlane = request.app.state.control_plane
    actor = getattr(request.state, "actor", None) or request_actor(request)
    org_id = None
    org_name = request.path_params.get("org")
    if org_name:
        with cp.db.session(write=False) as session, contextlib.suppress(ex.NotFound):
            org_id = orgs.get_org(session, name=str(org_name)).id
    audit_service.record_in_own_transaction(
        cp.db, action="auth.refused" if isinstance(exc, ex.Unauthenticated) else "auth.forbidden",
        outcome="denied", actor=actor, org_id=org_id, target=request.url.path[:300],
        details={"method": request.method, "reason": exc.message[:200]})


class SecurityHeadersMiddleware:
    """Headers for every answer: no sniffing, no framing, no referrer, a CSP without scripts."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def stamped(message: Message) -> None:
            if message["type"] == "http.response.start":
                present = {k.lower() for k, _ in message.get("headers", [])}
                message["headers"] = [*message.get("headers", []),
                                      *[(k, v) for k, v in SECURITY_HEADERS if k not in present]]
            await send(message)

        await self.app(scope, receive, stamped)
