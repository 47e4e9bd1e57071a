"""The step runner: one step invocation, the same on every orchestrator.

Resolve inputs -> look up the cache -> run the function inside the error boundary (with retries and
hooks) -> save outputs through materializers -> report everything to the workspace in one write.

The start and end reports are sent without waiting for their answers (:class:`StepOutcome` holds them):
ids are client-chosen, so the next step can start at once, and over the local service the workspace
stores one step while the next one runs. The orchestrator settles every outcome before the run ends.
"""

from __future__ import annotations

import contextlib
import sys
import time
import uuid
from collections import deque
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from runyard.artifacts.io import SavedArtifact, StepInput, check_output_type, load_artifact, save_artifact
from runyard.artifacts.registry import materializer_for
from runyard.client.wire import (  # plain records at run time: no pydantic in the pipeline process
    ArtifactVersionCreate,
    CacheLookup,
    StepOutputLink,
    StepRunCreate,
    StepRunRead,
    StepRunUpdate,
    StepStatus,
)
from runyard.exceptions import ArtifactError, RunyardError
from runyard.execution.boundary import short_error, user_traceback
from runyard.execution.cache import cache_key, cache_parts, explain_miss
from runyard.sdk.context import StepContext, reset_step_context, set_step_context

if TYPE_CHECKING:
    from runyard.artifacts.stores.base import ArtifactStore
    from runyard.client.transport import Deferred
    from runyard.client.workspace_api import WorkspaceAPI
    from runyard.logs.backends.base import LogBackend
    from runyard.schemas import RunRead
    from runyard.sdk.spec import StepSpec
    from runyard.sdk.step import Step


#: How stale the runner's news from the workspace may be when a step starts without awaiting its answer.
CANCEL_WINDOW_S = 0.02


@dataclass
class StepJob:
    """Everything one step execution needs; plain data, so it can cross to a worker process."""

    run: RunRead
    pipeline_name: str
    spec: StepSpec
    upstream: dict[str, dict[str, StepInput]]


@dataclass
class StepOutcome:
    """A finished step as the orchestrator sees it, possibly before the workspace answered its reports.

    ``status`` and ``outputs`` are what this runner reported; :meth:`settle` waits for the answers and
    raises a report's error. One answer changes the outcome: the server refused the step's start because
    the run is being cancelled; the step is then ``cancelled`` and its end report (refused too) is dropped.
    """

    invocation_id: str
    status: StepStatus
    outputs: dict[str, StepInput] = field(default_factory=dict)
    reports: list[Deferred[StepRunRead]] = field(default_factory=list)

    @property
    def answered(self) -> bool:
        return all(r.done for r in self.reports)

    @property
    def refused(self) -> bool:
        """Whether the start report is answered already, and was refused (the run is being cancelled)."""
        if not self.reports or not self.reports[0].done:
            return False
        try:
            return self.reports[0].result().status == StepStatus.CANCELLED
        except RunyardError:
            return False  # raised by settle()

    def settle(self) -> StepOutcome:
        if not self.reports:
            return self
        reports, self.reports = self.reports, []
        started = reports[0].result()
        if started.status == StepStatus.CANCELLED:
            for later in reports[1:]:
                with contextlib.suppress(RunyardError):
                    later.result()
            self.status, self.outputs = StepStatus.CANCELLED, {}
            return self
        last = reports[-1].result()
        self.status = last.status
        return self

    @classmethod
    def of(cls, step_run: StepRunRead) -> StepOutcome:
        return cls(step_run.invocation_id, step_run.status, dict(step_run.outputs))


class StepRunner:
    def __init__(self, api: WorkspaceAPI, store: ArtifactStore, *, logs: LogBackend | None = None) -> None:
        self.api = api
        self.store = store
        self.logs = logs.bind(api) if logs is not None else None
        #: Start reports not answered yet (sent at, answer), oldest first; see :meth:`_refused`.
        self._starts: deque[tuple[float, Deferred[StepRunRead]]] = deque()
        self._news_as_of = 0.0

    def run(self, job: StepJob, step: Step[Any, Any]) -> StepOutcome:
        spec = job.spec
        inputs = {name: job.upstream[edge.step][edge.output] for name, edge in spec.inputs.items()}
        params = dict(spec.parameters)
        parts = cache_parts(
            source_hash=spec.source_hash,
            parameters=params,
            input_hashes={k: v.content_hash for k, v in inputs.items()},
            output_types={o.name: self._output_materializer(step, o.name) for o in spec.outputs},
            artifact_store=str(self.store.component_id or self.store.root),
        )
        key = cache_key(parts)
        explanation = "cache disabled for this step"
        if spec.enable_cache:
            lookup = self.api.lookup_cache(
                CacheLookup(cache_key=key, invocation_id=spec.invocation_id, pipeline_id=job.run.pipeline_id)
            )
            if lookup.hit is not None:
                missing = [n for n, v in lookup.hit.outputs.items() if not self.store.artifact_exists(v.uri)]
                if not missing:
                    return self._record_cached(job, inputs, key, parts, lookup.hit)
                explanation = f"cache miss: the files of cached output(s) {', '.join(missing)} are gone"
            else:
                previous = (lookup.previous_parts or {}).get("parts")
                explanation = explain_miss(parts, previous)
        step_run_id, sent_at = uuid.uuid4(), time.perf_counter()
        started = self.api.report_step_start(
            StepRunCreate(
                id=step_run_id,
                run_id=job.run.id,
                invocation_id=spec.invocation_id,
                step_name=spec.step_name,
                status=StepStatus.RUNNING,
                parameters=params,
                source_hash=spec.source_hash,
                cache_key=key if spec.enable_cache else None,
                cache_parts={"parts": parts, "explanation": explanation},
                inputs={k: v.id for k, v in inputs.items()},
            )
        )
        return self._execute(job, step, step_run_id, (started, sent_at), inputs, params)

    def _refused(self, started: Deferred[StepRunRead], sent_at: float) -> bool:
        """Whether the workspace refused this step's start (its run is being cancelled).

        Only start reports carry that news. The answer is awaited only if the newest start report
        answered so far was sent more than :data:`CANCEL_WINDOW_S` ago: a fast chain of steps runs on
        while its reports are stored behind it (a cancel that lands meanwhile stops it a few steps later,
        and their reports are refused), and after any longer step the cancel is seen before the next one."""
        self.api.transport.poll()
        while self._starts and self._starts[0][1].done:
            sent, earlier = self._starts.popleft()
            self._news_as_of = sent
            if earlier.result().status == StepStatus.CANCELLED:
                return True  # an earlier step of this run was refused already
        if not started.done and self._news_as_of < time.perf_counter() - CANCEL_WINDOW_S:
            started.result()
        if started.done:
            self._news_as_of = sent_at
            return started.result().status == StepStatus.CANCELLED
        self._starts.append((sent_at, started))
        return False

    def _output_materializer(self, step: Step[Any, Any], output: str) -> str:
        for o in step.signature.outputs:
            if o.name == output:
                try:
                    return materializer_for(o.annotation).name
                except Exception:
                    return "dynamic"
        return "dynamic"

    def _record_cached(self, job: StepJob, inputs: dict[str, StepInput], key: str,
                       parts: dict[str, Any], hit: StepRunRead) -> StepOutcome:
        outputs: dict[str, StepInput] = dict(hit.outputs)
        recorded = self.api.report_step_start(
            StepRunCreate(
                id=uuid.uuid4(),
                run_id=job.run.id,
                invocation_id=job.spec.invocation_id,
                step_name=job.spec.step_name,
                status=StepStatus.CACHED,
                parameters=job.spec.parameters,
                source_hash=job.spec.source_hash,
                cache_key=key,
                cache_parts={"parts": parts, "explanation": f"cache hit: reused the outputs of step run {hit.id}"},
                original_step_run_id=hit.original_step_run_id or hit.id,
                inputs={k: v.id for k, v in inputs.items()},
                outputs=[StepOutputLink(name=n, artifact_version_id=v.id) for n, v in hit.outputs.items()],
            )
        )
        return StepOutcome(job.spec.invocation_id, StepStatus.CACHED, outputs, [recorded])

    def _execute(self, job: StepJob, step: Step[Any, Any], step_run_id: uuid.UUID,
                 start: tuple[Deferred[StepRunRead], float], inputs: dict[str, StepInput],
                 params: dict[str, Any]) -> StepOutcome:
        spec = job.spec
        started, sent_at = start
        if self._refused(started, sent_at):
            return StepOutcome(spec.invocation_id, StepStatus.CANCELLED)  # the run was cancelled meanwhile
        ctx = StepContext(
            run_id=job.run.id, run_name=job.run.name, pipeline_name=job.pipeline_name, step_name=spec.step_name,
            invocation_id=spec.invocation_id, step_run_id=step_run_id, api=self.api,
        )
        token = set_step_context(ctx)
        capture = _capture(self.logs, job.run.id, str(step_run_id))
        try:
            with capture:
                outcome = self._attempts(job, step, step_run_id, inputs, params, ctx)
        finally:
            reset_step_context(token)
        outcome.reports.insert(0, started)
        return outcome

    def _attempts(self, job: StepJob, step: Step[Any, Any], step_run_id: uuid.UUID,
                  inputs: dict[str, StepInput], params: dict[str, Any], ctx: StepContext) -> StepOutcome:
        spec = job.spec
        attempt = 0
        while True:
            attempt += 1
            ctx.attempt = attempt
            try:
                kwargs = dict(params)
                annotations = step.signature.input_annotations
                for name, version in inputs.items():
                    kwargs[name] = load_artifact(version, data_type=_plain(annotations.get(name)), api=self.api,
                                                 store=self.store)
                result = step.func(**kwargs)
                outputs = self._save_outputs(job, step, result, ctx)
                break
            except Exception as exc:
                if attempt > spec.retry.max_retries or (isinstance(exc, ArtifactError) and exc.permanent):
                    return self._fail(step, step_run_id, exc, attempt, ctx)
                wait = spec.retry.wait_before(attempt)
                print(f"[runyard] step {spec.invocation_id!r} failed ({short_error(exc)}); retry {attempt} of "
                      f"{spec.retry.max_retries} in {wait:.1f}s", file=sys.stderr)
                if wait > 0:
                    time.sleep(wait)
        _call_hook(step.options.on_success, None)
        ended = self.api.report_step_end(
            step_run_id,
            StepRunUpdate(status=StepStatus.COMPLETED, attempts=attempt, new_outputs=outputs,
                          metadata=ctx.pending_step_metadata),
        )
        saved: dict[str, StepInput] = {
            o.output_name: SavedArtifact.of(o, producer_step_run_id=step_run_id) for o in outputs
        }
        return StepOutcome(spec.invocation_id, StepStatus.COMPLETED, saved, [ended])

    def _save_outputs(self, job: StepJob, step: Step[Any, Any], result: Any,
                      ctx: StepContext) -> list[ArtifactVersionCreate]:
        spec = job.spec
        defs = step.signature.outputs
        if not defs:
            return []
        if step.signature.multiple:
            if not isinstance(result, tuple) or len(result) != len(defs):
                raise _OutputError(
                    f"Step {spec.invocation_id!r} must return a tuple of {len(defs)} values "
                    f"({', '.join(d.name for d in defs)}), but returned {type(result).__name__}"
                    + (f" of {len(result)}" if isinstance(result, tuple) else "") + ".",
                    hint="Return one value per annotated output, in order.",
                )
            values = list(result)
        else:
            values = [result]
        unknown = set(ctx.pending_output_metadata) - {d.name for d in defs}
        if unknown:
            raise _OutputError(
                f"Step {spec.invocation_id!r} logged metadata for output {sorted(unknown)[0]!r}, "
                "which it does not have.",
                hint=f"Its outputs are: {', '.join(d.name for d in defs)}.",
            )
        saved = []
        for d, value in zip(defs, values, strict=True):
            where = f"Step {spec.invocation_id!r} output {d.name!r}"
            check_output_type(value, d.annotation, where=where)
            saved.append(
                save_artifact(
                    value, annotation=d.annotation, artifact_name=_artifact_name(job, d.name, d.annotation),
                    output_name=d.name,
                    store=self.store, extra_metadata=ctx.pending_output_metadata.get(d.name),
                )
            )
        return saved

    def _fail(self, step: Step[Any, Any], step_run_id: uuid.UUID, exc: Exception, attempts: int,
              ctx: StepContext) -> StepOutcome:
        tb = user_traceback(exc)
        _call_hook(step.options.on_failure, exc)
        ended = self.api.report_step_end(
            step_run_id,
            StepRunUpdate(status=StepStatus.FAILED, error=_headline(exc), traceback=tb, attempts=attempts,
                          metadata=ctx.pending_step_metadata),
        )
        return StepOutcome(ctx.invocation_id, StepStatus.FAILED, reports=[ended])


class _OutputError(ArtifactError):
    """A step returned values that do not match its outputs: retrying would not help."""

    permanent = True


def _headline(exc: Exception) -> str:
    if isinstance(exc, RunyardError):
        return exc.headline
    return short_error(exc)


def _artifact_name(job: StepJob, output: str, annotation: Any) -> str:
    """``Annotated[T, "dataset"]`` names the artifact ``dataset``; unnamed outputs get a unique dotted name."""
    from runyard.sdk.signature import annotated_name

    if annotated_name(annotation) is not None:
        return output
    return f"{job.pipeline_name}.{job.spec.invocation_id}.{output}"


def _plain(annotation: Any) -> type | None:
    return annotation if isinstance(annotation, type) else None


def _capture(logs: LogBackend | None, run_id: uuid.UUID, key: str) -> AbstractContextManager[Any]:
    if logs is None:
        return contextlib.nullcontext()
    from runyard.logs.capture import LogCapture

    return LogCapture(logs.open_writer(run_id, key))


def _call_hook(hook: Any, exc: BaseException | None) -> None:
    """Hooks take the exception (on_failure) or nothing; a failing hook is reported, never fatal."""
    if hook is None:
        return
    import inspect

    try:
        n = len(inspect.signature(hook).parameters)
        if exc is not None and n >= 1:
            hook(exc)
        else:
            hook()
    except Exception as hook_exc:
        print(f"[runyard] hook {getattr(hook, '__name__', hook)!r} failed: {short_error(hook_exc)}", file=sys.stderr)
