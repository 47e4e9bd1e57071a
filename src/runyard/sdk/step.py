"""``@step``: a plain function that Runyard runs as one tracked, cached, retried unit.

Outside a pipeline a step is just its function (handy in unit tests); inside a ``@pipeline`` body a call
records an invocation and returns placeholders for its outputs.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
from collections.abc import Callable
from typing import Any, Generic, ParamSpec, TypeVar, overload

from runyard.sdk.signature import StepSignature, read_signature
from runyard.sdk.spec import RetryPolicy

P = ParamSpec("P")
R = TypeVar("R")

Hook = Callable[..., Any]


@dataclasses.dataclass(frozen=True)
class StepOptions:
    name: str
    enable_cache: bool | None = None
    retry: RetryPolicy = dataclasses.field(default_factory=RetryPolicy)
    on_failure: Hook | None = None
    on_success: Hook | None = None
    output_materializers: dict[str, str] = dataclasses.field(default_factory=dict)


class Step(Generic[P, R]):
    def __init__(self, func: Callable[P, R], options: StepOptions) -> None:
        self.func = func
        self.options = options
        functools.update_wrapper(self, func)
        self._signature: StepSignature | None = None
        self._source_hash: str | None = None
        self._source_code: str | None = None

    @property
    def name(self) -> str:
        return self.options.name

    @property
    def source(self) -> str:
        return f"{self.func.__module__}:{self.func.__qualname__}"

    @property
    def signature(self) -> StepSignature:
        if self._signature is None:
            self._signature = read_signature(self.func, self.name)
        return self._signature

    @property
    def source_hash(self) -> str:
        """Hash of the function's source, so editing the step invalidates its cache."""
        if self._source_hash is None:
            text = self.source_code
            if not text:
                code = getattr(self.func, "__code__", None)
                text = repr((code.co_code, code.co_consts)) if code else repr(self.func)
            import hashlib  # here: a step is hashed when compiled, not when `import runyard` defines it

            self._source_hash = hashlib.sha256(text.encode()).hexdigest()
        return self._source_hash

    @property
    def source_code(self) -> str:
        """The function's source text ("" when Python cannot find it, e.g. typed into a REPL)."""
        if self._source_code is None:
            try:
                self._source_code = inspect.getsource(self.func)
            except (OSError, TypeError):
                self._source_code = ""
        return self._source_code

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> R:
        from runyard.sdk.compiler import current_builder

        builder = current_builder()
        if builder is None:
            return self.func(*args, **kwargs)
        return builder.add_invocation(self, args, kwargs)

    def after(self, *others: Any) -> Step[P, R]:
        """Inside a pipeline: the latest invocation of this step runs after ``others`` (no data edge)."""
        from runyard.sdk.compiler import require_builder

        require_builder(f"{self.name}.after()").order_latest(self, others)
        return self

    def with_options(
        self,
        *,
        enable_cache: bool | None = None,
        retries: int | None = None,
        retry_delay: float | None = None,
        retry_backoff: float | None = None,
        on_failure: Hook | None = None,
        on_success: Hook | None = None,
        name: str | None = None,
    ) -> Step[P, R]:
        """A copy of this step with some options changed."""
        o = self.options
        retry = RetryPolicy(
            max_retries=o.retry.max_retries if retries is None else retries,
            delay=o.retry.delay if retry_delay is None else retry_delay,
            backoff=o.retry.backoff if retry_backoff is None else retry_backoff,
        )
        new = dataclasses.replace(
            o,
            name=name or o.name,
            enable_cache=o.enable_cache if enable_cache is None else enable_cache,
            retry=retry,
            on_failure=on_failure or o.on_failure,
            on_success=on_success or o.on_success,
        )
        return Step(self.func, new)

    def __repr__(self) -> str:
        return f"<step {self.name}>"


@overload
def step(func: Callable[P, R], /) -> Step[P, R]: ...


@overload
def step(
    *,
    name: str | None = None,
    enable_cache: bool | None = None,
    retries: int = 0,
    retry_delay: float = 0.0,
    retry_backoff: float = 1.0,
    on_failure: Hook | None = None,
    on_success: Hook | None = None,
) -> Callable[[Callable[P, R]], Step[P, R]]: ...


def step(
    func: Callable[P, R] | None = None,
    /,
    *,
    name: str | None = None,
    enable_cache: bool | None = None,
    retries: int = 0,
    retry_delay: float = 0.0,
    retry_backoff: float = 1.0,
    on_failure: Hook | None = None,
    on_success: Hook | None = None,
) -> Step[P, R] | Callable[[Callable[P, R]], Step[P, R]]:
    """Marks a function as a pipeline step. ``@step`` and ``@step(retries=2)`` both work.

    ``retries`` further attempts after a failure, waiting ``retry_delay * retry_backoff**n`` seconds;
    ``on_failure(exception)`` / ``on_success()`` hooks run after the step (they may also take no argument).
    """

    def wrap(f: Callable[P, R]) -> Step[P, R]:
        if isinstance(f, Step):
            raise TypeError(f"{f.name} is a step already; apply @step once.")
        if not callable(f):
            raise TypeError(f"@step decorates a function, not {type(f).__name__}.")
        if retries < 0:
            raise ValueError(f"retries must be 0 or more, not {retries}.")
        options = StepOptions(
            name=name or f.__name__,
            enable_cache=enable_cache,
            retry=RetryPolicy(max_retries=retries, delay=retry_delay, backoff=retry_backoff),
            on_failure=on_failure,
            on_success=on_success,
        )
        return Step(f, options)

    if func is not None:
        return wrap(func)
    return wrap
