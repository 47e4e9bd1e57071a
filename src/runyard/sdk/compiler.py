"""Compiles a ``@pipeline`` function into a :class:`PipelineSpec` by calling it with placeholders.

While the pipeline body runs, every step call records an invocation and returns :class:`StepOutput`
placeholders; passing a placeholder to another step makes a data edge, any other value becomes a step
parameter (it must be JSON-serializable, so the run can be stored and replayed).
"""

from __future__ import annotations

import contextvars
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from runyard.exceptions import PipelineDefinitionError
from runyard.sdk.signature import type_name
from runyard.sdk.spec import InputSpec, OutputSpec, PipelineSpec, StepSpec

if TYPE_CHECKING:
    from runyard.sdk.step import Step

_builder: contextvars.ContextVar[PipelineBuilder | None] = contextvars.ContextVar("runyard_builder", default=None)


def current_builder() -> PipelineBuilder | None:
    return _builder.get()


def require_builder(what: str) -> PipelineBuilder:
    builder = _builder.get()
    if builder is None:
        raise PipelineDefinitionError(f"{what} only works inside a @pipeline function.")
    return builder


class StepOutput:
    """Placeholder for one output of a step invocation while a pipeline compiles."""

    __slots__ = ("_builder", "invocation_id", "name")

    def __init__(self, builder: PipelineBuilder, invocation_id: str, name: str) -> None:
        self._builder = builder
        self.invocation_id = invocation_id
        self.name = name

    def after(self, *others: Any) -> StepOutput:
        """Runs this output's step after ``others`` (steps, outputs), without a data edge."""
        self._builder.order(self.invocation_id, others)
        return self

    def _misuse(self, *_: Any, **__: Any) -> Any:
        raise PipelineDefinitionError(
            f"Pipeline {self._builder.name!r} used the output {self.name!r} of step {self.invocation_id!r} as a "
            "value. Inside a @pipeline, step outputs are placeholders: the data exists only when the run executes.",
            hint="Move this logic into a @step that takes the output as an input (or decorate the function you "
            "called with @step).",
        )

    __bool__ = __len__ = __iter__ = __getitem__ = __add__ = __radd__ = __sub__ = __mul__ = _misuse
    __truediv__ = __lt__ = __gt__ = __le__ = __ge__ = __contains__ = __float__ = __int__ = __index__ = _misuse

    def __getattr__(self, attr: str) -> Any:
        if attr.startswith("__"):
            raise AttributeError(attr)  # protocol probes (copy, numpy, pickle) must see a plain miss
        return self._misuse()

    def __repr__(self) -> str:
        return f"<output {self.invocation_id}.{self.name}>"


class StepOutputs(tuple[StepOutput, ...]):
    """Placeholders of a multi-output step; unpack them like the function's tuple."""

    def after(self, *others: Any) -> StepOutputs:
        if self:
            self[0].after(*others)
        return self


class NoOutputs:
    """Returned by a step without outputs so that ``.after()`` still works on it."""

    def __init__(self, builder: PipelineBuilder, invocation_id: str) -> None:
        self._builder = builder
        self.invocation_id = invocation_id

    def after(self, *others: Any) -> NoOutputs:
        self._builder.order(self.invocation_id, others)
        return self


class PipelineBuilder:
    def __init__(self, name: str) -> None:
        self.name = name
        self.invocations: dict[str, dict[str, Any]] = {}
        self._next_suffix: dict[str, int] = {}
        self.steps: dict[str, Step[Any, Any]] = {}
        self._latest: dict[int, str] = {}  # id(step) -> latest invocation id

    def __enter__(self) -> PipelineBuilder:
        self._token = _builder.set(self)
        return self

    def __exit__(self, *exc: object) -> None:
        _builder.reset(self._token)

    def add_invocation(self, step: Step[Any, Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        sig = step.signature
        invocation_id = self._new_id(step.name)
        bound = self._bind(step, invocation_id, args, kwargs)
        inputs: dict[str, InputSpec] = {}
        parameters: dict[str, Any] = {}
        for pname, value in bound.items():
            if isinstance(value, StepOutput):
                if value._builder is not self:
                    raise PipelineDefinitionError(f"Step {invocation_id!r} got an output of another pipeline.")
                inputs[pname] = InputSpec(step=value.invocation_id, output=value.name)
            elif isinstance(value, StepOutputs | NoOutputs):
                raise PipelineDefinitionError(
                    f"Step {invocation_id!r} input {pname!r} got all outputs of step {_inv(value)!r} at once.",
                    hint="Unpack them first: `a, b = step(...)`, then pass one.",
                )
            elif _holds_output(value):
                raise PipelineDefinitionError(
                    f"Step {invocation_id!r} input {pname!r} got step outputs inside a {type(value).__name__}.",
                    hint="A step input takes one output: give the step one input per output, or combine them "
                    "in another step first.",
                )
            else:
                parameters[pname] = check_json_parameter(value, f"Parameter {pname!r} of step {invocation_id!r} "
                                                                f"in pipeline {self.name!r}")
        self.invocations[invocation_id] = {
            "step": step,
            "inputs": inputs,
            "parameters": parameters,
            "after": [],
        }
        self.steps[invocation_id] = step
        self._latest[id(step)] = invocation_id
        if not sig.outputs:
            return NoOutputs(self, invocation_id)
        outs = [StepOutput(self, invocation_id, o.name) for o in sig.outputs]
        return StepOutputs(outs) if sig.multiple else outs[0]

    def _bind(
        self, step: Step[Any, Any], invocation_id: str, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> dict[str, Any]:
        import inspect

        try:
            bound = inspect.Signature(list(step.signature.parameters)).bind(*args, **kwargs)
        except TypeError as exc:
            raise PipelineDefinitionError(
                f"Step {invocation_id!r} in pipeline {self.name!r} was called wrongly: {exc}.",
                hint=f"Its inputs are: {', '.join(p.name for p in step.signature.parameters) or 'none'}.",
            ) from None
        # defaults stay out of the spec unless given, so that YAML step parameters can fill them
        return dict(bound.arguments)

    def _new_id(self, name: str) -> str:
        """``name``, then ``name_2``, ``name_3``...: the next suffix is remembered, so calling one step n times
        costs n probes, not n squared."""
        if name not in self.invocations:
            return name
        n = self._next_suffix.get(name, 2)
        while f"{name}_{n}" in self.invocations:
            n += 1
        self._next_suffix[name] = n + 1
        return f"{name}_{n}"

    def order(self, invocation_id: str, others: tuple[Any, ...]) -> None:
        after = self.invocations[invocation_id]["after"]
        for other in others:
            upstream = self._resolve(other)
            if upstream == invocation_id:
                raise PipelineDefinitionError(f"Step {invocation_id!r} cannot run after itself.")
            if upstream not in after:
                after.append(upstream)

    def order_latest(self, step: Step[Any, Any], others: tuple[Any, ...]) -> None:
        latest = self._latest.get(id(step))
        if latest is None:
            raise PipelineDefinitionError(
                f"{step.name}.after(...) was used before {step.name} was called in pipeline {self.name!r}.",
                hint="Call the step first, then `.after()`; or use `out = step(...); out.after(other)`.",
            )
        self.order(latest, others)

    def _resolve(self, other: Any) -> str:
        from runyard.sdk.step import Step

        if isinstance(other, StepOutput | NoOutputs):
            return other.invocation_id
        if isinstance(other, StepOutputs) and other:
            return other[0].invocation_id
        if isinstance(other, Step):
            latest = self._latest.get(id(other))
            if latest is None:
                raise PipelineDefinitionError(
                    f"Pipeline {self.name!r} orders a step after {other.name!r}, which was not called before.",
                )
            return latest
        raise PipelineDefinitionError(f"`.after()` takes steps or step outputs, not {type(other).__name__}.")

    def build(
        self, parameters: dict[str, Any], overrides: dict[str, dict[str, Any]], *, pipeline_cache: bool | None = None
    ) -> PipelineSpec:
        """``overrides`` are per step name or invocation id (the latter wins). Cache setting precedence:
        configuration file step entry, then the ``@step`` option, then the pipeline's, then on."""
        if not self.invocations:
            raise PipelineDefinitionError(
                f"Pipeline {self.name!r} calls no step.", hint="Call at least one @step function in its body."
            )
        specs: dict[str, StepSpec] = {}
        for inv, data in self.invocations.items():
            step: Step[Any, Any] = data["step"]
            override = {**overrides.get(step.name, {}), **overrides.get(inv, {})}
            params = {**data["parameters"], **override.get("parameters", {})}
            self._check_complete(step, inv, data["inputs"], params)
            retry = override.get("retry", step.options.retry)
            enable_cache = override.get("enable_cache", step.options.enable_cache)
            if enable_cache is None:
                enable_cache = pipeline_cache
            specs[inv] = StepSpec(
                invocation_id=inv,
                step_name=step.name,
                source=step.source,
                source_hash=step.source_hash,
                source_code=step.source_code,
                parameters=params,
                inputs=data["inputs"],
                after=tuple(data["after"]),
                outputs=tuple(OutputSpec(o.name, type_name(o.annotation)) for o in step.signature.outputs),
                enable_cache=True if enable_cache is None else bool(enable_cache),
                retry=retry,
            )
        return PipelineSpec(name=self.name, steps=tuple(_topological(specs)), parameters=parameters)

    def _check_complete(
        self, step: Step[Any, Any], inv: str, inputs: dict[str, InputSpec], params: dict[str, Any]
    ) -> None:
        for p in step.signature.parameters:
            if p.name not in inputs and p.name not in params and p.default is p.empty:
                raise PipelineDefinitionError(
                    f"Step {inv!r} in pipeline {self.name!r} has no value for input {p.name!r}.",
                    hint="Pass it an upstream step's output or a value, or give the parameter a default.",
                )
        unknown = set(params) - {p.name for p in step.signature.parameters}
        if unknown:
            raise PipelineDefinitionError(
                f"Step {inv!r} in pipeline {self.name!r} has no parameter {sorted(unknown)[0]!r}.",
                hint=f"Its parameters are: {', '.join(p.name for p in step.signature.parameters) or 'none'}.",
            )


def _holds_output(value: Any) -> bool:
    if isinstance(value, StepOutput | StepOutputs | NoOutputs):
        return True
    if isinstance(value, dict):
        return any(_holds_output(v) for v in value.values())
    if isinstance(value, list | tuple | set | frozenset):
        return any(_holds_output(v) for v in value)
    return False


def _inv(value: Any) -> str:
    return value.invocation_id if isinstance(value, NoOutputs) else value[0].invocation_id


def check_json_parameter(value: Any, what: str) -> Any:
    """Parameters are stored with the run and shown in the dashboard, so they must be plain JSON."""
    import json  # here: compiling loads it, `import runyard` need not

    try:
        json.dumps(value, allow_nan=False)
    except ValueError as exc:
        if "Out of range float" not in str(exc):
            raise PipelineDefinitionError(f"{what} is not JSON-serializable: {exc}.") from None
        # NaN and infinity are not JSON: PostgreSQL refuses them, and so do strict JSON parsers
        raise PipelineDefinitionError(
            f"{what} contains NaN or infinity, which JSON cannot store.",
            hint="Pass None or a finite number instead (or a string such as 'inf').",
        ) from None
    except TypeError:
        raise PipelineDefinitionError(
            f"{what} is a {type(value).__name__}, which is not JSON-serializable.",
            hint="Pass numbers, strings, booleans, lists or dicts of those; produce other objects in a step and "
            "pass its output instead.",
        ) from None
    return value


def _topological(specs: dict[str, StepSpec]) -> Iterator[StepSpec]:
    """Kahn's algorithm in rounds: each round yields every step whose upstream steps all came in earlier
    rounds, in the order the steps were called. Linear in steps and edges (a sweep of 1,000 calls of one
    step is common)."""
    position = {k: i for i, k in enumerate(specs)}
    waiting_on: dict[str, int] = {}
    downstream: dict[str, list[str]] = {k: [] for k in specs}
    for inv, spec in specs.items():
        ups = set(spec.upstream)
        missing = ups - specs.keys()
        if missing:
            raise PipelineDefinitionError(f"Step {inv!r} depends on unknown step {sorted(missing)[0]!r}.")
        waiting_on[inv] = len(ups)
        for up in ups:
            downstream[up].append(inv)
    ready = [k for k in specs if not waiting_on[k]]
    emitted = 0
    while ready:
        next_round: list[str] = []
        for k in ready:
            emitted += 1
            yield specs[k]
            for down in downstream[k]:
                waiting_on[down] -= 1
                if not waiting_on[down]:
                    next_round.append(down)
        ready = sorted(next_round, key=position.__getitem__)
    if emitted < len(specs):
        cycle = sorted(k for k, n in waiting_on.items() if n)
        raise PipelineDefinitionError(
            f"The steps {cycle} depend on each other in a cycle.",
            hint="Check the `.after()` calls.",
        )
