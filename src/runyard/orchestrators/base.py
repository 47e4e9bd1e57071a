"""The orchestrator seam: one abstract method, :meth:`Orchestrator.execute`.

Every orchestrator drives the same :class:`~runyard.execution.step_runner.StepRunner`; it only decides
where each step runs (this process, worker processes, Ray tasks, pods) and in which order.
"""

from __future__ import annotations

import abc
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from runyard.client.wire import StepRunCreate, StepStatus
from runyard.exceptions import ConfigurationError
from runyard.execution.dag import DagState

if TYPE_CHECKING:
    from runyard.artifacts.stores.base import ArtifactStore
    from runyard.client.workspace_api import WorkspaceAPI
    from runyard.execution.step_runner import StepOutcome
    from runyard.logs.backends.base import LogBackend
    from runyard.schemas import RunRead
    from runyard.sdk.spec import PipelineSpec
    from runyard.sdk.step import Step


@dataclass
class RunJob:
    api: WorkspaceAPI
    run: RunRead
    spec: PipelineSpec
    steps: dict[str, Step[Any, Any]]
    store: ArtifactStore
    continue_on_failure: bool = False
    #: Where step logs go; None runs steps without capturing their output.
    logs: LogBackend | None = None


class Orchestrator(abc.ABC):
    flavor: ClassVar[str]
    #: Options accepted in the component config or `orchestrator:` in a run configuration.
    options: ClassVar[frozenset[str]] = frozenset()
    #: Whether independent branches run at the same time.
    supports_parallel: ClassVar[bool] = False

    def __init__(self, **config: Any) -> None:
        unknown = set(config) - self.options
        if unknown:
            raise ConfigurationError(
                f"The {self.flavor} orchestrator has no option {sorted(unknown)[0]!r}.",
                hint=f"Its options: {', '.join(sorted(self.options)) or 'none'}.",
            )
        self.config = config

    @abc.abstractmethod
    def execute(self, job: RunJob) -> DagState:
        """Runs every step it can; returns the final state of the DAG."""

    # shared helpers ------------------------------------------------------------------------------
    @staticmethod
    def record_skipped(job: RunJob, dag: DagState) -> None:
        """Steps that never ran (after a failure) are stored as ``skipped`` so the run reads completely."""
        for inv in dag.unfinished():
            dag.status[inv] = StepStatus.SKIPPED
        for s in job.spec.steps:
            if dag.status.get(s.invocation_id) == StepStatus.SKIPPED:
                job.api.create_step_run(
                    StepRunCreate(
                        id=uuid.uuid4(), run_id=job.run.id, invocation_id=s.invocation_id, step_name=s.step_name,
                        status=StepStatus.SKIPPED, parameters=s.parameters, source_hash=s.source_hash,
                    )
                )

    @staticmethod
    def settle_answered(outcomes: list[StepOutcome], dag: DagState) -> list[StepOutcome]:
        """Settles the outcomes whose reports are answered, oldest first; returns those still waiting.

        A step the server kept from starting (the run is being cancelled) is recorded ``cancelled``,
        which stops the DAG; a report the workspace refused for another reason raises here."""
        waiting: list[StepOutcome] = []
        for outcome in outcomes:
            if outcome.refused:  # known before its end report is answered: stop scheduling now
                dag.correct(outcome.invocation_id, StepStatus.CANCELLED)
            if waiting or not outcome.answered:
                waiting.append(outcome)
                continue
            reported = outcome.status
            outcome.settle()
            if outcome.status != reported:
                dag.correct(outcome.invocation_id, outcome.status)
        return waiting
