"""Browser sessions for the dashboard in all-in-one mode: the control plane's sign-in cookie is honoured
by the workspace it serves (same origin).

The cookie (``HttpOnly``, ``SameSite=Lax``, signed) names a revocable browser session; for each one the
workspace gets a short access token minted in-process for its own audience, with that session's id, so
revoking the session (sign-out, or an admin) stops the dashboard too. CSRF: a cookie authenticates safe
requests (``GET``/``HEAD``); a write only when it also carries the double-submit token in an
``X-CSRF-Token`` header equal to the ``SameSite=Strict`` CSRF cookie (the dashboard's pages hand the value
to their scripts), and comes from this origin. A cross-site form can set neither the header nor read the
cookie, so it can never act with the session.
"""

from __future__ import annotations

import secrets
import threading
import time
import uuid
from urllib.parse import urlparse

from starlette.requests import Request

from runyard.control_plane.core import ControlPlane
from runyard.control_plane.csrf import CSRF_COOKIE, CSRF_HEADER
from runyard.control_plane.services import tokens
from runyard.control_plane.services.sessions import get_session

SAFE_METHODS = frozenset({"GET", "HEAD"})


def csrf_confirmed(request: Request) -> bool:
    """A write from one of our own pages: same origin, and the header repeats the CSRF cookie."""
    origin = request.headers.get("origin")
    if origin and urlparse(origin).netloc != request.url.netloc:
        return False
    cookie = request.cookies.get(CSRF_COOKIE) or ""
    header = request.headers.get(CSRF_HEADER) or ""
    return bool(cookie) and secrets.compare_digest(cookie.encode(), header.encode())


class CookieSessions:
    """``request -> access token or None``: what :class:`~runyard.control_plane.guard.Authenticator`
    consults when a request carries no ``Authorization`` header."""

    def __init__(self, control_plane: ControlPlane, audience: str) -> None:
        self.control_plane = control_plane
        self.audience = audience
        self._minted: dict[uuid.UUID, tuple[str, float]] = {}
        self._lock = threading.Lock()

    def __call__(self, request: Request) -> str | None:
        if request.method not in SAFE_METHODS and not csrf_confirmed(request):
            return None
        from runyard.control_plane.api.pages import browser_user

        signed_in = browser_user(request, self.control_plane)
        if signed_in is None:
            return None
        _, session_id = signed_in
        cached = self._minted.get(session_id)
        if cached is not None and cached[1] > time.monotonic():
            return cached[0]
        cp = self.control_plane
        with cp.db.session(write=True) as session:
            row = get_session(session, session_id=session_id)
            token, ttl = tokens.issue_for_session(session, keyring=cp.keyring, settings=cp.token_settings, row=row,
                                                  audience=self.audience)
        with self._lock:
            if len(self._minted) > 10_000:
                self._minted.clear()
            self._minted[session_id] = (token, time.monotonic() + max(0, ttl - 30))
        return token
