"""The Settings area in a real browser (Debian's Chromium via playwright, loopback only): an admin signs in
on an all-in-one server, creates a team, sees it listed; the screenshot lands in
``test-output/dashboard/settings-teams.png``. Console errors (a CSP violation included) fail the test."""

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
        assert tab.errors == [] and tab.blocked == []
    finally:
        tab.context.close()
