"""The default orchestrator: every step in this process, one after the other, in topological order."""

from __future__ import annotations

from typing import ClassVar

from runyard.artifacts.io import StepInput
from runyard.execution.dag import DagState
from runyard.execution.step_runner import StepJob, StepOutcome, StepRunner
from runyard.orchestrators.base import Orchestrator, RunJob


class LocalOrchestrator(Orchestrator):
    flavor: ClassVar[str] = "local"

    def execute(self, job: RunJob) -> DagState:
        """Steps run back to back; their reports are answered behind them (see :class:`StepOutcome`): an
        outcome is settled once its answers are in, and all of them before the run ends."""
        dag = DagState(job.spec, continue_on_failure=job.continue_on_failure)
        runner = StepRunner(job.api, job.store, logs=job.logs)
        upstream: dict[str, dict[str, StepInput]] = {}
        unsettled: list[StepOutcome] = []
        pipeline_name = job.spec.name
        try:
            while ready := dag.ready(set()):
                for inv in ready:
                    unsettled = self.settle_answered(unsettled, dag)
                    if dag.stopped:
                        break
                    spec = job.spec.step(inv)
                    outcome = runner.run(StepJob(job.run, pipeline_name, spec, upstream), job.steps[inv])
                    upstream[inv] = outcome.outputs
                    dag.record(inv, outcome.status)
                    unsettled.append(outcome)
                    if dag.stopped:
                        break
        finally:
            job.api.transport.settle()
        self.settle_answered(unsettled, dag)
        self.record_skipped(job, dag)
        return dag
