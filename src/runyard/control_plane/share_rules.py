"""What a share of one resource may carry, and how it travels in a token (no database, no HTTP).

A share gives one user or team permissions on *one* pipeline or stack of a project, instead of the whole
project. What a share implies follows what the resource is made of: a pipeline's snapshots, runs, step
runs, logs and the artifact versions those runs wrote are part of it, so a pipeline share carries the
``runs:`` and ``artifacts:`` permissions that read them; a stack's components are part of the stack.

The permissions of a share are always written out in full (``pipelines:read``, never ``pipelines:*``),
from a share role (``viewer``, ``developer``, ``admin``) or an explicit subset, so the control plane can
check the sharer holds each of them and a Workspace Server can check each request against them.

In a token, shares travel as the ``shr`` claim: ``[{"id", "type", "resource", "project", "perms"}]``.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

#: Resource types that can be shared one by one.
SHAREABLE_TYPES = ("pipelines", "stacks")

#: type -> share role -> the permissions it carries (``<type>:share`` lets the holder share it on).
SHARE_ROLES: dict[str, dict[str, frozenset[str]]] = {
    "pipelines": {
        "viewer": frozenset({"pipelines:read", "runs:read", "artifacts:read"}),
        "developer": frozenset({"pipelines:read", "runs:read", "artifacts:read", "runs:update", "runs:delete"}),
        "admin": frozenset({"pipelines:read", "runs:read", "artifacts:read", "runs:update", "runs:delete",
                            "pipelines:delete", "pipelines:share"}),
    },
    "stacks": {
        "viewer": frozenset({"stacks:read"}),
        "developer": frozenset({"stacks:read", "stacks:update"}),
        "admin": frozenset({"stacks:read", "stacks:update", "stacks:delete", "stacks:share"}),
    },
}

#: At most this many shares travel in one token (newest first); more are refused at creation.
MAX_SHARES_PER_TOKEN = 200


def shareable_permissions(resource_type: str) -> frozenset[str]:
    """Every permission a share of ``resource_type`` may carry (its ``admin`` share role)."""
    return SHARE_ROLES[resource_type]["admin"]


def share_permissions(resource_type: str, *, role: str | None, permissions: list[str] | None) -> frozenset[str]:
    """The permissions a share carries: a share role's, or an explicit subset (always with ``<type>:read``).

    Raises ``ValueError`` naming the fix for an unknown type or role, or a permission a share of this type
    cannot carry (a pipeline share cannot give ``secrets:read``).
    """
    if resource_type not in SHARE_ROLES:
        raise ValueError(f"{resource_type!r} cannot be shared; shareable: {', '.join(SHAREABLE_TYPES)}.")
    if (role is None) == (not permissions):
        raise ValueError("Give either a role (viewer, developer, admin) or a list of permissions.")
    if role is not None:
        roles = SHARE_ROLES[resource_type]
        if role not in roles:
            raise ValueError(f"Unknown share role {role!r}; use one of: {', '.join(roles)}.")
        return roles[role]
    allowed = shareable_permissions(resource_type)
    wanted = frozenset(permissions or ())
    beyond = sorted(wanted - allowed)
    if beyond:
        raise ValueError(f"A {resource_type[:-1]} share cannot carry {', '.join(beyond)}; "
                         f"it may carry: {', '.join(sorted(allowed))}.")
    return wanted | {f"{resource_type}:read"}


@dataclass(frozen=True)
class ShareClaim:
    """One share as a Workspace Server sees it in a token."""

    id: str
    type: str
    resource: uuid.UUID
    project: str
    permissions: frozenset[str]

    def to_claim(self) -> dict[str, object]:
        return {"id": self.id, "type": self.type, "resource": str(self.resource), "project": self.project,
                "perms": sorted(self.permissions)}


def shares_from_claim(value: object) -> tuple[ShareClaim, ...]:
    """The ``shr`` claim, read defensively: a malformed entry is dropped (it grants nothing)."""
    if not isinstance(value, list):
        return ()
    found = []
    for item in value[:MAX_SHARES_PER_TOKEN]:
        if not isinstance(item, dict) or item.get("type") not in SHARE_ROLES:
            continue
        try:
            resource = uuid.UUID(str(item.get("resource")))
        except ValueError:
            continue
        perms = item.get("perms")
        if not isinstance(perms, list) or not isinstance(item.get("project"), str):
            continue
        allowed = shareable_permissions(str(item["type"]))
        found.append(ShareClaim(id=str(item.get("id")), type=str(item["type"]), resource=resource,
                                project=str(item["project"]), permissions=frozenset(str(p) for p in perms) & allowed))
    return tuple(found)
