"""``@pipeline``: a function that wires steps. Calling it compiles the DAG and runs it on the active stack."""

from __future__ import annotations

import dataclasses
import functools
import inspect
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Generic, ParamSpec, overload

from runyard.exceptions import ConfigurationError, PipelineDefinitionError
from runyard.sdk.compiler import PipelineBuilder, check_json_parameter
from runyard.sdk.config import RunConfig, load_config
from runyard.sdk.spec import PipelineSpec, RetryPolicy

if TYPE_CHECKING:
    from pathlib import Path

    from runyard.client.models import Run
    from runyard.sdk.step import Step

P = ParamSpec("P")


@dataclasses.dataclass(frozen=True)
class CompiledPipeline:
    spec: PipelineSpec
    steps: dict[str, Step[Any, Any]]  # invocation id -> step object (for running in this process)
    config: RunConfig
    docstring: str | None = None


class Pipeline(Generic[P]):
    def __init__(self, func: Callable[P, Any], *, name: str, config: RunConfig) -> None:
        self.func = func
        self.name = name
        self.config = config
        functools.update_wrapper(self, func)

    def with_options(
        self,
        *,
        config_path: str | Path | None = None,
        run_name: str | None = None,
        enable_cache: bool | None = None,
        tags: list[str] | None = None,
        parameters: dict[str, Any] | None = None,
        orchestrator: str | dict[str, Any] | None = None,
        continue_on_failure: bool | None = None,
        stack: str | None = None,
    ) -> Pipeline[P]:
        """A copy of this pipeline with a configuration file and/or options applied (options win)."""
        config = self.config
        if config_path is not None:
            config = config.merged(load_config(config_path))
        config = config.merged(
            RunConfig(
                run_name=run_name,
                enable_cache=enable_cache,
                tags=tuple(tags or ()),
                parameters=dict(parameters or {}),
                orchestrator=orchestrator_options(orchestrator),
                continue_on_failure=continue_on_failure,
                stack=stack,
            )
        )
        return Pipeline(self.func, name=self.name, config=config)

    def compile(self, *args: P.args, **kwargs: P.kwargs) -> CompiledPipeline:
        """Builds the spec without running anything."""
        params = self._parameters(args, kwargs)
        overrides = self._step_overrides()
        with PipelineBuilder(self.name) as builder:
            self.func(**params)  # type: ignore[call-arg]
        spec = builder.build(params, overrides, pipeline_cache=self.config.enable_cache)
        unknown_steps = set(self.config.steps) - set(builder.invocations) - {s.name for s in builder.steps.values()}
        if unknown_steps:
            raise PipelineDefinitionError(
                f"The configuration of pipeline {self.name!r} names step {sorted(unknown_steps)[0]!r}, "
                "which it does not call.",
                hint=f"Its steps are: {', '.join(builder.invocations)}.",
            )
        return CompiledPipeline(
            spec=spec, steps=dict(builder.steps), config=self.config, docstring=inspect.getdoc(self.func)
        )

    def _parameters(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any]:
        sig = inspect.signature(self.func)
        merged = {**self.config.parameters}
        try:
            bound = sig.bind_partial(*args, **kwargs)
        except TypeError as exc:
            raise PipelineDefinitionError(f"Pipeline {self.name!r} was called wrongly: {exc}.") from None
        merged.update(bound.arguments)
        unknown = set(merged) - set(sig.parameters)
        if unknown:
            raise PipelineDefinitionError(
                f"Pipeline {self.name!r} has no parameter {sorted(unknown)[0]!r}.",
                hint=f"Its parameters are: {', '.join(sig.parameters) or 'none'}.",
            )
        for p in sig.parameters.values():
            if p.name not in merged:
                if p.default is p.empty:
                    raise PipelineDefinitionError(
                        f"Pipeline {self.name!r} needs a value for parameter {p.name!r}.",
                        hint="Pass it in the call or under `parameters:` in the configuration file.",
                    )
                merged[p.name] = p.default
        for key, value in merged.items():
            check_json_parameter(value, f"Parameter {key!r} of pipeline {self.name!r}")
        return merged

    def _step_overrides(self) -> dict[str, dict[str, Any]]:
        return {name: dict(conf) for name, conf in self.config.steps.items()}

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> Run:
        from runyard.execution.heap import frozen_heap
        from runyard.execution.launcher import launch
        from runyard.sdk.compiler import current_builder

        outer = current_builder()
        if outer is not None:  # compiling must never start a run
            raise PipelineDefinitionError(
                f"Pipeline {outer.name!r} calls pipeline {self.name!r}; pipelines cannot be nested.",
                hint=f"Call the steps of {self.name!r} directly, or run the two pipelines one after the other.",
            )
        with frozen_heap():
            return launch(self.compile(*args, **kwargs))

    def __repr__(self) -> str:
        return f"<pipeline {self.name}>"


@overload
def pipeline(func: Callable[P, Any], /) -> Pipeline[P]: ...


@overload
def pipeline(
    *,
    name: str | None = None,
    enable_cache: bool | None = None,
    tags: list[str] | None = None,
    orchestrator: str | dict[str, Any] | None = None,
    continue_on_failure: bool | None = None,
) -> Callable[[Callable[P, Any]], Pipeline[P]]: ...


def pipeline(
    func: Callable[P, Any] | None = None,
    /,
    *,
    name: str | None = None,
    enable_cache: bool | None = None,
    tags: list[str] | None = None,
    orchestrator: str | dict[str, Any] | None = None,
    continue_on_failure: bool | None = None,
) -> Pipeline[P] | Callable[[Callable[P, Any]], Pipeline[P]]:
    """Marks a function that wires steps as a pipeline. ``@pipeline`` and ``@pipeline(enable_cache=False)``.

    Calling the pipeline runs it on the active stack and returns the finished run.
    """

    def wrap(f: Callable[P, Any]) -> Pipeline[P]:
        config = RunConfig(
            enable_cache=enable_cache,
            tags=tuple(tags or ()),
            orchestrator=orchestrator_options(orchestrator),
            continue_on_failure=continue_on_failure,
        )
        return Pipeline(f, name=name or f.__name__, config=config)

    if func is not None:
        return wrap(func)
    return wrap


def orchestrator_options(value: str | dict[str, Any] | None) -> dict[str, Any]:
    """``"local_parallel"`` or ``{"name": "local_parallel", "max_workers": 4}`` as one options dict.

    Why here: the decorator, ``with_options`` and YAML all take either form, and a wrong one must be named
    when the pipeline is defined, not as a traceback when it runs."""
    if value is None:
        return {}
    if isinstance(value, str):
        return {"name": value} if value else {}
    if isinstance(value, dict) and all(isinstance(k, str) for k in value):
        name = value.get("name")
        if name is not None and not isinstance(name, str):
            raise ConfigurationError(f"The orchestrator's name must be a string, not {type(name).__name__}.",
                                     hint='Write orchestrator={"name": "local_parallel", "max_workers": 4}.')
        return dict(value)
    raise ConfigurationError(f"orchestrator takes a flavor name or a dict of options, not {type(value).__name__}.",
                             hint='Write "local_parallel" or {"name": "local_parallel", "max_workers": 4}.')


__all__ = ["CompiledPipeline", "Pipeline", "RetryPolicy", "pipeline"]
