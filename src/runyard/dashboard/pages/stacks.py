"""``/stacks`` and ``/components``: what each stack is made of, and every registered component."""

from __future__ import annotations

import re
from typing import Any

from fastapi import Request
from starlette.responses import HTMLResponse

from runyard.dashboard.web import CanReadStacks, PageProject, page_router, render
from runyard.workspace.api.deps import WriteSession
from runyard.workspace.services import stacks as stacks_service

router = page_router()

#: Configuration keys whose values are never shown, in case a component keeps a credential inline.
_SECRET_KEY = re.compile(r"secret|password|passwd|token|credential|api_?key|private", re.IGNORECASE)


# a write session, like the API's stacks-list: the first read creates the default stack
@router.get("/stacks")
def list_stacks(request: Request, principal: CanReadStacks, session: WriteSession,
                project: PageProject) -> HTMLResponse:
    stacks = stacks_service.list_stacks(session, project=project)
    return render(request, "stacks.html", {"title": "Stacks", "nav": "stacks", "stacks": stacks, "masked": masked})


@router.get("/components")
def list_components(request: Request, principal: CanReadStacks, session: WriteSession, project: PageProject,
                    type: str = "") -> HTMLResponse:
    stacks_service.ensure_default_stack(session, project)
    components = stacks_service.list_components(session, type=type or None, project=project)
    used_by: dict[str, list[str]] = {}
    for stack in stacks_service.list_stacks(session, project=project):
        for component in stack.components.values():
            used_by.setdefault(str(component.id), []).append(stack.name)
    types = sorted({c.type for c in stacks_service.list_components(session, project=project)})
    return render(request, "components.html", {
        "title": "Components", "nav": "components", "components": components, "used_by": used_by,
        "types": types, "type": type, "masked": masked,
    })


def masked(config: dict[str, Any]) -> dict[str, Any]:
    return {k: ("••••••" if _SECRET_KEY.search(k) else v) for k, v in config.items()}
