"""The run and step state machine, as small declarative rules checked by the server.

A transition not listed here is refused with :class:`InvalidTransition`. Each rule's comment names the
race it prevents, since every rule exists because two writers (runner, user, heartbeat reaper) can
disagree about what happened.
"""

from __future__ import annotations

from runyard.exceptions import InvalidTransition
from runyard.schemas.status import RunStatus as R
from runyard.schemas.status import StepStatus as S

RUN_TRANSITIONS: dict[R, frozenset[R]] = {
    # A queued run starts, or is cancelled before any runner picked it up.
    R.QUEUED: frozenset({R.INITIALIZING, R.RUNNING, R.CANCELLED, R.FAILED}),
    R.INITIALIZING: frozenset({R.RUNNING, R.FAILED, R.CANCELLING, R.CANCELLED}),
    # A running run may only end, or be asked to stop; it never goes back to queued.
    R.RUNNING: frozenset({R.COMPLETED, R.FAILED, R.CANCELLING, R.CANCELLED}),
    # Once a cancel is requested a late "completed" from the runner is refused, so the user's cancel wins.
    R.CANCELLING: frozenset({R.CANCELLED, R.FAILED}),
    # Finished runs are final: a slow runner's retried "failed" cannot overwrite "completed".
    R.COMPLETED: frozenset(),
    R.FAILED: frozenset(),
    R.CANCELLED: frozenset(),
}

STEP_TRANSITIONS: dict[S, frozenset[S]] = {
    S.PENDING: frozenset({S.RUNNING, S.CACHED, S.SKIPPED, S.CANCELLED, S.FAILED}),
    S.RUNNING: frozenset({S.COMPLETED, S.FAILED, S.RETRYING, S.CANCELLED}),
    # A retry either runs again or gives up; it cannot jump straight to "completed" without running.
    S.RETRYING: frozenset({S.RUNNING, S.FAILED, S.CANCELLED}),
    S.COMPLETED: frozenset(),
    S.CACHED: frozenset(),
    S.FAILED: frozenset(),
    S.SKIPPED: frozenset(),
    S.CANCELLED: frozenset(),
}


def check_run_transition(current: R, new: R, *, run_id: object) -> None:
    if new == current:
        return  # idempotent repeat of the same report
    if new not in RUN_TRANSITIONS[current]:
        raise InvalidTransition(
            f"Run {run_id} cannot go from '{current}' to '{new}'.",
            hint=_allowed_hint(RUN_TRANSITIONS[current]),
        )


def check_step_transition(current: S, new: S, *, step_run_id: object) -> None:
    if new == current:
        return
    if new not in STEP_TRANSITIONS[current]:
        raise InvalidTransition(
            f"Step run {step_run_id} cannot go from '{current}' to '{new}'.",
            hint=_allowed_hint(STEP_TRANSITIONS[current]),
        )


def _allowed_hint(allowed: frozenset[R] | frozenset[S]) -> str:
    if not allowed:
        return "It has finished; finished runs and steps are final."
    return "Allowed next: " + ", ".join(sorted(str(a) for a in allowed)) + "."
