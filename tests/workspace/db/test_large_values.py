"""Values that outgrow 32 bits are stored exactly on every database."""

from __future__ import annotations

import uuid

from runyard import schemas as s
from runyard.client.workspace_api import WorkspaceAPI


def test_an_artifact_over_2_gib_keeps_its_size(api: WorkspaceAPI) -> None:
    pipeline = api.create_pipeline(s.PipelineCreate(name="big"))
    snapshot = api.create_snapshot(s.SnapshotCreate(pipeline_id=pipeline.id, spec={}, spec_hash="h"))
    run = api.create_run(s.RunCreate(snapshot_id=snapshot.id, status=s.RunStatus.RUNNING))
    step = api.create_step_run(s.StepRunCreate(run_id=run.id, invocation_id="produce", step_name="produce"))
    size = 5 * 1024**3
    version = s.ArtifactVersionCreate(
        id=uuid.uuid4(), name="weights", output_name="weights", uri="/x/weights", content_hash="0" * 64, size=size,
        materializer="runyard.bytes", data_type="builtins.bytes",
    )
    done = api.update_step_run(step.id, s.StepRunUpdate(status=s.StepStatus.COMPLETED, new_outputs=[version]))
    assert done.outputs["weights"].size == size
    assert api.get_artifact_version("weights").size == size
