"""The project a dashboard page shows: ``?project=NAME``, else the ``runyard_project`` cookie, else ``default``.

A browser cannot send the API's ``X-Runyard-Project`` header on a link, so pages take the project from the
URL (a link with ``?project=p1`` opens p1 for whoever receives it) and remember it in a cookie (the
page's own links then stay in that project without each carrying the parameter). ``DashboardAuthorize``
checks a page's permission at the scope of that project, and the page hands the same name to every
service it calls, so rows of another project are "not found", exactly like made-up ids.
"""

from __future__ import annotations

import re
from typing import Annotated

from fastapi import Depends, Query, Request
from starlette.responses import Response

from runyard.schemas.base import DEFAULT_PROJECT, PROJECT_PATTERN
from runyard.workspace.api.deps import Authorize, CurrentPrincipal, Principal

#: The cookie remembering the project last chosen with ``?project=``.
PROJECT_COOKIE = "runyard_project"

_VALID = re.compile(PROJECT_PATTERN)


async def dashboard_project(
    request: Request,
    project: Annotated[str | None, Query(pattern=PROJECT_PATTERN, max_length=63)] = None,
) -> str:
    """The page's project; a malformed ``?project=`` is a 400 page (via ``PageRoute``), a malformed
    cookie (never set by us) is ignored. A new choice is remembered once the page answers (``remember``)."""
    if project is not None:
        if request.cookies.get(PROJECT_COOKIE) != project:
            request.state.remember_project = project
        chosen = project
    else:
        cookie = request.cookies.get(PROJECT_COOKIE, "")
        chosen = cookie if _VALID.fullmatch(cookie) else DEFAULT_PROJECT
    request.state.dashboard_project = chosen
    return chosen


DashboardProject = Annotated[str, Depends(dashboard_project)]


def remember(request: Request, response: Response) -> None:
    """Sets the project cookie after a page named a new project and was shown: not after a refusal (a 403
    for a project never locks the browser out of the one it was in), and not for a script's fetch (the
    pages' feeds name their page's project, so a tab that stayed in p1 cannot move another tab's cookie)."""
    project = getattr(request.state, "remember_project", None)
    if project is None or response.status_code >= 400:
        return
    if request.headers.get("sec-fetch-mode", "navigate") != "navigate":  # browsers send it; curl does not
        return
    response.set_cookie(PROJECT_COOKIE, project, httponly=True, samesite="lax", path="/",
                        secure=request.url.scheme == "https")


class DashboardAuthorize(Authorize):
    """``Authorize`` at the scope of the page's project (query or cookie) instead of the API's header."""

    async def __call__(
        self, request: Request, principal: CurrentPrincipal, project: DashboardProject
    ) -> Principal:
        request.state.dashboard_principal = principal  # a refusal's page still offers the caller's projects
        return await self.check(request, principal, project)


def project_choices(request: Request) -> list[str]:
    """What the header's switcher offers: the projects the caller's token names, and the current one.
    Callers with workspace-wide grants may type any other name."""
    current = getattr(request.state, "dashboard_project", DEFAULT_PROJECT)
    principal = getattr(request.state, "dashboard_principal", None)
    named = {name for name, _ in getattr(principal, "projects", ())}
    return sorted(named | {current})
