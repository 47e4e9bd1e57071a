"""Between plain records and the pydantic models, for transports that speak the models.

The pipeline process builds requests as records (:mod:`runyard.client.records`) and reads answers as
records. The local service takes them as JSON directly; the in-process and HTTP transports go through
the models, and this module does the crossing: requests are validated here, as the service would
(a bad value fails with :class:`~runyard.exceptions.InvalidInput` naming the field), and answers are
turned into records field for field.
"""

from __future__ import annotations

import importlib
from typing import Any

from runyard.client.operations import Operation


def to_models(kwargs: dict[str, Any]) -> dict[str, Any]:
    """The call's arguments with every record replaced by its validated pydantic model."""
    return {name: _model_of(value) for name, value in kwargs.items()}


def to_records(op: Operation, result: Any) -> Any:
    """The operation's pydantic answer as records (``None`` stays ``None``)."""
    if op.response_spec is None or result is None:
        return None
    from runyard.client import records

    return records.decode(op.response_spec, _adapter(op).dump_python(result, mode="json"))


_ADAPTERS: dict[str, Any] = {}


def _adapter(op: Operation) -> Any:
    """The pydantic adapter of ``op``'s response type, built once per type (several operations share one)."""
    assert op.response_spec is not None
    adapter = _ADAPTERS.get(op.response_spec)
    if adapter is None:
        from pydantic import TypeAdapter

        adapter = _ADAPTERS[op.response_spec] = TypeAdapter(op.response)
    return adapter

#: The operations a step runner sends (see ``Transport.prepare_records``).
_STEP_OPERATIONS = ("steps-create", "steps-update", "steps-cache_lookup", "steps-get", "steps-list",
                    "runs-get", "metadata-create")
_STEP_REQUESTS = ("StepRunCreate", "StepRunUpdate", "StepRunFilter", "CacheLookup", "ArtifactVersionCreate",
                  "StepOutputLink", "MetadataCreate")


def prepare() -> None:
    """Builds the validators and adapters a step runner's reports use, so none is built later (in a
    forked worker, say)."""
    from runyard import schemas
    from runyard.client import records  # noqa: F401
    from runyard.client.operations import operation

    for name in _STEP_REQUESTS:
        getattr(schemas, name).model_rebuild(force=True)  # defer_build models: build their validators now
    for op_id in _STEP_OPERATIONS:
        op = operation(op_id)
        if op.response_spec is not None:
            _adapter(op)


def _model_of(value: Any) -> Any:
    schema = getattr(type(value), "_schema", None)
    if not isinstance(schema, str):
        return value
    from pydantic import ValidationError

    from runyard.exceptions import InvalidInput

    module, name = schema.split(":")
    model = getattr(importlib.import_module(module), name)
    try:
        return model.model_validate(value.to_json())
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first.get("loc", ()))
        raise InvalidInput(
            f"Invalid {name}: {where + ': ' if where else ''}{first.get('msg')}",
            hint="Fix that value; the workspace refuses it.",
        ) from None
