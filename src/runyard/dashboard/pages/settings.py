"""``/settings``: the organization's members, teams, roles and grants, service accounts and keys, projects
and audit log, for the person signed in (all-in-one mode).

A section appears only to someone who may read it, and each button only to someone who may use it;
the form handlers (``settings_actions.py``) check the same permissions again, so hiding is a courtesy,
never the protection. Data is read through the control plane's service functions.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import StreamingResponse
from starlette.responses import RedirectResponse, Response

from runyard.dashboard.settings_auth import (
    SECTIONS,
    SettingsPage,
    SettingsView,
    SignInRedirect,
    control_plane_of,
    settings_view,
    signed_in,
)
from runyard.dashboard.web import PageRoute, render
from runyard.exceptions import NotFound, PermissionDenied


class SettingsRoute(PageRoute, SignInRedirect):
    """Friendly error pages and security headers (``PageRoute``); sign-in redirects for GET pages."""


router = APIRouter(route_class=SettingsRoute, include_in_schema=False)

#: What a successful form post says after its redirect (fixed texts: nothing from the URL is echoed).
NOTICES = {
    "member-added": "Member added.", "member-disabled": "Member disabled; their sessions are ended.",
    "team-created": "Team created.", "team-deleted": "Team deleted.", "member-joined": "Added to the team.",
    "member-left": "Removed from the team.", "role-created": "Role created.", "role-deleted": "Role deleted.",
    "granted": "Role granted.", "revoked": "Grant revoked.", "account-created": "Service account created.",
    "account-deleted": "Service account deleted; its keys are revoked.", "key-revoked": "Key revoked.",
    "project-created": "Project created.", "project-deleted": "Project deleted.", "share-revoked": "Share revoked.",
}


@router.get("/settings")
def settings_home(request: Request) -> Response:
    """The first section the person may see, in their first organization (``default`` first)."""
    from runyard.control_plane.services import orgs
    from runyard.settings import get_settings

    elsewhere = get_settings().control_plane_url
    if getattr(request.app.state, "control_plane", None) is None and elsewhere:  # split mode's workspace
        return RedirectResponse(elsewhere.rstrip("/") + "/settings", status_code=303)
    cp = control_plane_of(request)
    actor, _ = signed_in(request, cp)
    with cp.db.session(write=False) as session:
        assert actor.id is not None
        names = [o.name for o in (orgs.list_orgs(session) if actor.is_superuser else
                                  orgs.orgs_of_user(session, user_id=actor.id))]
    if not names:
        raise NotFound("You belong to no organization yet.", hint="Ask an admin to add you.")
    org = "default" if "default" in names else names[0]
    view = settings_view(request, org)
    first = view.sections()
    if not first:
        raise PermissionDenied(f"Your roles in {org} include no part of its settings.",
                               hint="Ask an organization admin if you need to see members, teams or keys.")
    return RedirectResponse(f"/settings/{org}/{first[0][0]}", status_code=303)


def render_section(request: Request, view: SettingsView, section: str, *, error: str | None = None,
                   status: int = 200, extra: dict[str, Any] | None = None) -> Response:
    """One section's page; form handlers call it too, to show an error beside the form that caused it."""
    needed = next(p for key, _, p in SECTIONS if key == section)
    view.require(request, needed)
    context: dict[str, Any] = {
        "title": dict((k, label) for k, label, _ in SECTIONS)[section], "nav": "settings", "view": view,
        "section": section, "sections": view.sections(), "error": error,
        "notice": NOTICES.get(request.query_params.get("done", "")), "can": view.can, "csrf": view.csrf,
        "org": view.org, "new_key": None,
        "workspace_nav": hasattr(request.app.state, "database"),  # a control plane served alone has no runs
    }
    context.update(LOADERS[section](request, view))
    context.update(extra or {})
    return render(request, f"settings/{section.replace('-', '_')}.html", context, status_code=status)


@router.get("/settings/{org}/{section}")
def settings_section(request: Request, section: str, view: Annotated[SettingsView, Depends(SettingsPage())],
                     ) -> Response:
    """Each section's read permission is checked by ``render_section`` (see ``SECTIONS``)."""
    if section not in LOADERS:
        raise NotFound(f"There is no settings page {section!r}.", hint="Pick one in the Settings menu.")
    return render_section(request, view, section)


# --- what each section shows ----------------------------------------------------------------------
def _members(_request: Request, view: SettingsView) -> dict[str, Any]:
    from runyard.control_plane.services import orgs, users

    with view.cp.db.session(write=False) as session:
        people = users.list_users(session, org_id=view.access.org.id)
        teams = {u.id: [t.name for t in orgs.teams_of_user(session, org_id=view.access.org.id, user_id=u.id)]
                 for u in people}
    return {"members": people, "teams_of": teams}


def _teams(_request: Request, view: SettingsView) -> dict[str, Any]:
    from runyard.control_plane.services import orgs, users

    with view.cp.db.session(write=False) as session:
        teams = orgs.list_teams(session, org_id=view.access.org.id)
        members = {t.id: [u.email for u in orgs.team_members(session, team_id=t.id)] for t in teams}
        emails = [u.email for u in users.list_users(session, org_id=view.access.org.id) if u.is_active] \
            if view.can("users:read") else []
    return {"teams": teams, "members_of": members, "emails": emails}


def _roles(_request: Request, view: SettingsView) -> dict[str, Any]:
    from runyard.control_plane.rbac import ACTIONS, RESOURCES
    from runyard.control_plane.services import orgs, roles

    with view.cp.db.session(write=False) as session:
        all_roles = roles.list_roles(session, org_id=view.access.org.id)
        grants = roles.describe_grants(session, roles.list_grants(session, org_id=view.access.org.id))
        workspaces = [w.name for w in orgs.list_workspaces(session, org_id=view.access.org.id)]
    return {"roles": all_roles, "grants": grants, "workspaces": workspaces, "resources": RESOURCES,
            "actions": ACTIONS}


def _service_accounts(_request: Request, view: SettingsView) -> dict[str, Any]:
    from runyard.control_plane.services import keys

    with view.cp.db.session(write=False) as session:
        accounts = keys.list_service_accounts(session, org_id=view.access.org.id)
        keys_of = {a.id: keys.list_keys(session, service_account_id=a.id) for a in accounts} \
            if view.can("api_keys:read") else {}
    return {"accounts": accounts, "keys_of": keys_of}


def _projects(_request: Request, view: SettingsView) -> dict[str, Any]:
    from runyard.control_plane.services import orgs

    with view.cp.db.session(write=False) as session:
        workspaces = orgs.list_workspaces(session, org_id=view.access.org.id)
        projects = {w.name: [p.name for p in orgs.list_projects(session, workspace_id=w.id)] for w in workspaces}
    return {"projects": projects}


def _audit(request: Request, view: SettingsView) -> dict[str, Any]:
    from runyard.control_plane.services import audit

    q = request.query_params
    filters = {"action": (q.get("action") or "")[:64] or None, "actor": (q.get("actor") or "")[:320] or None,
               "outcome": q.get("outcome") if q.get("outcome") in ("success", "denied", "failure") else None}
    since = _parse_time(q.get("since"))
    with view.cp.db.session(write=False) as session:
        events, cursor = audit.list_events(session, org_id=view.access.org.id, since=since, limit=50,
                                           cursor=(q.get("cursor") or "")[:200] or None, action=filters["action"],
                                           actor=filters["actor"], outcome=filters["outcome"])
    keep = {k: v for k, v in {**filters, "since": q.get("since") or None}.items() if v}
    form = {k: keep.get(k, "") for k in ("action", "actor", "outcome", "since")}
    return {"events": events, "filters": keep, "form": form, "next_cursor": cursor, "query": _query}


def _parse_time(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None


def _query(params: dict[str, Any], **more: Any) -> str:
    from urllib.parse import urlencode

    return urlencode({k: v for k, v in {**params, **more}.items() if v})


def _shares(_request: Request, view: SettingsView) -> dict[str, Any]:
    """Every live share of the organization, and whether this person may revoke each (the API's own check)."""
    from runyard.control_plane.api.shares import may_manage
    from runyard.control_plane.services import shares

    with view.cp.db.session(write=False) as session:
        rows = shares.list_shares(session, org_id=view.access.org.id)
        return {"shares": list(zip(shares.describe(session, rows),
                                   [may_manage(session, view.access, r) for r in rows], strict=True))}


LOADERS = {"members": _members, "teams": _teams, "roles": _roles, "shares": _shares,
           "service-accounts": _service_accounts, "projects": _projects, "audit": _audit}


@router.get("/settings/{org}/audit/export")
def export_audit(view: Annotated[SettingsView, Depends(SettingsPage("audit:read"))],
                 format: Literal["jsonl", "csv"] = "csv", since: str | None = Query(None, max_length=40)) -> Response:
    """The audit log as a file, for the signed-in browser (the API route wants a bearer token)."""
    from runyard.control_plane.services import audit

    with view.cp.db.session(write=False) as session:
        chunks = list(audit.export(audit.iter_all(session, org_id=view.access.org.id, since=_parse_time(since)),
                                   fmt=format))
    audit.record_in_own_transaction(view.cp.db, action="audit.export", actor=view.actor, org_id=view.access.org.id,
                                    details={"format": format, "via": "dashboard"})
    media = "text/csv" if format == "csv" else "application/x-ndjson"
    return StreamingResponse(iter(chunks), media_type=media, headers={
        "Content-Disposition": f'attachment; filename="audit-{view.org}.{format}"', "Cache-Control": "no-store"})
