"""Compiled pipeline specs: frozen records, stored with every snapshot and versioned on the wire.

A spec is everything a runner on another machine needs to execute the pipeline again: the DAG of step
invocations, their parameters and configuration, where each step's code lives, and a hash of it.
"""

from __future__ import annotations

from copy import deepcopy
from dataclasses import dataclass, field
from typing import Any

#: Version of the spec's wire format (2 added `source_code`); :func:`PipelineSpec.from_dict` reads every older one.
SPEC_VERSION = 2


@dataclass(frozen=True)
class RetryPolicy:
    """``max_retries`` further attempts after the first, waiting ``delay * backoff**n`` seconds between."""

    max_retries: int = 0
    delay: float = 0.0
    backoff: float = 1.0

    def wait_before(self, retry_number: int) -> float:
        return float(self.delay * (self.backoff ** max(retry_number - 1, 0)))


@dataclass(frozen=True)
class InputSpec:
    """A data edge: this input takes output ``output`` of invocation ``step``."""

    step: str
    output: str


@dataclass(frozen=True)
class OutputSpec:
    name: str
    type_name: str


@dataclass(frozen=True)
class StepSpec:
    invocation_id: str
    step_name: str
    source: str  # "module:qualname" of the step function
    source_hash: str
    parameters: dict[str, Any]
    inputs: dict[str, InputSpec]
    after: tuple[str, ...]
    outputs: tuple[OutputSpec, ...]
    enable_cache: bool = True
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    #: The step's source text, so the dashboard can show the code that ran (even from a script).
    source_code: str = ""

    @property
    def upstream(self) -> tuple[str, ...]:
        seen = dict.fromkeys([*(i.step for i in self.inputs.values()), *self.after])
        return tuple(seen)


def _step_dict(s: StepSpec) -> dict[str, Any]:
    return {
        "invocation_id": s.invocation_id,
        "step_name": s.step_name,
        "source": s.source,
        "source_hash": s.source_hash,
        "parameters": deepcopy(s.parameters) if s.parameters else {},
        "inputs": {k: {"step": v.step, "output": v.output} for k, v in s.inputs.items()},
        "after": tuple(s.after),
        "outputs": tuple({"name": o.name, "type_name": o.type_name} for o in s.outputs),
        "enable_cache": s.enable_cache,
        "retry": {"max_retries": s.retry.max_retries, "delay": s.retry.delay, "backoff": s.retry.backoff},
        "source_code": s.source_code,
    }


@dataclass(frozen=True)
class PipelineSpec:
    name: str
    steps: tuple[StepSpec, ...]  # in a topological order
    parameters: dict[str, Any]
    version: int = SPEC_VERSION

    def step(self, invocation_id: str) -> StepSpec:
        for s in self.steps:
            if s.invocation_id == invocation_id:
                return s
        raise KeyError(invocation_id)

    def to_dict(self) -> dict[str, Any]:
        """What ``dataclasses.asdict`` gives, built directly: ``asdict`` recurses through every field of
        every step (~0.1 ms a step, twice per run), which showed in the per-step overhead."""
        return {
            "name": self.name,
            "steps": tuple(_step_dict(s) for s in self.steps),
            "parameters": deepcopy(self.parameters),
            "version": self.version,
        }

    def spec_hash(self) -> str:
        import hashlib  # here, not at the top: `import runyard` loads this module (see tests/e2e/test_core_import)
        import json

        return hashlib.sha256(json.dumps(self.to_dict(), sort_keys=True, default=str).encode()).hexdigest()

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PipelineSpec:
        version = int(data.get("version", 1))
        if version > SPEC_VERSION:
            from runyard.exceptions import VersionMismatch

            raise VersionMismatch(
                f"This pipeline spec has format version {version}; this Runyard reads up to {SPEC_VERSION}.",
                hint="Upgrade runyard where the run executes.",
            )
        steps = tuple(
            StepSpec(
                invocation_id=s["invocation_id"],
                step_name=s["step_name"],
                source=s["source"],
                source_hash=s["source_hash"],
                parameters=dict(s.get("parameters", {})),
                inputs={k: InputSpec(**v) for k, v in s.get("inputs", {}).items()},
                after=tuple(s.get("after", ())),
                outputs=tuple(OutputSpec(**o) for o in s.get("outputs", ())),
                enable_cache=bool(s.get("enable_cache", True)),
                retry=RetryPolicy(**s.get("retry", {})),
                source_code=str(s.get("source_code", "")),
            )
            for s in data["steps"]
        )
        return cls(name=data["name"], steps=steps, parameters=dict(data.get("parameters", {})), version=SPEC_VERSION)
