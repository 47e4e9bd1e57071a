"""Walks a pipeline's DAG: which steps are ready, which must be skipped after a failure."""

from __future__ import annotations

from dataclasses import dataclass, field

from runyard.schemas import StepStatus
from runyard.sdk.spec import PipelineSpec


@dataclass
class DagState:
    spec: PipelineSpec
    continue_on_failure: bool = False
    status: dict[str, StepStatus] = field(default_factory=dict)
    stopped: bool = False

    def ready(self, running: set[str]) -> list[str]:
        """Steps not started whose upstream steps all succeeded, in spec (topological) order."""
        if self.stopped:
            return []
        out = []
        for s in self.spec.steps:
            inv = s.invocation_id
            if inv in self.status or inv in running:
                continue
            if all(self.status.get(u, StepStatus.PENDING).is_success for u in s.upstream):
                out.append(inv)
        return out

    def record(self, invocation_id: str, status: StepStatus) -> None:
        self.status[invocation_id] = status
        if status == StepStatus.FAILED:
            if not self.continue_on_failure:
                self.stopped = True
            self._skip_downstream(invocation_id)

    def _skip_downstream(self, failed: str) -> None:
        blocked = {failed}
        for s in self.spec.steps:
            if s.invocation_id not in self.status and blocked & set(s.upstream):
                blocked.add(s.invocation_id)
                self.status[s.invocation_id] = StepStatus.SKIPPED

    def unfinished(self) -> list[str]:
        return [s.invocation_id for s in self.spec.steps if s.invocation_id not in self.status]

    @property
    def failed(self) -> bool:
        return any(v == StepStatus.FAILED for v in self.status.values())
