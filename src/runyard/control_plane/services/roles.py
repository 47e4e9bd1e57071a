"""Roles and grants, and the permissions they add up to for one subject at one scope.

A grant gives a role to a user, a team (so to each member) or a service account, at the scope of an
organization, a workspace or a project. What a subject may do in a workspace is the union of its grants
at that workspace's organization, at the workspace itself, and (listed apart, per project) at its
projects. Granting is itself a permission (``roles:share``), and nobody can hand out a permission they do
not hold at that scope: a developer cannot make anyone, themselves included, an admin.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from runyard.control_plane.actor import Actor
from runyard.control_plane.db.models import GrantRow, ProjectRow, RoleRow, WorkspaceRow
from runyard.control_plane.rbac import BUILTIN_ROLES, allows, not_covered
from runyard.control_plane.schemas import GrantRead
from runyard.control_plane.services import audit
from runyard.control_plane.services.orgs import team_ids_of
from runyard.exceptions import Conflict, NotFound, PermissionDenied


def ensure_builtin_roles(session: Session) -> None:
    """Creates or refreshes the built-in roles (their permissions follow the code, not the database)."""
    existing = {r.name: r for r in session.scalars(select(RoleRow).where(RoleRow.org_id.is_(None)))}
    for name, permissions in BUILTIN_ROLES.items():
        row = existing.get(name)
        if row is None:
            session.add(RoleRow(id=uuid.uuid4(), org_id=None, name=name, permissions=sorted(permissions),
                                builtin=True))
        elif sorted(row.permissions) != sorted(permissions):
            row.permissions = sorted(permissions)


def get_role(session: Session, *, org_id: uuid.UUID, name: str) -> RoleRow:
    """A built-in role or one of this organization's custom roles."""
    role = session.scalar(select(RoleRow).where(RoleRow.name == name,
                                                or_(RoleRow.org_id.is_(None), RoleRow.org_id == org_id))
                          .order_by(RoleRow.org_id.is_(None)))
    if role is None:
        raise NotFound(f"No role {name!r}.")
    return role


def list_roles(session: Session, *, org_id: uuid.UUID) -> list[RoleRow]:
    query = select(RoleRow).where(or_(RoleRow.org_id.is_(None), RoleRow.org_id == org_id))
    return list(session.scalars(query.order_by(RoleRow.builtin.desc(), RoleRow.name)))


def create_role(session: Session, *, org_id: uuid.UUID, name: str, permissions: list[str], actor: Actor,
                actor_permissions: frozenset[str]) -> RoleRow:
    if name in BUILTIN_ROLES:
        raise Conflict(f"{name!r} is a built-in role.")
    if session.scalar(select(RoleRow.id).where(RoleRow.org_id == org_id, RoleRow.name == name)) is not None:
        raise Conflict(f"A role named {name!r} exists.")
    beyond = not_covered(permissions, actor_permissions)
    if beyond:  # a role one may not hold could later be granted by someone trusting its name
        raise PermissionDenied(f"You cannot define a role with permissions you do not hold: {', '.join(beyond)}.")
    role = RoleRow(id=uuid.uuid4(), org_id=org_id, name=name, permissions=sorted(set(permissions)), builtin=False)
    session.add(role)
    session.flush()
    audit.record(session, action="role.create", actor=actor, org_id=org_id, target=f"role:{name}",
                 details={"permissions": role.permissions})
    return role


def create_grant(session: Session, *, org_id: uuid.UUID, role: RoleRow, subject_type: str, subject_id: uuid.UUID,
                 scope_type: str, scope_id: uuid.UUID, actor: Actor, actor_permissions: frozenset[str],
                 subject_label: str = "") -> GrantRow:
    """Grants ``role``; refused (403) unless the actor may share roles and holds every permission in it."""
    if not allows(actor_permissions, "roles:share"):
        raise PermissionDenied("You may not grant roles.", hint="Ask an organization admin.")
    beyond = not_covered(role.permissions, actor_permissions)
    if beyond:
        raise PermissionDenied(f"You cannot grant permissions you do not hold: {', '.join(beyond[:10])}.")
    existing = session.scalar(select(GrantRow).where(
        GrantRow.role_id == role.id, GrantRow.subject_type == subject_type, GrantRow.subject_id == subject_id,
        GrantRow.scope_type == scope_type, GrantRow.scope_id == scope_id))
    if existing is not None:
        return existing
    grant = GrantRow(id=uuid.uuid4(), org_id=org_id, role_id=role.id, subject_type=subject_type,
                     subject_id=subject_id, scope_type=scope_type, scope_id=scope_id)
    session.add(grant)
    session.flush()
    audit.record(session, action="grant.create", actor=actor, org_id=org_id,
                 target=f"{subject_type}:{subject_label or subject_id}",
                 details={"role": role.name, "scope": f"{scope_type}:{scope_id}"})
    return grant


def delete_grant(session: Session, *, org_id: uuid.UUID, grant_id: uuid.UUID, actor: Actor,
                 actor_permissions: frozenset[str]) -> None:
    grant = session.get(GrantRow, grant_id)
    if grant is None or grant.org_id != org_id:
        raise NotFound("No such grant in this organization.")
    role = session.get(RoleRow, grant.role_id)
    if not allows(actor_permissions, "roles:share") or (role and not_covered(role.permissions, actor_permissions)):
        raise PermissionDenied("You may not revoke this grant.")
    session.delete(grant)
    audit.record(session, action="grant.delete", actor=actor, org_id=org_id,
                 target=f"{grant.subject_type}:{grant.subject_id}",
                 details={"role": role.name if role else None, "scope": f"{grant.scope_type}:{grant.scope_id}"})


def list_grants(session: Session, *, org_id: uuid.UUID) -> list[tuple[GrantRow, str]]:
    query = (select(GrantRow, RoleRow.name).join(RoleRow, RoleRow.id == GrantRow.role_id)
             .where(GrantRow.org_id == org_id).order_by(GrantRow.created))
    return [(g, name) for g, name in session.execute(query)]


@dataclass(frozen=True)
class Scoped:
    """What one subject may do in one workspace: workspace-wide, and per project (by project name)."""

    workspace: frozenset[str]
    projects: dict[str, frozenset[str]] = field(default_factory=dict)
    roles: frozenset[str] = frozenset()

    def in_project(self, project: str) -> frozenset[str]:
        """What the subject may do in one project: its workspace-wide grants and that project's."""
        return self.workspace | self.projects.get(project, frozenset())


def _subjects(session: Session, *, subject_type: str, subject_id: uuid.UUID) -> list[tuple[str, uuid.UUID]]:
    subjects = [(subject_type, subject_id)]
    if subject_type == "user":
        subjects += [("team", t) for t in team_ids_of(session, user_id=subject_id)]
    return subjects


def _grants(session: Session, subjects: list[tuple[str, uuid.UUID]], scopes: list[tuple[str, uuid.UUID]],
            ) -> list[tuple[GrantRow, RoleRow]]:
    if not scopes:
        return []
    subject_match = or_(*[(GrantRow.subject_type == t) & (GrantRow.subject_id == i) for t, i in subjects])
    scope_match = or_(*[(GrantRow.scope_type == t) & (GrantRow.scope_id == i) for t, i in scopes])
    query = select(GrantRow, RoleRow).join(RoleRow, RoleRow.id == GrantRow.role_id).where(subject_match, scope_match)
    return [(g, r) for g, r in session.execute(query)]


def org_permissions(session: Session, *, subject_type: str, subject_id: uuid.UUID, org_id: uuid.UUID,
                    ) -> frozenset[str]:
    """What a subject may do organization-wide (managing users, teams, keys, roles, reading the audit log)."""
    found: set[str] = set()
    for _, role in _grants(session, _subjects(session, subject_type=subject_type, subject_id=subject_id),
                           [("org", org_id)]):
        found.update(role.permissions)
    return frozenset(found)


def workspace_permissions(session: Session, *, subject_type: str, subject_id: uuid.UUID,
                          workspace: WorkspaceRow) -> Scoped:
    projects = {p.id: p.name for p in session.scalars(select(ProjectRow).where(
        ProjectRow.workspace_id == workspace.id))}
    scopes = [("org", workspace.org_id), ("workspace", workspace.id)] + [("project", p) for p in projects]
    wide: set[str] = set()
    per_project: dict[str, set[str]] = {}
    roles: set[str] = set()
    for grant, role in _grants(session, _subjects(session, subject_type=subject_type, subject_id=subject_id),
                               scopes):
        roles.add(role.name)
        if grant.scope_type == "project":
            per_project.setdefault(projects[grant.scope_id], set()).update(role.permissions)
        else:
            wide.update(role.permissions)
    return Scoped(workspace=frozenset(wide), projects={k: frozenset(v) for k, v in per_project.items()},
                  roles=frozenset(roles))


def delete_role(session: Session, *, org_id: uuid.UUID, name: str, actor: Actor) -> None:
    """Deletes a custom role; refused while any grant still gives it (revoking is a decision of its own)."""
    role = get_role(session, org_id=org_id, name=name)
    if role.builtin or role.org_id is None:
        raise Conflict(f"{name!r} is a built-in role and cannot be deleted.")
    used = len(list(session.scalars(select(GrantRow.id).where(GrantRow.role_id == role.id))))
    if used:
        raise Conflict(f"Role {name!r} is granted {used} time(s).",
                       hint="Revoke its grants first (`runyard grant list`, then `runyard grant revoke ID`).")
    session.delete(role)
    audit.record(session, action="role.delete", actor=actor, org_id=org_id, target=f"role:{name}")


def grants_of(session: Session, *, org_id: uuid.UUID, subject_type: str,
              subject_id: uuid.UUID) -> list[tuple[GrantRow, str]]:
    """The grants given directly to one subject in one organization, with their role names."""
    query = (select(GrantRow, RoleRow.name).join(RoleRow, RoleRow.id == GrantRow.role_id)
             .where(GrantRow.org_id == org_id, GrantRow.subject_type == subject_type,
                    GrantRow.subject_id == subject_id).order_by(GrantRow.created))
    return [(g, n) for g, n in session.execute(query)]


def describe_grants(session: Session, pairs: list[tuple[GrantRow, str]]) -> list[GrantRead]:
    """Grants as people read them: the subject's email or name and the scope's name beside the ids."""
    from runyard.control_plane.db.models import OrganizationRow, ServiceAccountRow, TeamRow, UserRow

    subjects = {"user": (UserRow, "email"), "team": (TeamRow, "name"), "service_account": (ServiceAccountRow, "name")}
    out = []
    for grant, role_name in pairs:
        model, attr = subjects.get(grant.subject_type, (UserRow, "email"))
        subject = session.get(model, grant.subject_id)
        scope: str | None = None
        if grant.scope_type == "org":
            org = session.get(OrganizationRow, grant.scope_id)
            scope = org.name if org else None
        elif grant.scope_type == "workspace":
            ws = session.get(WorkspaceRow, grant.scope_id)
            scope = ws.name if ws else None
        else:
            project = session.get(ProjectRow, grant.scope_id)
            ws = session.get(WorkspaceRow, project.workspace_id) if project else None
            scope = f"{ws.name}/{project.name}" if project and ws else None
        out.append(GrantRead(id=grant.id, role=role_name, subject_type=grant.subject_type, subject_id=grant.subject_id,
                             scope_type=grant.scope_type, scope_id=grant.scope_id, created=grant.created,
                             subject=getattr(subject, attr, None), scope=scope))
    return out
