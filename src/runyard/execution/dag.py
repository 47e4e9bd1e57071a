"""Walks a pipeline's DAG: which steps are ready, which must be skipped after a failure."""

from __future__ import annotations

from dataclasses import dataclass, field

from runyard.schemas import StepStatus
from runyard.sdk.spec import PipelineSpec


@dataclass
class DagState:
    """Counts unfinished upstream steps per step, so finding ready steps is linear in the DAG overall."""

    spec: PipelineSpec
    continue_on_failure: bool = False
    status: dict[str, StepStatus] = field(default_factory=dict)
    stopped: bool = False
    #: The server refused to start a step because the run was cancelled: nothing new starts.
    cancelled: bool = False

    def __post_init__(self) -> None:
        self._order = {s.invocation_id: i for i, s in enumerate(self.spec.steps)}
        self._waiting = {s.invocation_id: len(s.upstream) for s in self.spec.steps}
        self._downstream: dict[str, list[str]] = {s.invocation_id: [] for s in self.spec.steps}
        for s in self.spec.steps:
            for u in s.upstream:
                self._downstream[u].append(s.invocation_id)
        self._ready = {inv for inv, n in self._waiting.items() if n == 0}

    def ready(self, running: set[str]) -> list[str]:
        """Steps not started whose upstream steps all succeeded, in spec (topological) order."""
        if self.stopped:
            return []
        found = [inv for inv in self._ready if inv not in running and inv not in self.status]
        return sorted(found, key=self._order.__getitem__)

    def record(self, invocation_id: str, status: StepStatus) -> None:
        self.status[invocation_id] = status
        self._ready.discard(invocation_id)
        if status.is_success:
            for d in self._downstream[invocation_id]:
                self._waiting[d] -= 1
                if self._waiting[d] == 0:
                    self._ready.add(d)
        if status == StepStatus.CANCELLED:
            self.stopped = self.cancelled = True
        if status == StepStatus.FAILED:
            if not self.continue_on_failure:
                self.stopped = True
            self._skip_downstream(invocation_id)

    def correct(self, invocation_id: str, status: StepStatus) -> None:
        """The workspace's answer differs from what the runner reported (it refused the start of a step in
        a run being cancelled); the steps scheduled meanwhile are corrected by their own answers."""
        self.status[invocation_id] = status
        if status == StepStatus.CANCELLED:
            self.stopped = self.cancelled = True
        elif not status.is_success and not self.continue_on_failure:
            self.stopped = True

    def _skip_downstream(self, failed: str) -> None:
        blocked = {failed}
        for s in self.spec.steps:
            if s.invocation_id not in self.status and blocked & set(s.upstream):
                blocked.add(s.invocation_id)
                self.status[s.invocation_id] = StepStatus.SKIPPED
                self._ready.discard(s.invocation_id)

    def unfinished(self) -> list[str]:
        return [s.invocation_id for s in self.spec.steps if s.invocation_id not in self.status]

    @property
    def failed(self) -> bool:
        return any(v == StepStatus.FAILED for v in self.status.values())
