"""Reads a step function's signature: its inputs, and its outputs from the return annotation.

``-> T`` is one output named ``output``; ``-> Annotated[T, "name"]`` names it; ``-> tuple[Annotated[A,
"a"], Annotated[B, "b"]]`` gives several outputs; ``-> None`` gives none.
"""

from __future__ import annotations

import inspect
import typing
from dataclasses import dataclass
from typing import Any

from runyard.exceptions import PipelineDefinitionError

DEFAULT_OUTPUT = "output"


@dataclass(frozen=True)
class OutputDef:
    name: str
    annotation: Any


@dataclass(frozen=True)
class StepSignature:
    parameters: tuple[inspect.Parameter, ...]
    input_annotations: dict[str, Any]
    outputs: tuple[OutputDef, ...]
    #: True when the function returns a tuple of several outputs.
    multiple: bool


def read_signature(func: Any, step_name: str) -> StepSignature:
    sig = inspect.signature(func)
    try:
        hints = typing.get_type_hints(func, include_extras=True)
    except Exception:  # unresolved forward references: fall back to raw annotations
        hints = {k: v for k, v in getattr(func, "__annotations__", {}).items() if not isinstance(v, str)}
    for p in sig.parameters.values():
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            raise PipelineDefinitionError(
                f"Step {step_name!r} takes *{p.name}; steps need named inputs.",
                hint="List each input as its own parameter.",
            )
    inputs = {name: hints.get(name, Any) for name in sig.parameters}
    outputs, multiple = _outputs(hints.get("return", inspect.Signature.empty), step_name)
    return StepSignature(tuple(sig.parameters.values()), inputs, outputs, multiple)


def _outputs(ret: Any, step_name: str) -> tuple[tuple[OutputDef, ...], bool]:
    if ret is inspect.Signature.empty:
        return (OutputDef(DEFAULT_OUTPUT, Any),), False
    if ret is None or ret is type(None):
        return (), False
    name = annotated_name(ret)
    if name is not None:
        return (OutputDef(name, ret),), False
    if typing.get_origin(ret) is tuple:
        args = typing.get_args(ret)
        named = [annotated_name(a) for a in args]
        if args and Ellipsis not in args and any(n is not None for n in named):
            outs = tuple(
                OutputDef(n or f"{DEFAULT_OUTPUT}_{i}", a) for i, (n, a) in enumerate(zip(named, args, strict=True))
            )
            names = [o.name for o in outs]
            if len(set(names)) != len(names):
                raise PipelineDefinitionError(
                    f"Step {step_name!r} names two outputs alike: {names}.", hint="Give each output its own name."
                )
            return outs, True
    return (OutputDef(DEFAULT_OUTPUT, ret),), False


def annotated_name(annotation: Any) -> str | None:
    if typing.get_origin(annotation) is typing.Annotated:
        for meta in typing.get_args(annotation)[1:]:
            if isinstance(meta, str):
                return meta
    return None


def type_name(annotation: Any) -> str:
    if typing.get_origin(annotation) is typing.Annotated:
        annotation = typing.get_args(annotation)[0]
    if isinstance(annotation, type):
        return f"{annotation.__module__}.{annotation.__qualname__}"
    return repr(annotation)
