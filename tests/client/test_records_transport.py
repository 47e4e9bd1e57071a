"""A records client (what a pipeline run uses) gets the same answers and errors over every transport."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from runyard.client import connection, records
from runyard.client.workspace_api import WorkspaceAPI
from runyard.exceptions import InvalidInput, NotFound


def _clients() -> tuple[WorkspaceAPI, WorkspaceAPI]:
    connection.reset()
    return connection.workspace_api(records=True), connection.workspace_api()


@pytest.fixture(params=["in_process", "local_service"])
def transport_kind(request: pytest.FixtureRequest, runyard_home: Path) -> str:
    if request.param == "local_service":
        request.getfixturevalue("local_service")
    return str(request.param)


def test_records_in_records_out_and_the_models_client_reads_the_same(transport_kind: str) -> None:
    api, models = _clients()
    assert api.records and not models.records
    stack = api.get_stack("default")
    assert isinstance(stack, records.StackRead)
    assert isinstance(stack.components["artifact_store"], records.ComponentRead)
    pipeline = api.create_pipeline(records.PipelineCreate(name="rec", docstring="records"))
    assert isinstance(pipeline, records.PipelineRead)
    snapshot = api.create_snapshot(records.SnapshotCreate(
        pipeline_id=pipeline.id, stack_id=stack.id, spec={"steps": []}, spec_hash="h" * 64))
    run_id = uuid.uuid4()
    run = api.create_run(records.RunCreate(id=run_id, snapshot_id=snapshot.id, name="rec-1",
                                           status=records.RunStatus.RUNNING, tags=["a"]))
    assert isinstance(run, records.RunRead)
    assert run.id == run_id and run.status == "running" and run.tags == ["a"]
    started = api.report_step_start(records.StepRunCreate(run_id=run_id, invocation_id="s", step_name="s"))
    step = started.result()
    assert isinstance(step, records.StepRunRead) and step.status == "running"

    same = models.get_run(run_id)  # the pydantic model of the same run
    assert type(same) is not records.RunRead
    assert records.RunRead.from_json(same.model_dump(mode="json")) == api.get_run(run_id)
    page = api.list_run_steps(run_id, records.PageRequest(limit=10))
    assert isinstance(page, records.RunStepsPage)
    assert [s.invocation_id for s in page.step_runs()] == ["s"]


def test_bad_records_are_refused_with_the_domain_error(transport_kind: str) -> None:
    api, _ = _clients()
    with pytest.raises(NotFound):
        api.create_run(records.RunCreate(snapshot_id=uuid.uuid4(), name="orphan"))
    with pytest.raises(InvalidInput) as info:  # validated as the service validates (the name pattern)
        api.create_pipeline(records.PipelineCreate(name="not a name!"))
    assert "name" in str(info.value) or "pattern" in str(info.value)
    # the workspace still answers, and nothing half-written was kept
    assert api.get_stack("default").name == "default"
    with pytest.raises(NotFound):
        api.get_pipeline("not a name!")


def test_a_models_client_given_a_record_validates_it() -> None:
    """Shared SDK code (log_metadata, the log writer) may hand a record to a models client."""
    _, models = _clients()
    created = models.create_pipeline(records.PipelineCreate(name="shared"))  # type: ignore[arg-type]
    assert created.name == "shared" and type(created) is not records.PipelineRead
