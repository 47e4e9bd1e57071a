"""Permissions, built-in roles, and how a route's declared permission maps to an action.

A permission is ``resource:action``; ``resource:*`` grants every action on a resource and ``*`` grants
everything. Workspace routes declare coarse ``resource:read`` / ``resource:write`` permissions (one
``Authorize`` per route); :func:`required_permission` refines ``write`` by HTTP method into ``create``,
``update`` or ``delete``, so a role can allow creating runs but not deleting them while every route
keeps exactly one permission dependency.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

ACTIONS = ("read", "create", "update", "delete", "run", "share", "read_secret_values")

#: What a Workspace Server holds (granted at org, workspace or project scope).
WORKSPACE_RESOURCES = ("pipelines", "runs", "artifacts", "models", "stacks", "components", "secrets")
#: What the control plane holds (granted at org scope).
CONTROL_PLANE_RESOURCES = (
    "orgs", "workspaces", "projects", "teams", "users", "service_accounts", "api_keys", "roles", "audit",
    "sessions",
)
RESOURCES = WORKSPACE_RESOURCES + CONTROL_PLANE_RESOURCES

_WRITE_ACTION = {"POST": "create", "PUT": "update", "PATCH": "update", "DELETE": "delete"}
_PERMISSION = re.compile(r"^(\*|[a-z_]+:(\*|[a-z_]+))$")


def _all(resources: Iterable[str], actions: Iterable[str]) -> frozenset[str]:
    return frozenset(f"{r}:{a}" for r in resources for a in actions)


_AUTHORING = ("pipelines", "runs", "artifacts", "models")
_DIRECTORY = ("workspaces", "projects", "teams", "users")

#: Built-in roles. ``admin`` holds everything; the others are explicit so a token lists what it allows.
BUILTIN_ROLES: dict[str, frozenset[str]] = {
    "admin": frozenset({"*"}),
    "developer": _all(_AUTHORING, ("read", "create", "update", "delete", "run"))
    | _all(("stacks", "components", "secrets"), ("read",))
    | _all(_DIRECTORY, ("read",)),
    "viewer": _all(WORKSPACE_RESOURCES, ("read",)) | _all(_DIRECTORY, ("read",)),
    "stack_admin": frozenset({"stacks:*", "components:*", "secrets:*"})
    | _all(_AUTHORING, ("read",))
    | _all(_DIRECTORY, ("read",)),
}


def required_permission(declared: str, method: str) -> str:
    """``runs:write`` + ``DELETE`` -> ``runs:delete``; read permissions and finer ones pass unchanged."""
    resource, _, action = declared.partition(":")
    if action == "write":
        return f"{resource}:{_WRITE_ACTION.get(method.upper(), 'update')}"
    return declared


def allows(granted: Iterable[str] | frozenset[str], needed: str) -> bool:
    """Whether ``granted`` covers ``needed`` (``*``, ``resource:*`` or the exact permission)."""
    granted = granted if isinstance(granted, frozenset | set) else frozenset(granted)
    if "*" in granted or needed in granted:
        return True
    resource, _, action = needed.partition(":")
    if action == "*":
        return False  # only "*" or the same wildcard (checked above) covers a wildcard
    return f"{resource}:*" in granted


def not_covered(wanted: Iterable[str], held: Iterable[str]) -> list[str]:
    """The permissions in ``wanted`` that ``held`` does not cover: what granting them would escalate to."""
    held_set = frozenset(held)
    return sorted(p for p in wanted if not allows(held_set, p))


def validate_permission(permission: str) -> str:
    """Refuses anything but ``*``, ``resource:*`` or ``resource:action`` with a known resource and action."""
    if not _PERMISSION.match(permission):
        raise ValueError(f"{permission!r} is not 'resource:action'")
    if permission == "*":
        return permission
    resource, action = permission.split(":")
    if resource not in RESOURCES:
        raise ValueError(f"unknown resource {resource!r} (known: {', '.join(RESOURCES)})")
    if action != "*" and action not in ACTIONS:
        raise ValueError(f"unknown action {action!r} (known: {', '.join(ACTIONS)})")
    return permission
