"""Runs a failed or cancelled run again from this process: its snapshot's spec, parameters and options.

The snapshot stores where each step's code lives (``module:qualname``) but not the code itself, so the
step functions are imported here; a step defined in a script run directly (``__main__``) or in a module
this environment cannot import makes the retry refuse with a message, before anything starts. The new
run goes through the normal launcher, so the cache reuses every step whose inputs and code are
unchanged: in practice only the failed and never-started steps execute.
"""

from __future__ import annotations

import dataclasses
import importlib
import sys
import uuid
from typing import TYPE_CHECKING, Any

from runyard.exceptions import Conflict, RunyardError
from runyard.schemas.status import RunStatus

if TYPE_CHECKING:
    from runyard.client.models import Run
    from runyard.client.workspace_api import WorkspaceAPI
    from runyard.sdk.pipeline import CompiledPipeline
    from runyard.sdk.spec import StepSpec
    from runyard.sdk.step import Step


class NotRerunnable(RunyardError):
    """The run's code cannot be found in this environment."""


def retry_run(run_id: uuid.UUID, api: WorkspaceAPI | None = None) -> Run:
    """Starts a new run of ``run_id``'s snapshot in this process and returns it when it has finished."""
    from runyard.execution.launcher import launch

    return launch(compile_retry(run_id, api))


def compile_retry(run_id: uuid.UUID, api: WorkspaceAPI | None = None) -> CompiledPipeline:
    """What :func:`retry_run` launches: checked (run finished, code importable) before anything runs."""
    from runyard.client.connection import workspace_api
    from runyard.sdk.config import RunConfig
    from runyard.sdk.pipeline import CompiledPipeline
    from runyard.sdk.spec import PipelineSpec

    api = api or workspace_api()
    run = api.get_run(run_id)
    if not run.status.is_finished:
        raise Conflict(f"Run {run.name!r} is still {run.status}; retry it once it has ended.",
                       hint=f"Stop it first with `runyard run cancel {run.id}`.")
    if run.status == RunStatus.COMPLETED:
        raise Conflict(f"Run {run.name!r} completed; there is nothing to retry.",
                       hint="Call the pipeline again to start a new run.")
    snapshot = api.get_snapshot(run.snapshot_id)
    spec = PipelineSpec.from_dict(snapshot.spec)
    steps: dict[str, Step[Any, Any]] = {}
    fresh_specs = []
    for step_spec in spec.steps:
        step = _import_step(step_spec, run.name)
        steps[step_spec.invocation_id] = step
        if step.source_hash != step_spec.source_hash:  # the code changed: the cache must not pretend otherwise
            print(f"[runyard] The code of step {step_spec.invocation_id!r} changed since run {run.name!r}; "
                  "it runs with the current code.", file=sys.stderr)
            step_spec = dataclasses.replace(step_spec, source_hash=step.source_hash, source_code=step.source_code)
        fresh_specs.append(step_spec)
    spec = dataclasses.replace(spec, steps=tuple(fresh_specs))
    config = RunConfig(
        tags=tuple(run.tags),
        orchestrator=dict(snapshot.config.get("orchestrator") or {}),
        continue_on_failure=snapshot.config.get("continue_on_failure"),
        stack=_stack_name(api, run.stack_id),
    )
    return CompiledPipeline(spec=spec, steps=steps, config=config)


def _import_step(spec: StepSpec, run_name: str) -> Step[Any, Any]:
    from runyard.sdk.step import Step

    module_name, _, qualname = spec.source.partition(":")
    where = f"Step {spec.invocation_id!r} of run {run_name!r}"
    if module_name == "__main__":
        raise NotRerunnable(
            f"{where} was defined in a script run directly (__main__); its code cannot be imported here.",
            hint="Run the script again instead: cached steps are reused, so only the failed ones execute.")
    try:
        found: Any = importlib.import_module(module_name)
        for part in qualname.split("."):
            found = getattr(found, part)
    except ImportError as exc:
        raise NotRerunnable(
            f"{where} lives in module {module_name!r}, which cannot be imported here ({exc}).",
            hint="Retry from an environment that has the pipeline's code (the project folder, installed "
                 "packages), or run the pipeline again there.") from None
    except AttributeError:
        raise NotRerunnable(
            f"{where} was {spec.source!r}, which no longer exists in module {module_name!r}.",
            hint="The code was renamed or removed since the run; run the pipeline again instead.") from None
    if not isinstance(found, Step):
        raise NotRerunnable(f"{where} was {spec.source!r}, which is no longer a @step.",
                            hint="Run the pipeline again instead.")
    return found


def _stack_name(api: WorkspaceAPI, stack_id: uuid.UUID | None) -> str | None:
    """The run's own stack (same artifact store, so the cache applies), else the active one."""
    from runyard.exceptions import NotFound

    if stack_id is None:
        return None
    try:
        return api.get_stack(str(stack_id)).name
    except NotFound:
        print("[runyard] The run's stack no longer exists; the retry uses the active stack.", file=sys.stderr)
        return None
