"""Who is calling the control plane, and from where: what every audit entry and permission check needs."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, replace
from typing import Literal

ActorKind = Literal["user", "service_account", "anonymous", "workspace", "system"]


@dataclass(frozen=True)
class Actor:
    kind: ActorKind
    id: uuid.UUID | None = None
    name: str | None = None
    is_superuser: bool = False
    session_id: uuid.UUID | None = None
    api_key_id: uuid.UUID | None = None
    ip: str | None = None
    user_agent: str | None = None

    def at(self, ip: str | None, user_agent: str | None) -> Actor:
        """The same actor, seen from a request's address and user agent."""
        return replace(self, ip=ip, user_agent=(user_agent or "")[:300] or None)

    @property
    def subject_type(self) -> str:
        return "service_account" if self.kind == "service_account" else "user"


ANONYMOUS = Actor(kind="anonymous")
SYSTEM = Actor(kind="system", name="runyard")
