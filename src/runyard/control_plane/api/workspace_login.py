"""``GET /workspace-login``: the control plane's half of a workspace dashboard's sign-in (split mode).

A Workspace Server sends a browser here (see :mod:`runyard.control_plane.browser_login`); a browser not
signed in to the control plane goes through ``/login`` first and comes back. The answer hands a one-time
code to the workspace's registered callback with a ``<meta refresh>`` page rather than a redirect: after
the sign-in form, a redirect chain to another origin would be blocked by the sign-in page's
``form-action 'self'``, and the page needs no script either way.
"""

from __future__ import annotations

import html
from typing import Annotated
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import RedirectResponse, Response

from runyard.control_plane.actor import Actor
from runyard.control_plane.api.deps import ControlPlaneDep
from runyard.control_plane.api.pages import browser_user, page
from runyard.control_plane.services import login_codes, sessions
from runyard.exceptions import RunyardError

router = APIRouter(include_in_schema=False)


@router.get("/workspace-login")
def workspace_login(
    request: Request, cp: ControlPlaneDep,
    audience: Annotated[str, Query(max_length=200)],
    redirect_uri: Annotated[str, Query(max_length=500)],
    state: Annotated[str, Query(min_length=16, max_length=200)],
    code_challenge: Annotated[str, Query(min_length=43, max_length=128)],
    code_challenge_method: Annotated[str, Query(max_length=10)] = "S256",
) -> Response:
    with cp.db.session(write=False) as session:
        try:  # checked before sign-in: a forged link never even reaches the password form
            workspace = login_codes.workspace_for(session, audience=audience, redirect_uri=redirect_uri)
        except RunyardError as exc:
            return page(request, "Cannot sign in", f"<p>{html.escape(exc.headline)}</p>", status=400)
        name = workspace.name
    if code_challenge_method != "S256":
        return page(request, "Cannot sign in", "<p>Only the S256 code challenge is supported.</p>", status=400)
    signed_in = browser_user(request, cp)
    if signed_in is None:
        here = request.url.path + "?" + request.url.query
        return RedirectResponse("/login?next=" + quote(here, safe=""), status_code=303)
    user, session_id = signed_in
    actor = Actor(kind="user", id=user.id, name=user.email, session_id=session_id).at(
        request.client.host if request.client else None, request.headers.get("user-agent"))
    with cp.db.session(write=True) as session:
        workspace = login_codes.workspace_for(session, audience=audience, redirect_uri=redirect_uri)
        browser = sessions.get_session(session, session_id=session_id)
        code = login_codes.issue(session, browser_session=browser, workspace=workspace, redirect_uri=redirect_uri,
                                 code_challenge=code_challenge, actor=actor)
    target = html.escape(f"{redirect_uri}?{urlencode({'code': code, 'state': state})}", quote=True)
    body = (f"<p>Signing you in to workspace <strong>{html.escape(name)}</strong>...</p>"
            f"<p><a href=\"{target}\">Continue</a></p>")
    return page(request, "Signing in", body, refresh_to=target)
