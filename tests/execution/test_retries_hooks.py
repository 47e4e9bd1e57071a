"""Retries (count, delay, backoff) and ``on_failure`` / ``on_success`` hooks, checked in the stored state."""

from __future__ import annotations

import itertools
import time
from pathlib import Path
from typing import Annotated

import pytest

from runyard import Client, get_step_context, pipeline, step
from runyard.sdk.spec import RetryPolicy

CALLS: list[tuple[str, int, float]] = []
HOOKS: list[tuple[str, str]] = []


@pytest.fixture(autouse=True)
def _clear() -> None:
    CALLS.clear()
    HOOKS.clear()


@step(retries=3, retry_delay=0.02, retry_backoff=2.0, enable_cache=False)
def flaky(fail_times: int = 2) -> Annotated[int, "flaky_out"]:
    attempt = get_step_context().attempt
    CALLS.append(("flaky", attempt, time.monotonic()))
    if attempt <= fail_times:
        raise ConnectionError(f"transient failure {attempt}")
    return attempt


@pipeline
def retrying(fail_times: int = 2) -> None:
    flaky(fail_times=fail_times)


def test_retries_until_success_store_the_attempts() -> None:
    run = retrying(fail_times=2)
    assert run.status == "completed"
    st = run.steps["flaky"]
    assert st.status == "completed"
    assert st.attempts == 3
    assert st.outputs["flaky_out"].load() == 3
    assert [c[1] for c in CALLS] == [1, 2, 3]
    # delay * backoff ** n: 0.02 s before the 2nd attempt, 0.04 s before the 3rd
    gaps = [b[2] - a[2] for a, b in itertools.pairwise(CALLS)]
    assert gaps[0] >= 0.02
    assert gaps[1] >= 0.04
    assert Client().get_step_run(st.id).attempts == 3


def test_retries_exhausted_fail_the_step_with_the_last_error() -> None:
    run = retrying(fail_times=10)
    assert run.status == "failed"
    st = Client().get_run(run.id).steps["flaky"]
    assert st.status == "failed"
    assert st.attempts == 4  # the first attempt and three retries
    assert st.error == "ConnectionError: transient failure 4"
    assert len(CALLS) == 4


def test_retry_policy_wait_times() -> None:
    policy = RetryPolicy(max_retries=3, delay=1.0, backoff=3.0)
    assert [policy.wait_before(n) for n in (1, 2, 3)] == [1.0, 3.0, 9.0]
    assert RetryPolicy().wait_before(1) == 0.0


def test_retries_from_with_options_override_the_decorator() -> None:
    @pipeline
    def no_retry() -> None:
        flaky.with_options(retries=0)(fail_times=1)

    run = no_retry()
    assert run.status == "failed"
    assert run.steps["flaky"].attempts == 1


def _on_failure(exc: BaseException) -> None:
    HOOKS.append(("failure", f"{type(exc).__name__}: {exc}:{get_step_context().invocation_id}"))


def _on_success() -> None:
    HOOKS.append(("success", get_step_context().invocation_id))


def _broken_hook() -> None:
    raise RuntimeError("the hook itself broke")


@step(on_failure=_on_failure, on_success=_on_success, enable_cache=False)
def hooked(fail: bool = False) -> Annotated[int, "hooked_out"]:
    if fail:
        raise ValueError("boom")
    return 1


@pipeline
def hooks_pipeline(fail: bool = False) -> None:
    hooked(fail=fail)


def test_on_success_hook_runs_after_a_successful_step() -> None:
    run = hooks_pipeline(fail=False)
    assert run.status == "completed"
    assert HOOKS == [("success", "hooked")]


def test_on_failure_hook_receives_the_exception() -> None:
    run = hooks_pipeline(fail=True)
    assert run.status == "failed"
    assert HOOKS == [("failure", "ValueError: boom:hooked")]


def test_on_failure_hook_runs_once_after_the_last_retry() -> None:
    @pipeline
    def retried_hook() -> None:
        flaky.with_options(on_failure=_on_failure)(fail_times=10)

    run = retried_hook()
    assert run.status == "failed"
    assert run.steps["flaky"].attempts == 4
    assert HOOKS == [("failure", "ConnectionError: transient failure 4:flaky")]


def test_a_failing_hook_does_not_change_the_step_result(capsys: pytest.CaptureFixture[str]) -> None:
    @pipeline
    def broken_hook() -> None:
        hooked.with_options(on_success=_broken_hook)()

    run = broken_hook()
    assert run.status == "completed"
    assert run.steps["hooked"].status == "completed"
    assert "the hook itself broke" in capsys.readouterr().err


def test_hook_without_parameters_works_as_on_failure() -> None:
    def plain() -> None:
        HOOKS.append(("plain", ""))

    @pipeline
    def plain_hook() -> None:
        hooked.with_options(on_failure=plain)(fail=True)

    run = plain_hook()
    assert run.status == "failed"
    assert HOOKS == [("plain", "")]


def test_retries_from_a_config_file_apply_to_the_run(tmp_path: Path) -> None:
    as_count = tmp_path / "count.yaml"
    as_count.write_text("steps:\n  flaky:\n    retries: 1\n")
    run = retrying.with_options(config_path=as_count)(fail_times=1)
    assert run.status == "completed"
    assert run.steps["flaky"].attempts == 2

    CALLS.clear()
    as_mapping = tmp_path / "mapping.yaml"
    as_mapping.write_text("steps:\n  flaky:\n    retries: {max: 4, delay: 0.01, backoff: 1}\n")
    run = retrying.with_options(config_path=as_mapping)(fail_times=4)
    assert run.status == "completed"
    assert Client().get_run(run.id).steps["flaky"].attempts == 5
    assert [c[1] for c in CALLS] == [1, 2, 3, 4, 5]

    none = tmp_path / "none.yaml"
    none.write_text("steps:\n  flaky:\n    retries: 0\n")
    run = retrying.with_options(config_path=none)(fail_times=1)
    assert run.status == "failed"
    assert run.steps["flaky"].attempts == 1
