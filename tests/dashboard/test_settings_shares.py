"""Settings' Shares section in all-in-one mode: the organization's shares listed, revoked with the form (CSRF
checked, the API's own permission check behind it), hidden from a member who may not read grants."""

from __future__ import annotations

import uuid

from fastapi.testclient import TestClient
from test_settings_pages import ADMIN, VIEWER, app_cp, csrf_of, sign_in  # noqa: F401  (app_cp: a fixture)

from runyard.control_plane.actor import SYSTEM
from runyard.control_plane.core import ControlPlane
from runyard.control_plane.db.models import ShareRow
from runyard.control_plane.services import orgs, shares, users


def _share(cp: ControlPlane) -> uuid.UUID:
    """The default workspace's ``default`` project: pipeline ``training`` shared with the viewer."""
    with cp.db.session(write=True) as s:
        org = orgs.get_org(s, name="default")
        workspace = orgs.list_workspaces(s, org_id=org.id)[0]
        project = orgs.create_project(s, workspace=workspace, name="default", actor=SYSTEM)
        viewer = users.get_member_by_email(s, org_id=org.id, email=VIEWER)
        row = shares.create_share(s, org_id=org.id, target=shares.Target(workspace, project, "pipelines", uuid.uuid4(),
                                                                          "training"),
                                  subject_type="user", subject_id=viewer.id, subject_label=VIEWER, role="viewer",
                                  permissions=None, actor=SYSTEM, held=frozenset({"*"}))
        return row.id


def test_admin_lists_and_revokes_a_share(app_cp: tuple[TestClient, ControlPlane]) -> None:  # noqa: F811
    client, cp = app_cp
    share_id = _share(cp)
    sign_in(client, ADMIN)
    page = client.get("/settings/default/shares")
    assert page.status_code == 200 and "training" in page.text and VIEWER in page.text
    assert f"/settings/default/shares/{share_id}/revoke" in page.text
    assert client.post(f"/settings/default/shares/{share_id}/revoke", data={"csrf": "forged"}).status_code == 403
    done = client.post(f"/settings/default/shares/{share_id}/revoke", data={"csrf": csrf_of(page.text)},
                       follow_redirects=False)
    assert done.status_code == 303 and done.headers["location"] == "/settings/default/shares?done=share-revoked"
    with cp.db.session(write=False) as s:
        assert s.get(ShareRow, share_id).revoked_at is not None  # type: ignore[union-attr]
    assert "No shares." in client.get(done.headers["location"]).text


def test_a_member_who_may_not_read_grants_sees_no_shares(app_cp: tuple[TestClient, ControlPlane]) -> None:  # noqa: F811
    client, cp = app_cp
    share_id = _share(cp)
    sign_in(client, VIEWER)
    assert client.get("/settings/default/shares").status_code == 403
    members = client.get("/settings/default/members")
    assert members.status_code == 200 and "/settings/default/shares" not in members.text
    refused = client.post(f"/settings/default/shares/{share_id}/revoke", data={"csrf": csrf_of(members.text)})
    assert refused.status_code == 403
    with cp.db.session(write=False) as s:
        assert s.get(ShareRow, share_id).revoked_at is None  # type: ignore[union-attr]
