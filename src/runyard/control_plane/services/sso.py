"""Single sign-on users: provisioned at their first OpenID Connect login, teams kept in step with claims.

Identity is the pair (issuer, ``sub``), never the email: emails get reassigned, ``sub`` does not. An
existing password account is linked to an SSO identity only when the provider says the email is
verified; otherwise the login is refused, since anybody can claim any address at a lax provider.
Team membership follows the teams claim at every login: a user is added to each organization team
whose name is in the claim, and removed from teams no longer in it (teams are created by admins, never
by a claim, so a provider cannot invent teams).
"""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.orm import Session

from runyard.control_plane.actor import Actor
from runyard.control_plane.db.models import TeamMemberRow, TeamRow, UserRow
from runyard.control_plane.services import audit, orgs, users
from runyard.exceptions import Conflict, NotFound


def provision(session: Session, *, issuer: str, subject: str, email: str | None, email_verified: bool,
              name: str | None, groups: list[str], org_name: str, actor: Actor) -> UserRow:
    """The user behind an SSO identity, created or linked on first login; teams synced to ``groups``."""
    user = session.scalar(select(UserRow).where(UserRow.sso_issuer == issuer, UserRow.sso_subject == subject))
    try:
        org = orgs.get_org(session, name=org_name)
    except NotFound:
        org = orgs.create_org(session, name=org_name, actor=actor)
    if user is None:
        if not email:
            raise Conflict("The identity provider sent no email address.", hint="Allow the 'email' scope.")
        existing = users.find_user(session, email=email)
        if existing is not None:
            if existing.sso_subject is not None or not email_verified:
                raise Conflict("An account with this email exists and cannot be linked to this sign-in.",
                               hint="Ask an admin to link the accounts.")
            existing.sso_issuer, existing.sso_subject = issuer, subject
            user = existing
            audit.record(session, action="sso.link", actor=actor, org_id=org.id, target=f"user:{email}")
        else:
            user = users.create_user(session, email=email, name=name or "", password=None, actor=actor,
                                     org_id=org.id)
            user.sso_issuer, user.sso_subject = issuer, subject
            audit.record(session, action="sso.provision", actor=actor, org_id=org.id, target=f"user:{email}",
                         details={"issuer": issuer})
    if not user.is_active:
        raise Conflict("This account is disabled.")
    orgs.add_member(session, org_id=org.id, user_id=user.id, actor=actor)
    sync_teams(session, org_id=org.id, user=user, groups=groups, actor=actor)
    return user


def sync_teams(session: Session, *, org_id: uuid.UUID, user: UserRow, groups: list[str], actor: Actor) -> None:
    wanted = {g for g in groups if isinstance(g, str)}
    teams = {t.name: t for t in orgs.list_teams(session, org_id=org_id)}
    current = set(session.scalars(select(TeamRow.name).join(TeamMemberRow, TeamMemberRow.team_id == TeamRow.id)
                                  .where(TeamMemberRow.user_id == user.id, TeamRow.org_id == org_id)))
    for name in sorted((wanted & set(teams)) - current):
        orgs.add_team_member(session, team=teams[name], user=user, actor=actor)
    for name in sorted(current - wanted):
        orgs.remove_team_member(session, team=teams[name], user=user, actor=actor)
