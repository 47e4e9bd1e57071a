"""Who is using the dashboard's Settings pages, what they may do there, and the CSRF check of their forms.

The Settings pages administer the control plane in the same process (all-in-one mode). A browser is
identified by the control plane's sign-in cookie (``HttpOnly``, ``SameSite=Lax``, a revocable session);
what it may do is read from the organization's grants at each request, by the very function the
control-plane API uses (:func:`runyard.control_plane.api.deps.org_access`), so a page can never allow
what the API refuses.

CSRF: every form carries a token derived from the session id with the control plane's secret (HMAC),
so it is worthless in another session and needs no server-side state; a POST whose token does not match,
or whose ``Origin`` is another site, is refused before anything else happens. Refusals are audited.
"""

from __future__ import annotations

import hashlib
import hmac
import uuid
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any
from urllib.parse import quote, urlparse

from fastapi import Form, Request
from fastapi.routing import APIRoute
from starlette.responses import RedirectResponse, Response

from runyard.exceptions import PermissionDenied, RunyardError, Unauthenticated

if TYPE_CHECKING:
    from runyard.control_plane.actor import Actor
    from runyard.control_plane.api.deps import OrgAccess
    from runyard.control_plane.core import ControlPlane

#: Sections of the Settings area: (key, label, permission needed to see it).
SECTIONS = (
    ("members", "Members", "users:read"),
    ("teams", "Teams", "teams:read"),
    ("roles", "Roles & grants", "roles:read"),
    ("shares", "Shares", "roles:read"),
    ("service-accounts", "Service accounts & keys", "service_accounts:read"),
    ("projects", "Projects", "projects:read"),
    ("audit", "Audit log", "audit:read"),
)


class SignInRequired(Unauthenticated):
    """No live browser session: GET pages send the browser to the sign-in page instead of a 401."""


class NoControlPlane(RunyardError):
    """This server has no control plane in-process (local mode, or split mode's workspace)."""


@dataclass(frozen=True)
class SettingsView:
    """One signed-in person looking at one organization."""

    cp: ControlPlane
    actor: Actor
    session_id: uuid.UUID
    access: OrgAccess
    csrf: str

    @property
    def org(self) -> str:
        return self.access.org.name

    def can(self, permission: str) -> bool:
        from runyard.control_plane.rbac import allows

        return allows(self.access.permissions, permission)

    def sections(self) -> list[tuple[str, str]]:
        return [(key, label) for key, label, needed in SECTIONS if self.can(needed)]

    def require(self, request: Request, permission: str) -> None:
        """Refuses (403, audited) unless the person holds ``permission`` in this organization."""
        if self.can(permission):
            return
        audit_refusal(request, self.cp, self.actor, self.access.org.id, permission)
        self.access.require(permission)  # raises PermissionDenied with the API's wording


def control_plane_of(request: Request) -> ControlPlane:
    cp: ControlPlane | None = getattr(request.app.state, "control_plane", None)
    if cp is None:
        from runyard.settings import get_settings

        elsewhere = get_settings().control_plane_url
        hint = (f"They are served by the control plane: {elsewhere.rstrip('/')}/settings" if elsewhere else
                "Start the server with accounts: `runyard up --admin-email you@example.com`.")
        raise NoControlPlane("Settings (members, teams, roles, keys) need the control plane in this server.", hint=hint)
    return cp


def signed_in(request: Request, cp: ControlPlane) -> tuple[Actor, uuid.UUID]:
    from runyard.control_plane.actor import Actor
    from runyard.control_plane.api.pages import browser_user

    found = browser_user(request, cp)
    if found is None:
        raise SignInRequired("Please sign in to change settings.", hint="Sign in, then retry.")
    user, session_id = found
    actor = Actor(kind="user", id=user.id, name=user.email, is_superuser=user.is_superuser, session_id=session_id)
    return actor.at(request.client.host if request.client else None, request.headers.get("user-agent")), session_id


def settings_view(request: Request, org: str) -> SettingsView:
    from runyard.control_plane.api.deps import org_access

    cp = control_plane_of(request)
    actor, session_id = signed_in(request, cp)
    access = org_access(org, actor, cp)  # 404 for an organization the person is not in
    return SettingsView(cp=cp, actor=actor, session_id=session_id, access=access, csrf=csrf_token(cp, session_id))


def csrf_token(cp: ControlPlane, session_id: uuid.UUID) -> str:
    return hmac.new(cp.secret, f"dashboard-csrf:{session_id}".encode(), hashlib.sha256).hexdigest()


def check_form(request: Request, view_or_cp: SettingsView | ControlPlane, token: str,
               session_id: uuid.UUID | None = None) -> None:
    """The CSRF check of every Settings form: same-origin ``Origin`` (when sent) and this session's token."""
    from runyard.control_plane.core import ControlPlane

    origin = request.headers.get("origin")
    if origin and origin != "null" and urlparse(origin).netloc != request.url.netloc:
        raise PermissionDenied("Cross-site form posts are refused.")
    if isinstance(view_or_cp, ControlPlane):
        assert session_id is not None
        cp, sid = view_or_cp, session_id
    else:
        cp, sid = view_or_cp.cp, view_or_cp.session_id
    if not token or not hmac.compare_digest(token, csrf_token(cp, sid)):
        raise PermissionDenied("The form expired or did not come from this site.", hint="Reload the page and retry.")


def audit_refusal(request: Request, cp: ControlPlane, actor: Actor, org_id: uuid.UUID | None, reason: str) -> None:
    from runyard.control_plane.services import audit

    audit.record_in_own_transaction(cp.db, action="auth.forbidden", outcome="denied", actor=actor, org_id=org_id,
                                    target=request.url.path[:300],
                                    details={"method": request.method, "permission": reason[:200],
                                             "via": "dashboard"})


class SettingsGuard:
    """What every Settings route declares, once: the signed-in person, in the organization of the path,
    holding ``permission`` there (``None``: the route's own code checks it, at a finer scope)."""

    def __init__(self, permission: str | None = None) -> None:
        self.permission = permission

    def view(self, request: Request, org: str) -> SettingsView:
        view = settings_view(request, org)
        if self.permission is not None:
            view.require(request, self.permission)
        return view

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.permission!r})"


class SettingsPage(SettingsGuard):
    """``Depends(SettingsPage("audit:read"))`` on a GET page."""

    def __call__(self, request: Request, org: str) -> SettingsView:
        return self.view(request, org)


class SettingsForm(SettingsGuard):
    """``Depends(SettingsForm("teams:create"))`` on a form post: the CSRF check first (refusals audited),
    then the permission."""

    def __call__(self, request: Request, org: str, csrf: Annotated[str, Form(max_length=200)] = "") -> SettingsView:
        view = settings_view(request, org)
        try:
            check_form(request, view, csrf)
        except PermissionDenied:
            audit_refusal(request, view.cp, view.actor, view.access.org.id, "csrf")
            raise
        if self.permission is not None:
            view.require(request, self.permission)
        return view


class SignInRedirect(APIRoute):
    """Turns :class:`SignInRequired` on a GET into a redirect to the sign-in page (coming back afterwards)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def redirecting(request: Request) -> Response:
            try:
                return await handler(request)
            except SignInRequired:
                if request.method != "GET":
                    raise
                here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
                return RedirectResponse("/login?next=" + quote(here, safe=""), status_code=303)

        return redirecting

