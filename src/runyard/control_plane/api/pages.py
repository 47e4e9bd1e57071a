"""The control plane's few browser pages: sign in, approve a device (``runyard login``), sign out.

Browser sessions are a signed cookie (``HttpOnly``, ``SameSite=Lax``, ``Secure`` over HTTPS) naming a
revocable session row. Every form carries a CSRF token that must equal a second, ``SameSite=Strict``
cookie (double submit), and a cross-site ``Origin`` is refused outright. All text is HTML-escaped and
the pages run no script at all (the CSP says so).
"""

from __future__ import annotations

import html
import secrets
import uuid
from datetime import timedelta
from typing import Annotated
from urllib.parse import quote, urlparse

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from itsdangerous import BadSignature, URLSafeTimedSerializer

from runyard.control_plane.actor import Actor
from runyard.control_plane.api.deps import ControlPlaneDep, request_actor
from runyard.control_plane.core import ControlPlane
from runyard.control_plane.csrf import CSRF_COOKIE
from runyard.control_plane.db.models import SessionRow, UserRow
from runyard.control_plane.services import device, sessions, users
from runyard.exceptions import PermissionDenied

router = APIRouter(include_in_schema=False)

SESSION_COOKIE = "ry_cp_session"
BROWSER_SESSION = timedelta(hours=12)


def serializer(cp: ControlPlane) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(cp.secret, salt="runyard-cp-browser-session")


def browser_user(request: Request, cp: ControlPlane) -> tuple[UserRow, uuid.UUID] | None:
    """The signed-in user of this browser, if its session cookie is valid and the session live."""
    raw = request.cookies.get(SESSION_COOKIE)
    if not raw:
        return None
    try:
        data = serializer(cp).loads(raw, max_age=int(BROWSER_SESSION.total_seconds()))
        session_id = uuid.UUID(str(data["sid"]))
    except (BadSignature, KeyError, ValueError, TypeError):
        return None
    with cp.db.session(write=False) as session:
        row = session.get(SessionRow, session_id)
        if row is None or not sessions.is_live(row) or row.subject_type != "user":
            return None
        user = session.get(UserRow, row.subject_id)
        if user is None or not user.is_active:
            return None
        return user, session_id


def start_browser_session(response: Response, request: Request, cp: ControlPlane, user: UserRow, method: str,
                          actor: Actor) -> None:
    with cp.db.session(write=True) as session:
        row, _ = sessions.start_session(session, subject_type="user", subject_id=user.id, method=method,
                                        actor=actor, ttl=BROWSER_SESSION, refreshable=False)
        sid = str(row.id)
    response.set_cookie(SESSION_COOKIE, serializer(cp).dumps({"sid": sid}), httponly=True, samesite="lax",
                        secure=request.url.scheme == "https", max_age=int(BROWSER_SESSION.total_seconds()), path="/")


def safe_next(value: str | None, default: str = "/device") -> str:
    """Only a path on this server: never ``//evil``, ``https://evil`` or a backslash trick (open redirect)."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return default
    parsed = urlparse(value)
    return value if not parsed.scheme and not parsed.netloc else default


def _csrf(request: Request) -> str:
    return request.cookies.get(CSRF_COOKIE) or secrets.token_urlsafe(24)


def _check_csrf(request: Request, token: str) -> None:
    origin = request.headers.get("origin")
    if origin and origin != "null" and urlparse(origin).netloc != request.url.netloc:
        raise PermissionDenied("Cross-site form posts are refused.")
    cookie = request.cookies.get(CSRF_COOKIE)
    if not cookie or not token or not secrets.compare_digest(cookie, token):
        raise PermissionDenied("The form expired or did not come from this site.", hint="Reload the page and retry.")


def page(request: Request, title: str, body: str, *, csrf: str | None = None, status: int = 200,
         refresh_to: str | None = None) -> HTMLResponse:
    """A small script-free page; ``refresh_to`` (an escaped URL) moves the browser on with ``<meta refresh>``."""
    refresh = f"<meta http-equiv=refresh content='0;url={refresh_to}'>" if refresh_to else ""
    document = (
        "<!doctype html><html lang=en><head><meta charset=utf-8><meta name=viewport content='width=device-width'>"
        f"{refresh}"
        f"<title>{html.escape(title)} - Runyard</title><style>body{{font-family:system-ui,sans-serif;max-width:28rem;"
        "margin:4rem auto;line-height:1.5}input,button{font-size:1rem;padding:.4rem;margin:.2rem 0}"
        "label{display:block;margin-top:.6rem}.code{font-family:monospace;font-size:1.6rem}</style></head><body>"
        f"<h1>{html.escape(title)}</h1>{body}</body></html>")
    response = HTMLResponse(document, status_code=status, headers={"Cache-Control": "no-store"})
    if csrf is not None:
        response.set_cookie(CSRF_COOKIE, csrf, httponly=True, samesite="strict", secure=request.url.scheme == "https",
                            path="/")
    return response


def _login_form(request: Request, cp: ControlPlane, next_url: str, error: str = "", status: int = 200) -> HTMLResponse:
    csrf = _csrf(request)
    sso = ""
    if cp.settings.oidc_issuer:
        sso = f"<p><a href='/sso/login?next={quote(next_url, safe='')}'>Sign in with single sign-on</a></p>"
    note = f"<p role=alert><strong>{html.escape(error)}</strong></p>" if error else ""
    body = (f"{note}<form method=post action=/login><input type=hidden name=csrf value='{html.escape(csrf)}'>"
            f"<input type=hidden name=next value='{html.escape(next_url)}'>"
            "<label>Email <input name=email type=email autocomplete=username required></label>"
            "<label>Password <input name=password type=password autocomplete=current-password required></label>"
            f"<button type=submit>Sign in</button></form>{sso}")
    return page(request, "Sign in", body, csrf=csrf, status=status)


@router.get("/login")
def login_page(request: Request, cp: ControlPlaneDep, next: str | None = None) -> HTMLResponse:
    return _login_form(request, cp, safe_next(next))


@router.post("/login")
def login_submit(request: Request, cp: ControlPlaneDep, email: Annotated[str, Form(max_length=320)],
                 password: Annotated[str, Form(max_length=1024)], csrf: Annotated[str, Form(max_length=100)] = "",
                 next: Annotated[str, Form(max_length=500)] = "/device") -> Response:
    _check_csrf(request, csrf)
    actor = request_actor(request)
    with cp.db.session(write=True) as session:
        user = users.authenticate_password(session, email=email, password=password, actor=actor)
    if user is None:
        return _login_form(request, cp, safe_next(next), "Wrong email or password, or too many attempts.", 401)
    response = RedirectResponse(safe_next(next), status_code=303)
    start_browser_session(response, request, cp, user, "password", actor)
    return response


@router.get("/device")
def device_page(request: Request, cp: ControlPlaneDep, user_code: str | None = None) -> Response:
    signed_in = browser_user(request, cp)
    here = "/device" + (f"?user_code={quote(user_code[:20])}" if user_code else "")
    if signed_in is None:
        return RedirectResponse("/login?next=" + quote(here, safe=""), status_code=303)
    user, _ = signed_in
    csrf = _csrf(request)
    code = html.escape(device.normalize_user_code(user_code or "") or "")
    body = (f"<p>Signed in as <strong>{html.escape(user.email)}</strong>.</p>"
            "<p>Approve only if this code is the one your terminal shows.</p>"
            f"<form method=post action=/device><input type=hidden name=csrf value='{html.escape(csrf)}'>"
            f"<label>Code <input class=code name=user_code value='{code}' required maxlength=9></label>"
            "<button name=decision value=approve type=submit>Approve</button> "
            "<button name=decision value=deny type=submit>Deny</button></form>")
    return page(request, "Approve a device", body, csrf=csrf)


@router.post("/device")
def device_submit(request: Request, cp: ControlPlaneDep, user_code: Annotated[str, Form(max_length=20)],
                  decision: Annotated[str, Form(max_length=10)], csrf: Annotated[str, Form(max_length=100)] = "",
                  ) -> Response:
    _check_csrf(request, csrf)
    signed_in = browser_user(request, cp)
    if signed_in is None:
        return RedirectResponse("/login?next=/device", status_code=303)
    user, session_id = signed_in
    actor = Actor(kind="user", id=user.id, name=user.email, session_id=session_id).at(
        request.client.host if request.client else None, request.headers.get("user-agent"))
    with cp.db.session(write=True) as session:
        row = device.find_pending(session, user_code=user_code)
        if row is not None:
            device.decide(session, row=row, user=session.merge(user), approve=decision == "approve", actor=actor)
    if row is None:
        return page(request, "Unknown code", "<p>This code is unknown or expired. Start again in the terminal.</p>",
                     status=404)
    verdict = "approved" if decision == "approve" else "denied"
    return page(request, f"Device {verdict}", "<p>You can close this window and return to the terminal.</p>")


@router.post("/logout")
def logout(request: Request, cp: ControlPlaneDep, csrf: Annotated[str, Form(max_length=100)] = "") -> Response:
    _check_csrf(request, csrf)
    signed_in = browser_user(request, cp)
    if signed_in is not None:
        user, session_id = signed_in
        with cp.db.session(write=True) as session:
            row = sessions.get_session(session, session_id=session_id)
            sessions.revoke_session(session, row=row, actor=Actor(kind="user", id=user.id, name=user.email))
    response = page(request, "Signed out", "<p>You are signed out.</p>")
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response
