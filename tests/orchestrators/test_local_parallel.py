"""The local_parallel orchestrator: branches overlap in time, results match local, failures are handled."""

from __future__ import annotations

import os
import time
from typing import Annotated

import pytest

from runyard import Client, get_step_context, log_metadata, pipeline, step
from runyard.exceptions import ConfigurationError

PARALLEL = {"name": "local_parallel", "max_workers": 2}


@step(enable_cache=False)
def sleepy(label: str, seconds: float = 1.0) -> Annotated[dict[str, float], "timing"]:
    start = time.time()
    time.sleep(seconds)
    return {"pid": float(os.getpid()), "start": start, "end": time.time()}


@step
def seed(n: int = 4) -> Annotated[list[int], "seed"]:
    return list(range(n))


@step
def square(values: list[int]) -> Annotated[list[int], "squares"]:
    log_metadata({"invocation": get_step_context().invocation_id})
    return [v * v for v in values]


@step
def add(values: list[int], offset: int = 1) -> Annotated[list[int], "added"]:
    return [v + offset for v in values]


@step
def combine(a: list[int], b: list[int]) -> Annotated[int, "combined"]:
    return sum(a) + sum(b)


@pipeline
def diamond(n: int = 4) -> None:
    values = seed(n=n)
    combine(square(values), add(values, offset=10))


@pipeline
def two_sleepers(seconds: float = 1.0) -> None:
    sleepy(label="a", seconds=seconds)
    sleepy(label="b", seconds=seconds)


def test_independent_branches_overlap_in_time() -> None:
    run = two_sleepers.with_options(orchestrator=PARALLEL)(seconds=1.0)
    assert run.status == "completed"
    # overlap is checked on the steps' own clocks, not the wall time: a loaded machine must not fail it
    a = run.steps["sleepy"].outputs["timing"].load()
    b = run.steps["sleepy_2"].outputs["timing"].load()
    assert a["start"] < b["end"] and b["start"] < a["end"]  # the intervals overlap
    assert a["pid"] != b["pid"] != os.getpid()  # each step ran in its own worker process
    stored = Client().get_run(run.id)
    assert {k: v.status for k, v in stored.steps.items()} == {"sleepy": "completed", "sleepy_2": "completed"}


def test_results_are_identical_to_the_local_orchestrator(database_url: str) -> None:
    local = diamond.with_options(enable_cache=False)(n=4)
    parallel = diamond.with_options(enable_cache=False, orchestrator=PARALLEL)(n=4)
    assert local.status == parallel.status == "completed"
    assert set(parallel.steps) == set(local.steps) == {"seed", "square", "add", "combine"}
    for inv, st in local.steps.items():
        other = parallel.steps[inv]
        assert other.status == st.status == "completed"
        assert {k: v.content_hash for k, v in other.outputs.items()} == {
            k: v.content_hash for k, v in st.outputs.items()
        }
    assert parallel.steps["combine"].outputs["combined"].load() == (0 + 1 + 4 + 9) + (10 + 11 + 12 + 13)
    assert parallel.steps["square"].metadata == {"invocation": "square"}
    assert parallel.steps["combine"].inputs["a"].id == parallel.steps["square"].outputs["squares"].id
    # the parallel run hits the cache of the local one where caching is on
    cached = diamond.with_options(orchestrator=PARALLEL)(n=4)
    cached2 = diamond.with_options(orchestrator=PARALLEL)(n=4)
    assert {s.status for s in cached2.steps.values()} == {"cached"}
    assert cached2.steps["combine"].original_step_run_id == cached.steps["combine"].id


@step(enable_cache=False)
def fails_fast() -> Annotated[int, "never"]:
    raise RuntimeError("parallel boom")


@step(enable_cache=False)
def downstream(value: int) -> Annotated[int, "down"]:
    return value


@pipeline
def parallel_failure() -> None:
    downstream(fails_fast())
    sleepy(label="slow", seconds=0.3)


def test_failure_skips_downstream_and_lets_running_steps_finish() -> None:
    run = parallel_failure.with_options(orchestrator=PARALLEL)()
    assert run.status == "failed"
    statuses = {k: v.status for k, v in run.steps.items()}
    assert statuses["fails_fast"] == "failed"
    assert statuses["downstream"] == "skipped"
    # already running when the failure arrived: it finishes and is recorded
    assert statuses["sleepy"] == "completed"
    st = Client().get_run(run.id).steps["fails_fast"]
    assert st.error == "RuntimeError: parallel boom"
    assert "in fails_fast" in (st.traceback or "")
    assert "step_runner.py" not in (st.traceback or "")


def test_continue_on_failure_on_local_parallel() -> None:
    @pipeline
    def branches() -> None:
        downstream(fails_fast())
        square(seed())

    run = branches.with_options(orchestrator=PARALLEL, continue_on_failure=True)()
    assert run.status == "failed"
    statuses = {k: v.status for k, v in run.steps.items()}
    assert statuses == {"fails_fast": "failed", "downstream": "skipped", "seed": "completed",
                        "square": "completed"}
    assert run.steps["square"].outputs["squares"].load() == [0, 1, 4, 9]


def test_a_worker_that_dies_fails_its_step() -> None:
    @step(enable_cache=False)
    def dies() -> int:
        os._exit(3)

    @pipeline
    def dying() -> None:
        dies()
        square(seed())

    # one worker: `seed` waits in the pool's queue when the worker dies, and never starts
    run = dying.with_options(orchestrator={"name": "local_parallel", "max_workers": 1},
                             continue_on_failure=True)()
    assert run.status == "failed"
    st = Client().get_run(run.id).steps
    assert st["dies"].status == "failed"
    assert "worker process running this step died" in (st["dies"].error or "")
    # every failed step says why, even one that never got to report itself
    assert st["seed"].status == "failed"
    assert "worker process running this step died" in (st["seed"].error or "")
    assert st["square"].status == "skipped"


def test_registered_parallel_stack_runs_in_parallel() -> None:
    client = Client()
    client.register_component("orchestrator", "par", "local_parallel", {"max_workers": 2})
    client.register_stack("parallel", {"orchestrator": "par", "artifact_store": "default"})
    client.activate_stack("parallel")
    run = two_sleepers(seconds=0.5)
    assert run.status == "completed"
    assert run.stack_id == client.get_stack("parallel").id
    a = run.steps["sleepy"].outputs["timing"].load()
    b = run.steps["sleepy_2"].outputs["timing"].load()
    assert a["start"] < b["end"] and b["start"] < a["end"]  # the stack's orchestrator ran them side by side


def test_unknown_orchestrator_option_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match="has no option 'workers'"):
        two_sleepers.with_options(orchestrator={"name": "local_parallel", "workers": 2})(seconds=0.0)
    with pytest.raises(ConfigurationError, match="No orchestrator flavor named 'nope'"):
        two_sleepers.with_options(orchestrator="nope")(seconds=0.0)
