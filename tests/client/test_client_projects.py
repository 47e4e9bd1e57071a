"""The SDK in a project: ``RUNYARD_PROJECT``, ``client.json`` and ``Client(project=...)``, embedded."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import pytest

from runyard import Client, pipeline, step
from runyard.client import connection
from runyard.client.config import ClientConfig
from runyard.exceptions import InvalidInput
from runyard.settings import get_settings


@step
def make_number() -> Annotated[int, "number"]:
    return 7


@pipeline
def tiny() -> None:
    make_number()


def _use_project(monkeypatch: pytest.MonkeyPatch, project: str | None) -> None:
    if project is None:
        monkeypatch.delenv("RUNYARD_PROJECT", raising=False)
    else:
        monkeypatch.setenv("RUNYARD_PROJECT", project)
    get_settings.cache_clear()
    connection.reset()


def test_a_run_lands_in_the_clients_project(monkeypatch: pytest.MonkeyPatch, runyard_home: Path) -> None:
    _use_project(monkeypatch, "vision")
    run = tiny()
    assert run.status == "completed" and run.steps["make_number"].outputs["number"].load() == 7
    assert Client().project == "vision" and [r.id for r in Client().list_runs()] == [run.id]

    _use_project(monkeypatch, None)
    assert Client().project == "default" and list(Client().list_runs()) == []
    assert [r.id for r in Client(project="vision").list_runs()] == [run.id]
    assert Client(project="vision").get_artifact_version("number").version == 1

    again = tiny()  # the default project has its own pipeline, artifact numbering and cache
    assert again.steps["make_number"].status == "completed"
    assert Client().get_artifact_version("number").version == 1

    config = ClientConfig.load()
    config.project = "vision"
    config.save()
    _use_project(monkeypatch, None)
    assert Client().project == "vision"  # client.json when RUNYARD_PROJECT is not set


def test_a_malformed_project_name_names_the_fix(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(InvalidInput, match="not a project name"):
        Client(project="Not Valid")
    _use_project(monkeypatch, "Bad Name")
    with pytest.raises(InvalidInput) as raised:
        Client()
    assert "RUNYARD_PROJECT" in (raised.value.hint or "")
