"""Failures: status, skipped downstream, the user's traceback, and errors that name what is wrong."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Annotated, Any

import pytest

from runyard import Client, pipeline, step
from runyard.exceptions import ArtifactError, PipelineDefinitionError, StepFailed

ORDER: list[str] = []


@pytest.fixture(autouse=True)
def _clear() -> None:
    ORDER.clear()


@step
def source(n: int = 3) -> Annotated[list[int], "source_values"]:
    ORDER.append("source")
    return list(range(n))


def _user_helper(values: list[int]) -> int:
    raise ValueError(f"cannot handle {len(values)} values")


@step(enable_cache=False)
def explode(values: list[int]) -> Annotated[int, "exploded"]:
    ORDER.append("explode")
    return _user_helper(values)


@step(enable_cache=False)
def after_explode(value: int) -> Annotated[int, "after_value"]:
    ORDER.append("after_explode")
    return value


@step(enable_cache=False)
def independent(values: list[int]) -> Annotated[int, "independent_value"]:
    ORDER.append("independent")
    return len(values)


@pipeline
def branching() -> None:
    values = source()
    after_explode(explode(values))
    independent(values)


def test_failed_step_fails_the_run_and_skips_downstream(database_url: str,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    run = branching()
    assert run.status == "failed"
    assert "explode" in (run.error or "")
    statuses = {k: v.status for k, v in run.steps.items()}
    # stop at the first failure: the independent branch (after explode in order) never starts
    assert statuses == {"source": "completed", "explode": "failed", "after_explode": "skipped",
                        "independent": "skipped"}
    assert ORDER == ["source", "explode"]

    stored = Client().get_run(run.id)
    assert stored.status == "failed"
    failed = stored.steps["explode"]
    assert failed.error == "ValueError: cannot handle 3 values"
    tb = failed.traceback or ""
    assert "Traceback" in tb
    assert "_user_helper" in tb and "in explode" in tb
    assert "cannot handle 3 values" in tb
    assert "step_runner.py" not in tb
    assert "runyard/execution" not in tb
    assert stored.steps["after_explode"].status == "skipped"
    assert stored.steps["after_explode"].outputs == {}
    # the user sees their traceback on stderr, with how to see the run again
    err = capsys.readouterr().err
    assert "in _user_helper" in err
    assert f"runyard run show {run.id}" in err


def test_continue_on_failure_runs_independent_branches(database_url: str) -> None:
    run = branching.with_options(continue_on_failure=True)()
    assert run.status == "failed"
    statuses = {k: v.status for k, v in run.steps.items()}
    assert statuses == {"source": "completed", "explode": "failed", "after_explode": "skipped",
                        "independent": "completed"}
    assert "after_explode" not in ORDER
    assert run.steps["independent"].outputs["independent_value"].load() == 3


def test_raise_for_status_carries_the_user_traceback() -> None:
    run = branching()
    with pytest.raises(StepFailed) as info:
        run.raise_for_status()
    assert "in _user_helper" in info.value.user_traceback
    assert "explode" in info.value.message


def test_earlier_artifacts_still_load_after_a_later_failed_run() -> None:
    @pipeline
    def good() -> None:
        independent(source())

    ok = good()
    assert ok.status == "completed"
    failed = branching()
    assert failed.status == "failed"
    again = Client().get_run(ok.id)
    assert again.status == "completed"
    assert again.steps["source"].outputs["source_values"].load() == [0, 1, 2]
    assert again.steps["independent"].outputs["independent_value"].load() == 3
    assert Client().get_artifact_version("independent_value").version == 1


@step
def wrong_type() -> Annotated[int, "count_out"]:
    return "three"  # type: ignore[return-value]


@step
def wrong_arity() -> tuple[Annotated[int, "a"], Annotated[int, "b"]]:
    return (1, 2, 3)  # type: ignore[return-value]


def test_output_not_matching_its_annotation_fails_the_step_and_names_it() -> None:
    @pipeline
    def mistyped() -> None:
        wrong_type()

    run = mistyped()
    assert run.status == "failed"
    st = run.steps["wrong_type"]
    assert st.status == "failed"
    assert "'wrong_type'" in (st.error or "")
    assert "'count_out'" in (st.error or "")
    assert "str" in (st.error or "") and "int" in (st.error or "")
    assert st.attempts == 1
    assert Client().list_artifact_versions(name="count_out") == []


def test_wrong_number_of_outputs_fails_without_retrying() -> None:
    @pipeline
    def wrong_count() -> None:
        wrong_arity.with_options(retries=3)()

    run = wrong_count()
    st = run.steps["wrong_arity"]
    assert st.status == "failed"
    assert st.attempts == 1  # retrying would not help
    assert "must return a tuple of 2 values (a, b)" in (st.error or "")


def test_non_json_parameter_is_a_definition_error_naming_it() -> None:
    @pipeline
    def with_object() -> None:
        source(n=object())  # type: ignore[arg-type]

    with pytest.raises(PipelineDefinitionError) as info:
        with_object()
    assert "Parameter 'n' of step 'source'" in info.value.message
    assert "not JSON-serializable" in info.value.message
    assert info.value.hint

    @pipeline
    def pipeline_param(threshold: Any = None) -> None:
        source()

    with pytest.raises(PipelineDefinitionError, match="Parameter 'threshold' of pipeline 'pipeline_param'"):
        pipeline_param(threshold={1, 2})
    assert Client().list_runs() == []


@pytest.mark.parametrize("value", [float("nan"), float("inf"), [1.0, float("-inf")]])
def test_nan_or_infinite_parameter_is_refused_on_every_database(database_url: str, value: Any) -> None:
    @pipeline
    def with_threshold(threshold: Any = 0.5) -> None:
        source()

    # JSON has no NaN or infinity: PostgreSQL would refuse the row, so both databases refuse it up front
    with pytest.raises(PipelineDefinitionError, match="Parameter 'threshold' of pipeline 'with_threshold' "
                                                      "contains NaN or infinity"):
        with_threshold(threshold=value)
    assert Client().list_runs() == []


def _not_a_step(values: Any) -> int:
    return len(values)


def test_using_a_step_output_as_a_value_is_a_definition_error_with_a_hint() -> None:
    @pipeline
    def uses_len() -> None:
        values = source()
        if len(values) > 2:
            independent(values)

    with pytest.raises(PipelineDefinitionError) as info:
        uses_len()
    assert "used the output 'source_values' of step 'source' as a value" in info.value.message
    assert "@step" in (info.value.hint or "")

    @pipeline
    def plain_function() -> None:
        _not_a_step(source())

    with pytest.raises(PipelineDefinitionError, match="as a value"):
        plain_function()

    @pipeline
    def uses_bool() -> None:
        if source():
            independent(source())

    with pytest.raises(PipelineDefinitionError, match="as a value"):
        uses_bool()

    @pipeline
    def attribute() -> None:
        source().append(1)

    with pytest.raises(PipelineDefinitionError, match="as a value"):
        attribute()
    assert Client().list_runs() == []


def test_missing_artifact_file_on_load_names_the_artifact() -> None:
    @pipeline
    def once() -> None:
        source()

    run = once()
    av = run.steps["source"].outputs["source_values"]
    shutil.rmtree(Path(av.uri))
    with pytest.raises(ArtifactError) as info:
        av.load()
    assert "'source_values'" in info.value.message
    assert "version 1" in info.value.message
    assert info.value.hint
    with pytest.raises(ArtifactError, match="source_values"):
        Client().get_artifact_version("source_values").load()


def test_wrong_output_type_and_unknown_output_metadata_are_not_retried() -> None:
    from runyard import log_metadata, pipeline, step

    calls: list[int] = []

    @step(retries=3)
    def wrong_type() -> int:
        calls.append(1)
        return "not an int"  # type: ignore[return-value]

    @step(retries=3)
    def typo_metadata() -> int:
        calls.append(2)
        log_metadata({"x": 1}, output="nope")
        return 1

    @pipeline(continue_on_failure=True, enable_cache=False)
    def permanent() -> None:
        wrong_type()
        typo_metadata()

    run = permanent()
    assert run.status == "failed"
    assert calls.count(1) == 1 and calls.count(2) == 1
    assert "annotated int" in (run.steps["wrong_type"].data.error or "")
    assert "output 'nope', which it does not have" in (run.steps["typo_metadata"].data.error or "")
