"""Runs a compiled pipeline: register pipeline, snapshot and run, hand it to the stack's orchestrator.

Everything after the run's creation (steps, logs, heartbeats, the final status) is written with a client
for this run alone: on a Workspace Server that requires a login, one carrying the run's workload token
(:mod:`runyard.client.workload`); the returned :class:`Run` reads with the caller's own client.
"""

from __future__ import annotations

import contextlib
import sys
import uuid
from contextlib import AbstractContextManager
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from runyard.client import wire as s  # plain records at run time: no pydantic in the pipeline process
from runyard.client.connection import workspace_api
from runyard.client.workload import workload_api
from runyard.exceptions import InvalidTransition
from runyard.execution.heartbeat import Heartbeat
from runyard.orchestrators.base import RunJob
from runyard.settings import get_settings
from runyard.stack.resolve import artifact_store_from, log_backend_for, orchestrator_from

if TYPE_CHECKING:
    from runyard.client.models import Run
    from runyard.client.workspace_api import WorkspaceAPI
    from runyard.execution.dag import DagState
    from runyard.logs.backends.base import LogBackend
    from runyard.sdk.pipeline import CompiledPipeline


def launch(compiled: CompiledPipeline) -> Run:
    from runyard.client.config import ClientConfig

    api = workspace_api(records=True)  # this process never builds a pydantic model: see WorkspaceAPI
    spec, config = compiled.spec, compiled.config
    stack = api.get_stack(config.stack or ClientConfig.load().active_stack)
    first = next(iter(compiled.steps.values()))
    pipeline = api.create_pipeline(s.PipelineCreate(name=spec.name, docstring=compiled.docstring))
    snapshot = api.create_snapshot(
        s.SnapshotCreate(
            id=uuid.uuid4(), pipeline_id=pipeline.id, stack_id=stack.id, spec=spec.to_dict(),
            spec_hash=spec.spec_hash(), config={"orchestrator": config.orchestrator,
                                               "continue_on_failure": config.continue_on_failure},
            code_reference={"module": first.func.__module__},
        )
    )
    run = api.create_run(
        s.RunCreate(id=uuid.uuid4(), name=_run_name(config.run_name), snapshot_id=snapshot.id,
                    status=s.RunStatus.RUNNING, parameters=spec.parameters, tags=list(config.tags))
    )
    try:
        runner = workload_api(api, run.id)
    except BaseException as exc:
        api.update_run(run.id, s.RunUpdate(status=s.RunStatus.FAILED, error=f"No workload token: {exc}"))
        raise
    store = artifact_store_from(stack.components["artifact_store"])
    orchestrator = orchestrator_from(stack.components["orchestrator"], config.orchestrator)
    logs = log_backend_for(stack, store, runner) if get_settings().capture_logs else None
    job = RunJob(api=runner, run=run, spec=spec, steps=compiled.steps, store=store,
                 continue_on_failure=bool(config.continue_on_failure), logs=logs)
    try:
        with Heartbeat(runner, run.id), _run_capture(logs, run.id):
            dag = orchestrator.execute(job)
    except KeyboardInterrupt:
        runner.update_run(run.id, s.RunUpdate(status=s.RunStatus.CANCELLED, error="Interrupted (Ctrl-C)."))
        raise
    except BaseException as exc:
        runner.update_run(run.id, s.RunUpdate(status=s.RunStatus.FAILED, error=f"Orchestrator error: {exc}"))
        raise
    return _finish(api, runner, run.id, dag)


def _finish(api: WorkspaceAPI, runner: WorkspaceAPI, run_id: uuid.UUID, dag: DagState) -> Run:
    """Stores the run's outcome. A cancel wins over "completed": once someone asked the run to stop,
    the server refuses "completed" (the state machine), and the run ends ``cancelled`` instead. The outcome
    is written by ``runner`` (the run's own client), the returned run reads with ``api`` (the caller's)."""
    from runyard.client.models import Run

    if dag.cancelled:
        not_run = sum(1 for st in dag.status.values() if st in (s.StepStatus.SKIPPED, s.StepStatus.CANCELLED))
        final = _end(runner, run_id, s.RunStatus.CANCELLED, f"Cancelled on request; {not_run} step(s) did not run.")
        print(f"[runyard] Run {final.name!r} was cancelled; {not_run} step(s) did not run.", file=sys.stderr)
        return Run(final, api)
    if dag.failed:
        failed = [inv for inv, st in dag.status.items() if st == s.StepStatus.FAILED]
        result = Run(_end(runner, run_id, s.RunStatus.FAILED, f"Step(s) failed: {', '.join(failed)}"), api)
        _report_failure(result, failed)
        return result
    return Run(_end(runner, run_id, s.RunStatus.COMPLETED, None), api)


def _end(api: WorkspaceAPI, run_id: uuid.UUID, status: s.RunStatus, error: str | None) -> s.RunRead:
    try:
        return api.update_run(run_id, s.RunUpdate(status=status, error=error))
    except InvalidTransition:
        current = api.get_run(run_id)
        if current.status != s.RunStatus.CANCELLING:
            raise  # finished meanwhile (e.g. marked failed by the reaper): nothing to fix here
        # cancelled while its last steps ran: every step finished, but the user's cancel stands
        return api.update_run(run_id, s.RunUpdate(status=s.RunStatus.CANCELLED,
                                                  error="Cancelled on request while its last steps ran."))


def _run_capture(logs: LogBackend | None, run_id: uuid.UUID) -> AbstractContextManager[object]:
    """Orchestrator and runner output outside any step goes to the run's own log."""
    if logs is None:
        return contextlib.nullcontext()
    from runyard.logs.backends.base import RUN_KEY
    from runyard.logs.capture import LogCapture

    return LogCapture(logs.open_writer(run_id, RUN_KEY))


def _run_name(template: str | None) -> str | None:
    if not template:
        return None
    now = datetime.now(UTC)
    try:
        return template.format(date=now.strftime("%Y_%m_%d"), time=now.strftime("%H_%M_%S_%f"))
    except (KeyError, IndexError, ValueError):
        return template


def _report_failure(run: Run, failed: list[str]) -> None:
    """The user's traceback and the fix, on stderr; the run is returned with status ``failed``."""
    steps = run.steps
    for inv in failed:
        st = steps.get(inv)
        if st is None:
            continue
        print(f"\n[runyard] Run {run.data.name!r} of pipeline {run.data.pipeline_name!r}: step {inv!r} failed: "
              f"{st.data.error}", file=sys.stderr)
        if st.data.traceback:
            print(st.data.traceback.rstrip(), file=sys.stderr)
    print(f"[runyard] See it again with `runyard run show {run.data.id}`; earlier runs and artifacts are intact.",
          file=sys.stderr)
