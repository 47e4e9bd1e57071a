"""The default orchestrator: every step in this process, one after the other, in topological order."""

from __future__ import annotations

from typing import ClassVar

from runyard.execution.dag import DagState
from runyard.execution.step_runner import StepJob, StepRunner
from runyard.orchestrators.base import Orchestrator, RunJob
from runyard.schemas import ArtifactVersionRead


class LocalOrchestrator(Orchestrator):
    flavor: ClassVar[str] = "local"

    def execute(self, job: RunJob) -> DagState:
        dag = DagState(job.spec, continue_on_failure=job.continue_on_failure)
        runner = StepRunner(job.api, job.store, logs=job.logs)
        upstream: dict[str, dict[str, ArtifactVersionRead]] = {}
        pipeline_name = job.spec.name
        while ready := dag.ready(set()):
            for inv in ready:
                spec = job.spec.step(inv)
                result = runner.run(StepJob(job.run, pipeline_name, spec, upstream), job.steps[inv])
                upstream[inv] = self.outputs_of(result)
                dag.record(inv, result.status)
                if dag.stopped:
                    break
        self.record_skipped(job, dag)
        return dag
