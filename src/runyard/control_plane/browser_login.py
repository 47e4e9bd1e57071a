"""The dashboard's sign-in on a split-mode Workspace Server: the workspace's half of the code flow.

``GET /auth/login?next=/runs`` sends the browser to the control plane's ``/workspace-login`` with a
random ``state`` and a PKCE challenge, keeping both secrets in a short-lived ``HttpOnly`` cookie scoped to
``/auth``. ``GET /auth/callback`` checks ``state`` (login CSRF), exchanges the one-time code server to
server (with the verifier, so a stolen code is useless), verifies the token like any other, and keeps it
in an ``HttpOnly``, ``SameSite=Lax`` cookie that the guard honours for safe methods only (a cookie never
authorizes a write, so no cross-site form can act with it). The token names the control-plane session:
signing out there, or an admin revoking it, ends the dashboard's access within a revocation poll. When
it expires, the next page load goes through the control plane again, silently while that session lives.
"""

from __future__ import annotations

import base64
import binascii
import json
import secrets
import time
from typing import Any
from urllib.parse import urlencode, urlparse

from fastapi import APIRouter, FastAPI, Request
from starlette.responses import RedirectResponse, Response

from runyard.control_plane.verifier import TokenVerifier
from runyard.exceptions import PermissionDenied, RunyardError, ServerUnavailable, Unauthenticated

TOKEN_COOKIE = "ry_ws_token"
LOGIN_COOKIE = "ry_ws_login"
CALLBACK_PATH = "/auth/callback"
SAFE_METHODS = frozenset({"GET", "HEAD"})


def cookie_token(request: Request) -> str | None:
    """What the guard consults without an ``Authorization`` header: the dashboard's token, on reads only."""
    if request.method not in SAFE_METHODS:
        return None
    return request.cookies.get(TOKEN_COOKIE) or None


def _safe_next(value: str | None) -> str:
    from runyard.control_plane.api.pages import safe_next

    return safe_next(value, default="/")


def _callback_url(request: Request) -> str:
    return str(request.base_url).rstrip("/") + CALLBACK_PATH


def _pack(data: dict[str, str]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode()


def _unpack(value: str | None) -> dict[str, str] | None:
    if not value:
        return None
    try:
        data = json.loads(base64.urlsafe_b64decode(value.encode()))
    except (ValueError, binascii.Error):
        return None
    return data if isinstance(data, dict) and all(isinstance(data.get(k), str) for k in "svn") else None


def install_browser_login(app: FastAPI, *, control_plane_url: str, audience: str, verifier: TokenVerifier) -> None:
    """Adds ``/auth/login``, ``/auth/callback`` and ``/auth/logout`` to a split-mode Workspace Server."""
    from runyard.control_plane.services.login_codes import challenge_of

    base = control_plane_url.rstrip("/")
    router = APIRouter(include_in_schema=False)
    app.state.sign_in_path = "/auth/login"

    @router.get("/auth/login")
    def start(request: Request, next: str | None = None) -> Response:
        state, code_verifier = secrets.token_urlsafe(24), secrets.token_urlsafe(48)
        query = urlencode({"audience": audience, "redirect_uri": _callback_url(request), "state": state,
                           "code_challenge": challenge_of(code_verifier), "code_challenge_method": "S256"})
        response = RedirectResponse(f"{base}/workspace-login?{query}", status_code=303)
        response.set_cookie(LOGIN_COOKIE, _pack({"s": state, "v": code_verifier, "n": _safe_next(next)}),
                            max_age=600, path="/auth", httponly=True, samesite="lax",
                            secure=request.url.scheme == "https")
        response.headers["Cache-Control"] = "no-store"
        return response

    @router.get(CALLBACK_PATH)
    def callback(request: Request, code: str = "", state: str = "") -> Response:
        started = _unpack(request.cookies.get(LOGIN_COOKIE))
        if started is None or not state or not secrets.compare_digest(state, started["s"]):
            return _problem(request, Unauthenticated("This sign-in did not start here, or took too long.",
                                                     hint="Sign in again from the dashboard."))
        try:
            token, claims = _exchange(base, verifier, code=code[:200], code_verifier=started["v"],
                                      redirect_uri=_callback_url(request))
        except RunyardError as exc:
            return _problem(request, exc)
        response = RedirectResponse(_safe_next(started["n"]), status_code=303)
        response.set_cookie(TOKEN_COOKIE, token, max_age=max(1, int(claims["exp"] - time.time())), path="/",
                            httponly=True, samesite="lax", secure=request.url.scheme == "https")
        response.delete_cookie(LOGIN_COOKIE, path="/auth")
        response.headers["Cache-Control"] = "no-store"
        return response

    @router.post("/auth/logout")
    def logout(request: Request) -> Response:
        """Forgets the dashboard's token here; the control-plane session (and so silent sign-in) stays."""
        origin = request.headers.get("origin")
        if origin and urlparse(origin).netloc != request.url.netloc:
            return _problem(request, PermissionDenied("Cross-site form posts are refused."))
        response = RedirectResponse(f"{base}/login", status_code=303)
        response.delete_cookie(TOKEN_COOKIE, path="/")
        return response

    app.include_router(router)


def _exchange(base: str, verifier: TokenVerifier, *, code: str, code_verifier: str,
              redirect_uri: str) -> tuple[str, dict[str, Any]]:
    """The one-time code -> an access token for this workspace, checked like any token it will receive."""
    import httpx

    from runyard.client.http import _error_from

    form = {"grant_type": "authorization_code", "code": code, "code_verifier": code_verifier,
            "redirect_uri": redirect_uri}
    try:
        response = httpx.post(base + "/api/v1/auth/token", data=form, timeout=10)
    except httpx.HTTPError as exc:
        raise ServerUnavailable(f"The control plane did not answer ({type(exc).__name__}).",
                                hint="Retry in a moment.") from None
    if response.status_code != 200:
        error = _error_from(response)
        error.message = error.message.replace("Workspace Server", "control plane")
        raise error
    token = str(response.json()["access_token"])
    return token, verifier.verify(token)


def _problem(request: Request, exc: RunyardError) -> Response:
    from runyard.dashboard.web import error_page, secure

    return secure(error_page(request, exc))
