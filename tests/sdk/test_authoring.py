"""Authoring: ``@step`` and ``@pipeline`` as users write them, compiled and run on the embedded workspace."""

from __future__ import annotations

from typing import Annotated

import pytest

from runyard import Client, pipeline, step
from runyard.exceptions import PipelineDefinitionError
from runyard.sdk.spec import RetryPolicy
from runyard.sdk.step import Step


@step
def bare() -> Annotated[int, "bare_value"]:
    return 1


@step(name="renamed", retries=2, retry_delay=0.5, retry_backoff=3.0, enable_cache=False)
def with_options(x: int) -> int:
    return x + 1


@step
def load(rows: int = 3) -> Annotated[list[int], "rows"]:
    return list(range(rows))


@step
def split(data: list[int], ratio: float = 0.5) -> tuple[
    Annotated[list[int], "train"], Annotated[list[int], "test"]
]:
    cut = int(len(data) * ratio)
    return data[:cut], data[cut:]


@step
def total(numbers: list[int], offset: int = 0) -> Annotated[int, "sum"]:
    return sum(numbers) + offset


@step
def nothing() -> None:
    return None


def test_bare_step_is_a_step_with_default_options() -> None:
    assert isinstance(bare, Step)
    assert bare.name == "bare"
    assert bare.options.retry == RetryPolicy()
    assert bare.options.enable_cache is None
    assert [o.name for o in bare.signature.outputs] == ["bare_value"]
    assert bare.__name__ == "bare"  # functools.wraps keeps the function's identity


def test_step_with_options_keeps_them() -> None:
    assert with_options.name == "renamed"
    assert with_options.options.retry == RetryPolicy(max_retries=2, delay=0.5, backoff=3.0)
    assert with_options.options.enable_cache is False
    # an unannotated single output is called "output"
    assert [o.name for o in with_options.signature.outputs] == ["output"]


def test_step_outside_a_pipeline_just_calls_the_function() -> None:
    assert load(rows=4) == [0, 1, 2, 3]
    assert split([1, 2, 3, 4]) == ([1, 2], [3, 4])
    assert with_options(41) == 42
    assert nothing() is None


def test_applying_step_twice_or_to_a_non_function_is_refused() -> None:
    with pytest.raises(TypeError, match="step already"):
        step(bare)  # type: ignore[call-overload]
    with pytest.raises(ValueError, match="retries must be 0 or more"):
        step(retries=-1)(lambda: 1)


def test_step_with_options_copy_leaves_the_original_alone() -> None:
    copy = load.with_options(retries=4, enable_cache=False)
    assert copy.options.retry.max_retries == 4
    assert copy.options.enable_cache is False
    assert load.options.retry.max_retries == 0
    assert load.options.enable_cache is None


def test_signature_reads_multiple_and_no_outputs() -> None:
    assert split.signature.multiple is True
    assert [o.name for o in split.signature.outputs] == ["train", "test"]
    assert nothing.signature.outputs == ()


def test_star_args_step_is_refused_when_compiled() -> None:
    @step
    def star(*values: int) -> int:
        return sum(values)

    @pipeline
    def uses_star() -> None:
        star(1, 2)

    with pytest.raises(PipelineDefinitionError, match=r"Step 'star' takes \*values"):
        uses_star.compile()


def test_compile_records_inputs_parameters_and_defaults() -> None:
    @pipeline
    def shapes(rows: int = 6) -> None:
        data = load(rows=rows)
        train, test = split(data, ratio=0.5)
        total(train)
        total(test, offset=10)

    spec = shapes.compile().spec
    assert [s.invocation_id for s in spec.steps] == ["load", "split", "total", "total_2"]
    assert spec.parameters == {"rows": 6}
    assert spec.step("load").parameters == {"rows": 6}
    assert spec.step("split").inputs["data"].step == "load"
    assert spec.step("total").inputs["numbers"].output == "train"
    assert spec.step("total_2").inputs["numbers"].output == "test"
    # defaults stay out of the spec unless given
    assert spec.step("total").parameters == {}
    assert spec.step("total_2").parameters == {"offset": 10}
    assert [o.name for o in spec.step("split").outputs] == ["train", "test"]
    assert spec.step("load").source.endswith(":load")
    assert len(spec.step("load").source_hash) == 64


@pipeline
def full(rows: int = 6) -> None:
    data = load(rows=rows)
    train, test = split(data)
    total(train)
    total(test, offset=100)


def test_run_with_typed_inputs_annotated_outputs_and_a_reused_step(database_url: str) -> None:
    run = full(rows=6)
    assert run.status == "completed"
    assert list(run.steps) == ["load", "split", "total", "total_2"]
    assert all(s.status == "completed" for s in run.steps.values())
    assert run.steps["load"].outputs["rows"].load() == [0, 1, 2, 3, 4, 5]
    split_outs = run.steps["split"].outputs
    assert set(split_outs) == {"train", "test"}
    assert split_outs["train"].load() == [0, 1, 2]
    assert split_outs["test"].load() == [3, 4, 5]
    assert run.steps["total"].outputs["sum"].load() == 3
    assert run.steps["total_2"].outputs["sum"].load() == 112
    assert run.steps["total_2"].parameters == {"offset": 100}
    assert run.steps["total_2"].step_name == "total"
    # the stored run reads the same through a fresh client
    stored = Client().get_run(run.id)
    assert stored.status == "completed"
    assert stored.parameters == {"rows": 6}
    assert stored.steps["total_2"].outputs["sum"].load() == 112
    # the same step used twice wrote two versions of its named artifact
    assert Client().get_artifact_version("sum").version == 2


def test_pipeline_parameters_default_and_override() -> None:
    run = full()
    assert run.parameters == {"rows": 6}
    assert run.steps["load"].output.load() == list(range(6))
    run2 = full(rows=2)
    assert run2.parameters == {"rows": 2}
    assert run2.steps["split"].outputs["train"].load() == [0]


def test_unnamed_output_is_called_output_and_gets_a_unique_artifact_name() -> None:
    @step
    def seed() -> int:
        return 41

    @pipeline
    def plus_one() -> None:
        with_options(seed())

    run = plus_one()
    assert run.status == "completed"
    out = run.steps["renamed"].outputs["output"]
    assert out.load() == 42
    assert out.name == "plus_one.renamed.output"
    assert run.steps["seed"].output.name == "plus_one.seed.output"


def _ended(run: object, inv: str) -> float:
    st = run.steps[inv]  # type: ignore[attr-defined]
    return float(st.ended.timestamp())


def _started(run: object, inv: str) -> float:
    st = run.steps[inv]  # type: ignore[attr-defined]
    return float(st.started.timestamp())


@step
def mark(label: str) -> Annotated[str, "label"]:
    return label


def test_after_on_an_output_orders_without_a_data_edge() -> None:
    @pipeline
    def ordered() -> None:
        first = mark(label="a")
        second = mark(label="b")
        second.after(first)
        third = mark(label="c")
        third.after(second)

    compiled = ordered.compile()
    spec = compiled.spec
    assert spec.step("mark_2").after == ("mark",)
    assert spec.step("mark_3").after == ("mark_2",)
    assert spec.step("mark_3").inputs == {}
    run = ordered()
    assert run.status == "completed"
    assert _started(run, "mark_2") >= _ended(run, "mark")
    assert _started(run, "mark_3") >= _ended(run, "mark_2")
    assert run.steps["mark_3"].inputs == {}


def test_step_after_another_step_orders_its_latest_invocation() -> None:
    @pipeline
    def ordered_by_step() -> None:
        nothing()
        bare()
        bare.after(nothing)

    spec = ordered_by_step.compile().spec
    # nothing was called first, but bare runs after it; the topological order reflects that
    assert spec.step("bare").after == ("nothing",)
    assert [s.invocation_id for s in spec.steps] == ["nothing", "bare"]

    @pipeline
    def reversed_order() -> None:
        bare()
        nothing()
        bare.after(nothing)

    spec2 = reversed_order.compile().spec
    assert [s.invocation_id for s in spec2.steps] == ["nothing", "bare"]
    run = reversed_order()
    assert run.status == "completed"
    assert _started(run, "bare") >= _ended(run, "nothing")


def test_after_cycle_and_misuse_are_definition_errors() -> None:
    @pipeline
    def cyclic() -> None:
        a = mark(label="a")
        b = mark(label="b")
        b.after(a)
        a.after(b)

    with pytest.raises(PipelineDefinitionError, match="cycle"):
        cyclic.compile()

    @pipeline
    def too_early() -> None:
        bare.after(nothing)

    with pytest.raises(PipelineDefinitionError, match="before bare was called"):
        too_early.compile()

    with pytest.raises(PipelineDefinitionError, match="only works inside a @pipeline"):
        bare.after(nothing)


def test_step_wiring_errors_name_the_step_and_input() -> None:
    @pipeline
    def missing_input() -> None:
        total()  # type: ignore[call-arg]

    with pytest.raises(PipelineDefinitionError, match=r"Step 'total'.*called wrongly") as info:
        missing_input.compile()
    assert "numbers" in (info.value.hint or "")

    @pipeline
    def whole_tuple() -> None:
        total(split(load()))  # type: ignore[arg-type]

    with pytest.raises(PipelineDefinitionError, match="got all outputs of step 'split' at once"):
        whole_tuple.compile()

    @pipeline
    def fan_in() -> None:
        total([bare(), bare()])  # type: ignore[list-item]

    with pytest.raises(PipelineDefinitionError, match="input 'numbers' got step outputs inside a list") as info:
        fan_in.compile()
    assert "one input per output" in (info.value.hint or "")

    @pipeline
    def empty() -> None:
        pass

    with pytest.raises(PipelineDefinitionError, match="calls no step"):
        empty.compile()


def test_pipeline_call_errors_name_the_parameter() -> None:
    with pytest.raises(PipelineDefinitionError, match="has no parameter 'nope'"):
        full.with_options(parameters={"nope": 1}).compile()

    @pipeline
    def needs(rows: int) -> None:
        load(rows=rows)

    with pytest.raises(PipelineDefinitionError, match="needs a value for parameter 'rows'"):
        needs.compile()


def test_calling_a_pipeline_inside_a_pipeline_is_refused_without_running_it() -> None:
    @pipeline
    def inner() -> None:
        bare()

    @pipeline
    def outer() -> None:
        inner()
        nothing()

    with pytest.raises(PipelineDefinitionError, match="Pipeline 'outer' calls pipeline 'inner'") as info:
        outer.compile()
    assert "inner" in (info.value.hint or "")
    assert Client().list_runs() == []  # compiling started no run


@step
def sweep_point(lr: float) -> Annotated[float, "score"]:
    return lr


@step
def sweep_point_2(x: float = 0.0) -> Annotated[float, "other"]:
    return x


@step
def best(a: float, b: float) -> Annotated[float, "best"]:
    return max(a, b)


@pipeline
def sweep_with_a_lookalike() -> None:
    first = sweep_point(lr=0.1)
    sweep_point_2()  # a step whose own name is what the second call of sweep_point would be called
    second = sweep_point(lr=0.2)
    for i in range(3, 6):
        sweep_point(lr=i / 10)
    best(second, first)


def test_repeated_calls_get_the_next_free_id_and_steps_run_in_rounds_in_call_order() -> None:
    spec = sweep_with_a_lookalike.compile().spec
    ids = [s.invocation_id for s in spec.steps]
    # round 1: every step without upstream, in call order; round 2: best, which waits on two of them
    assert ids == ["sweep_point", "sweep_point_2", "sweep_point_3", "sweep_point_4", "sweep_point_5",
                   "sweep_point_6", "best"]
    assert spec.step("sweep_point_2").step_name == "sweep_point_2"
    assert spec.step("sweep_point_3").parameters == {"lr": 0.2}
    assert {e.step for e in spec.step("best").inputs.values()} == {"sweep_point", "sweep_point_3"}
