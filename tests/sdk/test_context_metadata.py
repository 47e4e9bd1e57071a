"""``get_step_context()`` and ``log_metadata`` inside and outside steps, checked in the stored state."""

from __future__ import annotations

from typing import Annotated, Any

import pytest

from runyard import Client, get_step_context, log_metadata, pipeline, step
from runyard.exceptions import PipelineDefinitionError, RunyardError

SEEN: list[dict[str, Any]] = []


@step
def introspect(x: int = 1) -> Annotated[dict[str, str], "ctx"]:
    ctx = get_step_context()
    seen = {
        "run_id": str(ctx.run_id),
        "run_name": ctx.run_name,
        "pipeline": ctx.pipeline_name,
        "step": ctx.step_name,
        "invocation": ctx.invocation_id,
        "step_run_id": str(ctx.step_run_id),
        "attempt": str(ctx.attempt),
    }
    return seen


@pipeline
def contextual() -> None:
    introspect()
    introspect(x=2)


def test_step_context_names_the_run_step_and_invocation() -> None:
    run = contextual()
    assert run.status == "completed"
    first = run.steps["introspect"].outputs["ctx"].load()
    second = run.steps["introspect_2"].outputs["ctx"].load()
    for seen, inv in ((first, "introspect"), (second, "introspect_2")):
        assert seen["run_id"] == str(run.id)
        assert seen["run_name"] == run.name
        assert seen["pipeline"] == "contextual"
        assert seen["step"] == "introspect"
        assert seen["invocation"] == inv
        assert seen["step_run_id"] == str(run.steps[inv].id)
        assert seen["attempt"] == "1"


def test_step_context_outside_a_step_raises_with_a_hint() -> None:
    with pytest.raises(RunyardError, match="outside a running step") as info:
        get_step_context()
    assert "@step" in (info.value.hint or "")
    # a step called as a plain function has no context either
    with pytest.raises(RunyardError, match="outside a running step"):
        introspect()


@step
def measured() -> tuple[Annotated[list[int], "model"], Annotated[int, "score"]]:
    log_metadata({"accuracy": 0.93, "epochs": 3})
    log_metadata({"epochs": 4})  # a later value of a key wins
    log_metadata({"dataset": "tiny"}, on_run=True)
    log_metadata({"n_params": 2, "kind": "linear"}, output="model")
    return [1, 2], 7


@pipeline
def metadata_pipeline() -> None:
    measured()


def test_log_metadata_to_step_run_run_and_output(database_url: str) -> None:
    run = metadata_pipeline()
    assert run.status == "completed"
    client = Client()
    stored = client.get_run(run.id)
    assert stored.metadata == {"dataset": "tiny"}
    step_run = stored.steps["measured"]
    assert step_run.metadata == {"accuracy": 0.93, "epochs": 4}
    model = step_run.outputs["model"]
    assert model.metadata["n_params"] == 2
    assert model.metadata["kind"] == "linear"
    assert "n_params" not in step_run.outputs["score"].metadata
    assert client.get_artifact_version("model").metadata["kind"] == "linear"
    assert client.get_step_run(step_run.id).metadata["accuracy"] == 0.93


def test_log_metadata_by_id_outside_a_step(database_url: str) -> None:
    run = metadata_pipeline()
    model = run.steps["measured"].outputs["model"]
    log_metadata({"reviewed": True}, run_id=run.id)
    log_metadata({"note": "ok"}, step_run_id=str(run.steps["measured"].id))
    log_metadata({"approved_by": "ana"}, artifact_version_id=model.id)
    client = Client()
    assert client.get_run(run.id).metadata == {"dataset": "tiny", "reviewed": True}
    assert client.get_step_run(run.steps["measured"].id).metadata["note"] == "ok"
    assert client.get_artifact_version("model").metadata["approved_by"] == "ana"
    assert client.get_artifact_version("model").metadata["n_params"] == 2


def test_log_metadata_misuse_is_refused() -> None:
    with pytest.raises(RunyardError, match="outside a step needs a target"):
        log_metadata({"a": 1})
    with pytest.raises(RunyardError, match="takes one of run_id"):
        log_metadata({"a": 1}, run_id="00000000-0000-0000-0000-000000000001",
                     step_run_id="00000000-0000-0000-0000-000000000002")
    with pytest.raises(RunyardError, match="takes a dict"):
        log_metadata([("a", 1)])  # type: ignore[arg-type]
    with pytest.raises(PipelineDefinitionError, match="Metadata value 'obj'"):
        log_metadata({"obj": object()}, run_id="00000000-0000-0000-0000-000000000001")


@step
def logs_bad_metadata() -> int:
    log_metadata({"obj": object()})
    return 1


@pipeline
def bad_metadata() -> None:
    logs_bad_metadata()


def test_non_json_metadata_inside_a_step_fails_that_step() -> None:
    run = bad_metadata()
    assert run.status == "failed"
    st = run.steps["logs_bad_metadata"]
    assert st.status == "failed"
    assert "Metadata value 'obj'" in (st.error or "")


@step
def logs_nan() -> int:
    log_metadata({"loss": float("nan")})
    return 1


@pipeline
def nan_metadata() -> None:
    logs_nan()


def test_nan_metadata_is_stored_the_same_on_every_database(database_url: str) -> None:
    """A NaN loss is a legitimate metric: it is stored as the string "NaN" (strict JSON) everywhere."""
    run = nan_metadata()
    assert run.status == "completed"
    st = Client().get_run(run.id).steps["logs_nan"]
    assert st.metadata["loss"] == "NaN"
    log_metadata({"score": float("inf"), "nested": [float("-inf"), 1.5]}, run_id=run.id)
    assert Client().get_run(run.id).metadata == {"score": "Infinity", "nested": ["-Infinity", 1.5]}
