"""Independent branches at the same time, each step in a worker process (``max_workers``).

Workers are forked after the pipeline is compiled, so they already hold the step functions, even those
defined in ``__main__`` or a notebook. Each worker opens its own workspace connection: a socket to the
local service or an HTTP client as the parent has, or, when the parent holds the database in-process, a
socket to the parent itself (:mod:`runyard.execution.worker_relay`): a forked child must not open a
database whose driver another thread of the parent may have been inside at the fork.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from typing import ClassVar

from runyard.artifacts.io import StepInput
from runyard.client.transport import InProcessTransport, Transport
from runyard.execution.dag import DagState
from runyard.execution.step_runner import StepJob, StepOutcome, StepRunner
from runyard.orchestrators.base import Orchestrator, RunJob

_WORKER_JOB: RunJob | None = None
#: What workers connect through (the parent's transport, or its relay), set before the fork.
_WORKER_TRANSPORT: Transport | None = None
#: Whether that is the parent's relay: the worker's process-wide connection (``Client()``) then uses it too.
_WORKER_RELAYED = False
#: The worker's own connection, made on its first step and kept for the next ones: (pid, transport).
_WORKER_CONNECTION: tuple[int, Transport] | None = None


def _run_in_worker(step_job: StepJob) -> StepOutcome:
    """Runs one step and waits for the workspace's answers: the next step may run in another worker,
    on another connection, and must find this one's outputs stored."""
    job = _WORKER_JOB
    assert job is not None, "worker started without a job"
    api = job.api.with_transport(_worker_connection())
    return StepRunner(api, job.store, logs=job.logs).run(step_job, job.steps[step_job.spec.invocation_id]).settle()


def _worker_connection() -> Transport:
    """This worker's connection. Through the parent's relay it is also the process's own, so that a
    ``Client()`` in a step does not open the database either; otherwise ``Client()`` keeps the user's own
    connection, as under the local orchestrator (the run's may hold a token scoped to the run)."""
    global _WORKER_CONNECTION
    if _WORKER_CONNECTION is None or _WORKER_CONNECTION[0] != os.getpid():
        assert _WORKER_TRANSPORT is not None, "worker started without a connection"
        transport = _WORKER_TRANSPORT.for_new_process()
        if _WORKER_RELAYED:
            from runyard.client import connection

            connection.adopt(transport)
        _WORKER_CONNECTION = (os.getpid(), transport)
    return _WORKER_CONNECTION[1]


class LocalParallelOrchestrator(Orchestrator):
    flavor: ClassVar[str] = "local_parallel"
    options: ClassVar[frozenset[str]] = frozenset({"max_workers"})
    supports_parallel: ClassVar[bool] = True

    def execute(self, job: RunJob) -> DagState:
        global _WORKER_JOB, _WORKER_TRANSPORT, _WORKER_RELAYED
        max_workers = int(self.config.get("max_workers") or os.cpu_count() or 2)
        dag = DagState(job.spec, continue_on_failure=job.continue_on_failure)
        upstream: dict[str, dict[str, StepInput]] = {}
        _WORKER_JOB = job
        ctx = multiprocessing.get_context("fork")
        running: dict[Future[StepOutcome], str] = {}
        try:
            with contextlib.ExitStack() as stack:
                _WORKER_TRANSPORT, _WORKER_RELAYED = self._worker_transport(job, stack)
                pool = stack.enter_context(ProcessPoolExecutor(max_workers=max_workers, mp_context=ctx))
                while True:
                    for inv in dag.ready(set(running.values())):
                        step_job = StepJob(job.run, job.spec.name, job.spec.step(inv), dict(upstream))
                        running[pool.submit(_run_in_worker, step_job)] = inv
                    if not running:
                        break
                    done, _ = wait(running, return_when=FIRST_COMPLETED)
                    for fut in done:
                        inv = running.pop(fut)
                        result = self._result(fut, inv, job)
                        upstream[inv] = result.outputs
                        dag.record(inv, result.status)
                    if dag.stopped:
                        for fut in running:
                            fut.cancel()
                        # steps already running finish and are recorded; nothing new starts
                        for fut in list(running):
                            inv = running.pop(fut)
                            if not fut.cancelled():
                                result = self._result(fut, inv, job)
                                dag.record(inv, result.status)
                        break
        finally:
            _WORKER_JOB = _WORKER_TRANSPORT = None
            _WORKER_RELAYED = False
        self.record_skipped(job, dag)
        return dag

    @staticmethod
    def _worker_transport(job: RunJob, stack: contextlib.ExitStack) -> tuple[Transport, bool]:
        """The transport workers connect through, and whether it is a relay to this process (when this
        process holds the database)."""
        transport, relayed = job.api.transport, False
        if isinstance(transport, InProcessTransport):  # it holds the database: workers must not open it
            from runyard.execution.worker_relay import WorkerRelay

            transport, relayed = stack.enter_context(WorkerRelay(transport)).worker_transport(), True
        if job.api.records:  # what forked workers import, they must find imported: see prepare_records
            transport.prepare_records()
        return transport, relayed

    @staticmethod
    def _result(fut: Future[StepOutcome], inv: str, job: RunJob) -> StepOutcome:
        try:
            return fut.result()
        except Exception as exc:  # the worker died (killed, out of memory): record the step as failed
            from runyard.client.wire import StepRunFilter, StepRunUpdate, StepStatus

            page = job.api.list_step_runs(StepRunFilter(run_id=job.run.id, invocation_id=inv))
            message = f"The worker process running this step died: {type(exc).__name__}: {exc}"
            if page.items:
                if page.items[0].status.is_finished:  # it reported before the worker went away
                    return StepOutcome.of(page.items[0])
                return StepOutcome.of(job.api.update_step_run(
                    page.items[0].id, StepRunUpdate(status=StepStatus.FAILED, error=message)
                ))
            from runyard.orchestrators.base import StepRunCreate

            created = job.api.create_step_run(
                StepRunCreate(run_id=job.run.id, invocation_id=inv, step_name=job.spec.step(inv).step_name,
                              status=StepStatus.FAILED)
            )
            return StepOutcome.of(job.api.update_step_run(created.id, StepRunUpdate(error=message)))
