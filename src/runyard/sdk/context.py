"""What a running step can ask about itself (``get_step_context()``) and ``log_metadata``."""

from __future__ import annotations

import contextvars
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from runyard.exceptions import RunyardError

if TYPE_CHECKING:  # uuid loads `platform`: imported where an id is parsed, not by `import runyard`
    import uuid

_context: contextvars.ContextVar[StepContext | None] = contextvars.ContextVar("runyard_step", default=None)


@dataclass
class StepContext:
    run_id: uuid.UUID
    run_name: str
    pipeline_name: str
    step_name: str
    invocation_id: str
    step_run_id: uuid.UUID
    attempt: int = 1
    #: Metadata logged during the step, sent with the step's final report (one request, not one per call).
    pending_step_metadata: dict[str, Any] = field(default_factory=dict)
    pending_output_metadata: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: The client the step's runner writes with (the run's workload token on a server with logins).
    api: Any = field(default=None, repr=False, compare=False)


def get_step_context() -> StepContext:
    """The context of the step running now; raises outside a step."""
    ctx = _context.get()
    if ctx is None:
        raise RunyardError(
            "get_step_context() was called outside a running step.",
            hint="Call it inside a @step function while a pipeline runs.",
        )
    return ctx


def current_step_context() -> StepContext | None:
    return _context.get()


def set_step_context(ctx: StepContext | None) -> contextvars.Token[StepContext | None]:
    return _context.set(ctx)


def reset_step_context(token: contextvars.Token[StepContext | None]) -> None:
    _context.reset(token)


def log_metadata(
    metadata: dict[str, Any],
    *,
    run_id: uuid.UUID | str | None = None,
    step_run_id: uuid.UUID | str | None = None,
    artifact_version_id: uuid.UUID | str | None = None,
    output: str | None = None,
    on_run: bool = False,
) -> None:
    """Attaches key/values to a step run (default inside a step), its run, one of its outputs, or by id.

    Inside a step: ``log_metadata({"accuracy": 0.93})`` goes to this step run,
    ``log_metadata({...}, on_run=True)`` to the run, ``log_metadata({...}, output="model")`` to the artifact
    version this step produces as ``model``. Anywhere: pass ``run_id``, ``step_run_id`` or
    ``artifact_version_id``.
    """
    from runyard.jsonsafe import json_safe
    from runyard.sdk.compiler import check_json_parameter

    if not isinstance(metadata, dict):
        raise RunyardError("log_metadata takes a dict of key/values.", hint='e.g. log_metadata({"accuracy": 0.9})')
    metadata = {
        key: check_json_parameter(json_safe(value), f"Metadata value {key!r}") for key, value in metadata.items()
    }
    ctx = _context.get()
    targets = [x is not None for x in (run_id, step_run_id, artifact_version_id)]
    if any(targets):
        if sum(targets) > 1:
            raise RunyardError("log_metadata takes one of run_id, step_run_id or artifact_version_id.")
        import uuid

        from runyard.client.wire import MetadataCreate, ResourceType

        rid: uuid.UUID | str | None
        if run_id is not None:
            rtype, rid = ResourceType.RUN, run_id
        elif step_run_id is not None:
            rtype, rid = ResourceType.STEP_RUN, step_run_id
        else:
            rtype, rid = ResourceType.ARTIFACT_VERSION, artifact_version_id
        _api().add_metadata(MetadataCreate(resource_type=rtype, resource_id=uuid.UUID(str(rid)), values=metadata))
        return
    if ctx is None:
        raise RunyardError(
            "log_metadata() outside a step needs a target.",
            hint="Pass run_id=, step_run_id= or artifact_version_id=, or call it inside a @step.",
        )
    if output is not None:
        ctx.pending_output_metadata.setdefault(output, {}).update(metadata)
    elif on_run:
        import uuid

        from runyard.client.wire import MetadataCreate, ResourceType

        _api(ctx).add_metadata(MetadataCreate(resource_type=ResourceType.RUN, resource_id=ctx.run_id, values=metadata))
    else:
        ctx.pending_step_metadata.update(metadata)


def _api(ctx: StepContext | None = None) -> Any:
    """The step runner's client for the step's own run (it writes with the run's workload token where the
    server has logins); the caller's own client for anything named by id."""
    if ctx is not None and ctx.api is not None:
        return ctx.api
    from runyard.client.connection import workspace_api

    return workspace_api()
