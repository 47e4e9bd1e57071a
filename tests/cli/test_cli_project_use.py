"""``runyard project use NAME``: the client's project, kept in client.json, and what the SDK then does."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from runyard import Client, pipeline, step
from runyard.cli.main import app
from runyard.client.config import ClientConfig, current_project


@step
def one() -> int:
    return 1


@pipeline
def tiny() -> None:
    one()


def _reset() -> None:
    from runyard.client import connection
    from runyard.settings import get_settings

    get_settings.cache_clear()
    connection.reset()


def test_use_switches_the_project_runs_land_in_and_back(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RUNYARD_PROJECT", raising=False)
    runner = CliRunner()
    done = runner.invoke(app, ["project", "use", "churn"])
    assert done.exit_code == 0, done.output
    assert ClientConfig.load().project == "churn" and current_project() == "churn"
    _reset()
    run = tiny()
    assert [r.id for r in Client().list_runs(pipeline="tiny")] == [run.id]
    assert Client(project="default").list_runs(pipeline="tiny") == []

    assert runner.invoke(app, ["project", "use", "default"]).exit_code == 0
    assert ClientConfig.load().project is None
    _reset()
    assert Client().list_runs(pipeline="tiny") == []


def test_use_refuses_a_bad_name_with_the_fix() -> None:
    result = CliRunner().invoke(app, ["project", "use", "Not A Name!"])
    assert result.exit_code == 1
    assert "is not a project name" in result.output and ClientConfig.load().project is None
