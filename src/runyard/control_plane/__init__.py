"""The Control Plane: who may do what, across workspaces.

It owns identities (users, service accounts, API keys, personal access tokens), organizations,
workspaces, projects and teams, roles and grants, login (password, device flow, OpenID Connect SSO), and
the audit log. It signs short-lived access tokens that a Workspace Server verifies offline against the
published keys (``/.well-known/jwks.json``), so a workspace never needs the control-plane database.

Layers follow the workspace's: ``api/`` (HTTP only) -> ``services/`` (logic, ``fn(session, *, ...)``)
-> ``db/`` (ORM, migrations). ``guard`` and ``verifier`` are the workspace side: they turn a bearer
token into a :class:`~runyard.workspace.api.deps.Principal`. Nothing here is imported by ``import runyard``.
"""
