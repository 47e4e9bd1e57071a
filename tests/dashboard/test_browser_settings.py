"""The Settings area and the dashboard's sign-in in a real browser (Debian's Chromium via playwright,
loopback only): an admin signs in on an all-in-one server, creates a team, sees it listed, deletes it
after a confirmation; in split mode, the workspace's dashboard signs in through the control plane.
Screenshots land in ``test-output/dashboard/``. Console errors (a CSP violation included) fail the tests."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from dashboard_workspace import free_port, reset_runyard_state
from test_browser import Tab, chromium  # noqa: F401  (the module-scoped browser fixture)

ADMIN, PASSWORD = "admin@example.com", "a browser passphrase"


class _Served:
    def __init__(self, url: str) -> None:
        self.url = url


@pytest.fixture
def all_in_one(runyard_home: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[_Served]:
    """``runyard up --admin-email``'s app (workspace + control plane), served by uvicorn in a thread."""
    import uvicorn

    from runyard.control_plane.db.engine import reset_control_plane_databases
    from runyard.workspace.app import create_app

    monkeypatch.setenv("RUNYARD_AUTH", "all_in_one")
    monkeypatch.setenv("RUNYARD_PASSWORD_HASH_MEMORY_KIB", "8192")
    monkeypatch.setenv("RUNYARD_PASSWORD_HASH_TIME_COST", "1")
    reset_runyard_state()
    app = create_app(f"sqlite:///{runyard_home / 'ws.db'}")
    app.state.control_plane.bootstrap_admin(email=ADMIN, password=PASSWORD)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=free_port(), log_level="warning"))
    thread = threading.Thread(target=server.run, name="settings-test-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            pytest.fail("The all-in-one test server did not start.")
        time.sleep(0.02)
    yield _Served(f"http://127.0.0.1:{server.config.port}")
    server.should_exit = True
    thread.join(timeout=10)
    reset_control_plane_databases()


def test_admin_signs_in_creates_a_team_and_sees_it(chromium: Any, all_in_one: _Served) -> None:  # noqa: F811
    tab = Tab(chromium, all_in_one)  # type: ignore[arg-type]
    try:
        page = tab.goto("/settings")
        assert "/login" in page.url
        page.fill("input[name=email]", ADMIN)
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url("**/settings/default/members")
        assert page.locator("#members").get_by_text(ADMIN).is_visible()
        page.get_by_role("link", name="Teams").click()
        page.wait_for_url("**/settings/default/teams")
        page.fill("#create-team input[name=name]", "data-science")
        page.click("#create-team button[type=submit]")
        page.wait_for_url("**/settings/default/teams?done=team-created")
        assert page.get_by_role("status").inner_text() == "Team created."
        team = page.locator("#team-data-science")
        assert team.is_visible() and team.locator("h2").inner_text() == "data-science"
        tab.shot("settings-teams")
        page.get_by_role("link", name="Audit log").click()
        assert page.locator("#audit").get_by_text("team.create").first.is_visible()
        page.get_by_role("link", name="Teams").click()
        answers = iter([False, True])  # the first "Delete team?" is dismissed, the second accepted
        page.on("dialog", lambda dialog: dialog.accept() if next(answers) else dialog.dismiss())
        page.click("#team-data-science button.danger")
        assert page.locator("#team-data-science").is_visible()
        page.click("#team-data-science button.danger")
        page.wait_for_url("**/settings/default/teams?done=team-deleted")
        assert page.locator("#team-data-science").count() == 0
        page.get_by_role("link", name="Service accounts & keys").click()
        page.fill("#create-account input[name=name]", "ci")
        page.click("#create-account button[type=submit]")
        page.fill("#account-ci input[name=name]", "deploy")
        page.click("#account-ci form.inline-form button[type=submit]")
        secret = page.locator("#new-key-value").inner_text()
        assert secret.startswith("ry_")
        tab.shot("settings-new-key")
        page.get_by_role("link", name="Service accounts & keys").click()
        assert page.locator("#new-key-value").count() == 0 and secret not in page.content()
        assert tab.errors == [] and tab.blocked == []
    finally:
        tab.context.close()


@pytest.fixture
def split(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[_Served, _Served]]:
    """Split mode: a control plane and a Workspace Server, each its own uvicorn process and database."""
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "control_plane"))
    from sqlalchemy import update
    from test_cp_split_mode import SECRET, _start

    from runyard.control_plane.core import ControlPlane
    from runyard.control_plane.db.models import WorkspaceRow
    from runyard.settings import get_settings

    monkeypatch.setenv("RUNYARD_CONTROL_PLANE_SECRET_KEY", SECRET)
    monkeypatch.setenv("RUNYARD_PASSWORD_HASH_MEMORY_KIB", "8192")
    monkeypatch.setenv("RUNYARD_PASSWORD_HASH_TIME_COST", "1")
    get_settings.cache_clear()
    cp_db = f"sqlite:///{tmp_path / 'cp.db'}"
    control_plane = ControlPlane(cp_db)
    control_plane.bootstrap_admin(email=ADMIN, password=PASSWORD)  # admin of the organization: every workspace
    workspace = control_plane.register_workspace(name="lab", url="http://127.0.0.1:1", audience="runyard:default:lab")
    common = {"RUNYARD_CONTROL_PLANE_SECRET_KEY": SECRET, "RUNYARD_PASSWORD_HASH_MEMORY_KIB": "8192",
              "RUNYARD_PASSWORD_HASH_TIME_COST": "1"}
    cp = _start("runyard.control_plane.deploy:create_control_plane_server",
                {**common, "RUNYARD_HOME": str(tmp_path / "cp-home"), "RUNYARD_CONTROL_PLANE_DATABASE_URL": cp_db},
                tmp_path / "cp.log")
    try:
        ws = _start("runyard.control_plane.deploy:create_protected_workspace", {
            "RUNYARD_HOME": str(tmp_path / "ws"), "RUNYARD_AUTH": "control_plane",
            "RUNYARD_DATABASE_URL": f"sqlite:///{tmp_path / 'ws.db'}", "RUNYARD_CONTROL_PLANE_URL": cp.url,
            "RUNYARD_WORKSPACE_AUDIENCE": workspace.audience}, tmp_path / "ws.log")
    except BaseException:
        cp.stop()
        raise
    try:
        with control_plane.db.session(write=True) as s:
            s.execute(update(WorkspaceRow).where(WorkspaceRow.id == workspace.id).values(url=ws.url))
        yield _Served(cp.url), _Served(ws.url)
    finally:
        ws.stop()
        cp.stop()
        from runyard.control_plane.db.engine import reset_control_plane_databases

        reset_control_plane_databases()


def test_split_mode_dashboard_signs_in_through_the_control_plane(chromium: Any,  # noqa: F811
                                                                 split: tuple[_Served, _Served]) -> None:
    """A signed-out browser on the workspace's dashboard lands on the control plane's sign-in form, and after
    it, back on the page it wanted, with no script and no bearer token involved."""
    cp, ws = split
    tab = Tab(chromium, ws)  # type: ignore[arg-type]
    try:
        page = tab.goto("/runs")
        assert page.url.startswith(cp.url + "/login?next=")
        page.fill("input[name=email]", ADMIN)
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url(ws.url + "/runs")
        assert page.get_by_role("heading", name="Runs").is_visible()
        tab.shot("split-mode-signed-in")
        cookies = {c["name"]: c for c in tab.context.cookies()}
        assert cookies["ry_ws_token"]["httpOnly"] and cookies["ry_ws_token"]["sameSite"] == "Lax"
        assert tab.errors == [] and tab.blocked == []
    finally:
        tab.context.close()
