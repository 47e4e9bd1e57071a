"""A step reads a secret with ``runyard.secrets.get_secret``: it gets the values, and whatever it prints or
logs of them is stored as ``***`` in its captured log (on the local and the forked local_parallel
orchestrator, over the default artifact-store log backend)."""

from __future__ import annotations

import logging

import pytest

from runyard import Client, pipeline, step
from runyard.logs import masking
from runyard.schemas.logs import LogQuery
from runyard.secrets import get_secret

PASSWORD = "hunter2-but-longer"
TOKEN = "ghp_0123456789abcdef"


@step(enable_cache=False)
def connect() -> int:
    creds = get_secret("warehouse")
    print(f"connecting as {creds['user']} with password {creds['password']}")
    logging.getLogger("etl").warning("token=%s", creds["token"])
    return len(creds["password"])


@pipeline(enable_cache=False)
def etl() -> None:
    connect()


@pytest.fixture(autouse=True)
def _fresh_masks() -> None:
    masking.clear()


@pytest.mark.parametrize("orchestrator", ["local", "local_parallel"])
def test_values_a_step_prints_are_masked_in_its_stored_log(orchestrator: str) -> None:
    Client().create_secret("warehouse", {"user": "etl", "password": PASSWORD, "token": TOKEN})
    run = etl.with_options(orchestrator={"name": orchestrator})()
    assert run.status == "completed", run.status
    assert run.steps["connect"].outputs["output"].load() == len(PASSWORD)  # the step saw the real value

    page = Client().api.read_logs(run.id, LogQuery(step="connect"))
    messages = [line.message for line in page.lines]
    assert messages == ["connecting as etl with password ***", "token=***"]  # "etl" is < 4 characters
    assert PASSWORD not in str(page.model_dump()) and TOKEN not in str(page.model_dump())


def test_a_missing_secret_fails_the_step_with_a_clear_message() -> None:
    run = etl()
    assert run.status == "failed"
    assert "No secret named 'warehouse'" in (run.steps["connect"].error or "")
