"""Test data for the control-plane and security tests: one organization, two workspaces, a user per role.

``build_world(cp)`` creates, through the service layer (the same functions the API calls):

- workspaces ``ws-a`` and ``ws-b``, and projects ``p1`` and ``p2`` in ``ws-a``;
- users ``admin`` (org admin), ``developer``, ``viewer``, ``stack_admin`` (each granted on ``ws-a``),
  ``other_ws`` (developer on ``ws-b`` only), ``project`` (developer on project ``ws-a/p1`` only) and
  ``other_project`` (developer on project ``ws-a/p2`` only);
- a service account ``ci`` (developer on ``ws-a``) with one API key.

Users have no password (tokens are minted directly); tests of password login create their own.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from runyard.control_plane.actor import SYSTEM
from runyard.control_plane.core import ControlPlane
from runyard.control_plane.db.models import OrganizationRow, UserRow, WorkspaceRow
from runyard.control_plane.services import keys, orgs, roles, users

PASSWORD = "a long enough passphrase"

ROLES_ON_A = {"admin": None, "developer": "developer", "viewer": "viewer", "stack_admin": "stack_admin"}


@dataclass
class World:
    cp: ControlPlane
    org: OrganizationRow
    ws_a: WorkspaceRow
    ws_b: WorkspaceRow
    users: dict[str, UserRow] = field(default_factory=dict)
    api_key: str = ""
    api_key_id: uuid.UUID | None = None

    def token(self, who: str, audience: str | None = "a") -> str:
        aud = {"a": self.ws_a.audience, "b": self.ws_b.audience}.get(audience or "", audience)
        return self.cp.login_token(user_id=self.users[who].id, audience=aud)[0]

    def session_token(self, who: str, audience: str | None = "a") -> tuple[str, str | None]:
        aud = {"a": self.ws_a.audience, "b": self.ws_b.audience}.get(audience or "", audience)
        token, refresh, _ = self.cp.login_token(user_id=self.users[who].id, audience=aud)
        return token, refresh


def build_world(cp: ControlPlane) -> World:
    with cp.db.session(write=True) as s:
        org = orgs.create_org(s, name="acme", actor=SYSTEM)
        ws_a = orgs.create_workspace(s, org=org, name="ws-a", url="http://127.0.0.1:1", audience=None, actor=SYSTEM)
        ws_b = orgs.create_workspace(s, org=org, name="ws-b", url="http://127.0.0.1:2", audience=None, actor=SYSTEM)
        p1 = orgs.create_project(s, workspace=ws_a, name="p1", actor=SYSTEM)
        p2 = orgs.create_project(s, workspace=ws_a, name="p2", actor=SYSTEM)
        world = World(cp=cp, org=org, ws_a=ws_a, ws_b=ws_b)
        everything = frozenset({"*"})

        def grant(role: str, subject_type: str, subject_id: uuid.UUID, scope_type: str, scope_id: uuid.UUID) -> None:
            roles.create_grant(s, org_id=org.id, role=roles.get_role(s, org_id=org.id, name=role),
                               subject_type=subject_type, subject_id=subject_id, scope_type=scope_type,
                               scope_id=scope_id, actor=SYSTEM, actor_permissions=everything)

        for name in ("admin", "developer", "viewer", "stack_admin", "other_ws", "project", "other_project"):
            user = users.create_user(s, email=f"{name}@acme.test", password=None, actor=SYSTEM, org_id=org.id)
            orgs.add_member(s, org_id=org.id, user_id=user.id, actor=SYSTEM)
            world.users[name] = user
        grant("admin", "user", world.users["admin"].id, "org", org.id)
        for name in ("developer", "viewer", "stack_admin"):
            grant(name, "user", world.users[name].id, "workspace", ws_a.id)
        grant("developer", "user", world.users["other_ws"].id, "workspace", ws_b.id)
        grant("developer", "user", world.users["project"].id, "project", p1.id)
        grant("developer", "user", world.users["other_project"].id, "project", p2.id)
        ci = keys.create_service_account(s, org_id=org.id, name="ci", description="", actor=SYSTEM)
        grant("developer", "service_account", ci.id, "workspace", ws_a.id)
        new = keys.create_key(s, org_id=org.id, name="ci-key", actor=SYSTEM, service_account=ci)
        world.api_key, world.api_key_id = new.secret, new.row.id
    return world


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}
