"""Writes :mod:`runyard.client.records`, the pydantic-free twins of the wire schemas.

Run ``python -m runyard.client.records_gen`` after changing a schema (``--check`` only compares); a test
fails while the committed module differs from :func:`render`.

Why generated: the pipeline process talks to the workspace service in JSON and must not pay for importing
pydantic and building every model (most of a run's start-up), while the service keeps validating with the
schemas. Writing the records by hand would let them drift from the schemas; reading the schemas' fields
here keeps one definition. The generated code is straight-line per class (no reflection at import or per
call): records are built per step in the hot path.

What a schema may use is deliberately narrow: an annotation, default, alias or serializer this module does
not know is an error, not a record that silently encodes differently from pydantic.
"""

from __future__ import annotations

import argparse
import datetime as dt
import enum
import importlib
import inspect
import pkgutil
import sys
import types
import typing
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import annotated_types
from pydantic import AfterValidator, BaseModel, BeforeValidator
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

import runyard.schemas

#: Where the records go (next to this module).
TARGET = Path(__file__).with_name("records.py")
COMMAND = "python -m runyard.client.records_gen"

#: Schema classes that only give fields to others: never sent or answered themselves.
ABSTRACT = frozenset({"Schema", "ReadSchema", "Entity"})
#: Modules whose enums the records import; an enum defined anywhere else (next to pydantic models) is copied.
PYDANTIC_FREE = frozenset({"runyard.schemas.status"})
#: Hand-written behaviour a record inherits (a class of ``runyard.client.records_extra``), by class name.
MIXINS = {"RunStepsPage": "RunStepsPageMixin"}
#: Public methods schema classes define for the server alone (records do not need them).
SERVER_ONLY = frozenset({"trusted", "trusted_many"})
#: Constants of ``runyard.schemas.base`` the client needs, written as literals.
CONSTANTS = ("SCHEMA_VERSION", "MAX_PAGE_SIZE", "DEFAULT_PAGE_SIZE", "DEFAULT_PROJECT", "PROJECT_PATTERN")
#: Annotated[...] metadata that only validates (the service's business): dropped.
_VALIDATION_ONLY = (BeforeValidator, AfterValidator, annotated_types.BaseMetadata, FieldInfo)
#: Names the generated methods use besides ``obj.<field>``; a field must not be called like them.
_RESERVED = frozenset({"self", "cls", "obj", "data", "get", "item", "v"})
LINE_LENGTH = 120


def literal(value: Any) -> str:
    """``repr`` of a literal, strings in double quotes as the rest of the code base writes them."""
    text = repr(value)
    if isinstance(value, str) and text.startswith("'") and '"' not in text and "\\" not in text:
        return f'"{text[1:-1]}"'
    return text


class SchemaError(TypeError):
    """A schema uses something the records cannot mirror: teach this module, do not work around it."""


@dataclass(frozen=True)
class Kind:
    """How one annotation converts between JSON and record values.

    ``tag``: ``plain`` (JSON gives it as is: str, int, float, bool, Any, Literal), ``uuid``, ``datetime``,
    ``enum``, ``record``, ``item`` (a generic page's type variable), ``optional``, ``list``, ``dict``.
    ``text`` is the annotation as records write it; ``args`` the element kinds.
    """

    tag: str
    text: str
    args: tuple[Kind, ...] = ()

    @property
    def plain(self) -> bool:
        """JSON already holds the final value: no conversion either way."""
        return self.tag == "plain" or (self.tag in ("optional", "list", "dict") and all(a.plain for a in self.args))


@dataclass
class Names:
    """What the annotations seen so far refer to: the imports and copied enums the module needs."""

    enums: dict[str, type[enum.Enum]] = field(default_factory=dict)
    models: dict[str, type[BaseModel]] = field(default_factory=dict)
    typing: set[str] = field(default_factory=set)
    uses_uuid: bool = False
    uses_datetime: bool = False

    def add(self, registry: dict[str, Any], name: str, obj: Any) -> None:
        if registry.get(name, obj) is not obj:
            raise SchemaError(f"two schema types are called {name}: {registry[name]!r} and {obj!r}")
        registry[name] = obj


def model_classes() -> list[type[BaseModel]]:
    """Every concrete pydantic model of ``runyard.schemas``' modules, by module then declaration order."""
    out: list[type[BaseModel]] = []
    seen: dict[str, type[BaseModel]] = {}
    for info in sorted(pkgutil.iter_modules(runyard.schemas.__path__), key=lambda i: i.name):
        module = importlib.import_module(f"runyard.schemas.{info.name}")
        for name, obj in vars(module).items():
            if not (isinstance(obj, type) and issubclass(obj, BaseModel) and obj.__module__ == module.__name__):
                continue
            if name.startswith("_") or name in ABSTRACT:
                continue
            if name in seen:
                raise SchemaError(f"two schema models are called {name}: {seen[name]!r} and {obj!r}")
            seen[name] = obj
            out.append(obj)
    return out


def kind_of(annotation: Any, names: Names, where: str) -> Kind:
    """The :class:`Kind` of a field annotation; :class:`SchemaError` for one records cannot mirror."""
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if annotation is Any:
        names.typing.add("Any")
        return Kind("plain", "Any")
    if annotation in (bool, int, float, str):
        return Kind("plain", annotation.__name__)
    if annotation is uuid.UUID:
        names.uses_uuid = True
        return Kind("uuid", "UUID")
    if annotation is dt.datetime:
        names.uses_datetime = True
        return Kind("datetime", "datetime")
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        names.add(names.enums, annotation.__name__, annotation)
        return Kind("enum", annotation.__name__)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        names.add(names.models, annotation.__name__, annotation)
        return Kind("record", annotation.__name__)
    if isinstance(annotation, typing.TypeVar):
        return Kind("item", annotation.__name__)
    if origin is typing.Annotated:
        extra = [m for m in annotation.__metadata__ if not isinstance(m, _VALIDATION_ONLY)]
        if extra:
            raise SchemaError(f"{where}: Annotated metadata {extra!r} may change the JSON form; records_gen "
                              f"drops only validators and constraints")
        return kind_of(args[0], names, where)
    if origin in (typing.Union, types.UnionType):
        others = [a for a in args if a is not type(None)]
        if len(others) != 1 or len(args) != 2:
            raise SchemaError(f"{where}: only `X | None` unions have a record form, not {annotation!r}")
        inner = kind_of(others[0], names, where)
        return Kind("optional", f"{inner.text} | None", (inner,))
    if origin is typing.Literal:
        if not all(isinstance(a, str | int | bool) for a in args):
            raise SchemaError(f"{where}: Literal values must be str, int or bool: {annotation!r}")
        names.typing.add("Literal")
        return Kind("plain", f"Literal[{', '.join(literal(a) for a in args)}]")
    if origin is list and len(args) == 1:
        inner = kind_of(args[0], names, where)
        return Kind("list", f"list[{inner.text}]", (inner,))
    if origin is dict and len(args) == 2:
        key, value = kind_of(args[0], names, where), kind_of(args[1], names, where)
        if key.text not in ("str", "UUID"):
            raise SchemaError(f"{where}: dict keys must be str or UUID (JSON object keys), not {args[0]!r}")
        return Kind("dict", f"dict[{key.text}, {value.text}]", (key, value))
    raise SchemaError(f"{where}: annotation {annotation!r} has no record form; teach records_gen.kind_of()")


def decode_expr(kind: Kind, name: str, depth: int = 1) -> str:
    """Python expression turning the JSON value ``name`` into the record value.

    ``name`` is evaluated once unless the kind is optional (then it must be a variable)."""
    if kind.plain:
        return name
    x, k = f"x{depth}", f"k{depth}"
    match kind.tag:
        case "uuid":
            return f"UUID({name})"
        case "datetime":
            return f"_datetime({name})"
        case "enum":
            return f"{kind.text}({name})"
        case "record":
            return f"{kind.text}.from_json({name})"
        case "item":
            return f"item({name})"
        case "optional":
            return f"None if {name} is None else {decode_expr(kind.args[0], name, depth)}"
        case "list":
            return f"[{decode_expr(kind.args[0], x, depth + 1)} for {x} in {name}]"
        case "dict":
            key, value = decode_expr(kind.args[0], k, depth + 1), decode_expr(kind.args[1], x, depth + 1)
            return f"{{{key}: {value} for {k}, {x} in {name}.items()}}"
    raise AssertionError(kind)


def encode_expr(kind: Kind, name: str, depth: int = 1) -> str:
    """Python expression turning the record value ``name`` into its JSON value (pydantic's form).

    ``name`` is evaluated once unless the kind is optional (then it must be a variable)."""
    if kind.plain:
        return name
    x, k = f"x{depth}", f"k{depth}"
    match kind.tag:
        case "uuid":
            return f"str({name})"
        case "datetime":
            return f"dump_datetime({name})"
        case "enum":
            return f"{name}.value"
        case "record":
            return f"{name}.to_json()"
        case "item":
            return f"dump_item({name})"
        case "optional":
            return f"None if {name} is None else {encode_expr(kind.args[0], name, depth)}"
        case "list":
            return f"[{encode_expr(kind.args[0], x, depth + 1)} for {x} in {name}]"
        case "dict":
            key, value = encode_expr(kind.args[0], k, depth + 1), encode_expr(kind.args[1], x, depth + 1)
            return f"{{{key}: {value} for {k}, {x} in {name}.items()}}"
    raise AssertionError(kind)


@dataclass(frozen=True)
class Field:
    """One schema field as the generated code needs it."""

    name: str
    kind: Kind
    required: bool
    default: Any = None  # the Python default (an enum member, a literal), when not required
    factory: str | None = None  # "{}" or "[]" for default_factory=dict/list
    shown: bool = True  # in repr (pydantic's Field(repr=False) hides secret values)

    @property
    def default_code(self) -> str:
        """The default as code in an ``__init__`` signature."""
        if self.factory is not None:
            return "None"
        if isinstance(self.default, enum.Enum):
            return f"{type(self.default).__name__}.{self.default.name}"
        return literal(self.default)

    @property
    def default_json(self) -> str:
        """The default as the JSON value ``from_json`` falls back on when the key is missing."""
        value = self.default.value if isinstance(self.default, enum.Enum) else self.default
        return literal(value)


def read_field(model: type[BaseModel], name: str, info: FieldInfo, names: Names) -> Field:
    where = f"{model.__module__}:{model.__name__}.{name}"
    if name in _RESERVED or name.startswith("_"):
        raise SchemaError(f"{where}: the field name {name!r} clashes with names the generated code uses")
    if info.alias or info.validation_alias or info.serialization_alias or info.exclude:
        raise SchemaError(f"{where}: aliases and excluded fields change the JSON form; records_gen knows neither")
    kind = kind_of(info.annotation, names, where)
    shown = info.repr is not False
    if info.is_required():
        return Field(name, kind, required=True, shown=shown)
    if info.default_factory is not None:
        factories = {dict: "{}", list: "[]"}
        if info.default_factory not in factories or kind.tag not in ("dict", "list"):
            raise SchemaError(f"{where}: only default_factory=dict or list (on a dict or list) has a record form")
        return Field(name, kind, required=False, factory=factories[info.default_factory], shown=shown)
    default = info.default
    if default is PydanticUndefined:
        raise SchemaError(f"{where}: neither required nor defaulted")
    if default is None and kind.tag != "optional":
        raise SchemaError(f"{where}: default None on a field that is not `X | None`")
    if not (default is None or isinstance(default, bool | int | float | str | enum.Enum)):
        raise SchemaError(f"{where}: default {default!r} has no literal form (use default_factory)")
    return Field(name, kind, required=False, default=default, shown=shown)


def check_methods(model: type[BaseModel]) -> None:
    """Every public method a schema class adds must come with the record (mixin) or be server-only."""
    mixin = MIXINS.get(model.__name__)
    extra = importlib.import_module("runyard.client.records_extra")
    for cls in model.__mro__:
        if not cls.__module__.startswith("runyard.schemas"):
            continue
        for name, value in vars(cls).items():
            if name.startswith("_") or name == "model_config" or name in SERVER_ONLY:
                continue
            if not (inspect.isfunction(value) or isinstance(value, classmethod | staticmethod | property)):
                continue
            if mixin is None or not hasattr(getattr(extra, mixin), name):
                raise SchemaError(f"{model.__module__}:{model.__name__} defines {name}(): give its record the same "
                                  f"behaviour in a records_extra mixin (records_gen.MIXINS) or list it in SERVER_ONLY")


def check_serialization(model: type[BaseModel]) -> None:
    decorators = model.__pydantic_decorators__
    if decorators.field_serializers or decorators.model_serializers:
        raise SchemaError(f"{model.__name__}: custom serializers change the JSON form; records_gen does not read them")
    if model.model_config.get("alias_generator") or model.model_config.get("use_enum_values"):
        raise SchemaError(f"{model.__name__}: alias_generator/use_enum_values change the JSON form")


def check_enum(cls: type[enum.Enum]) -> None:
    """A copied enum must be values only: methods and properties would be lost in the copy."""
    for name in vars(cls):
        if not name.startswith("_") and name not in cls.__members__:
            raise SchemaError(f"{cls.__module__}:{cls.__name__}.{name}: an enum copied into records holds values "
                              f"only; move it to a pydantic-free module (PYDANTIC_FREE) instead")


def wrap(prefix: str, items: list[str], suffix: str, indent: str, *, tuple_of_one: bool = False) -> list[str]:
    """``prefix + items + suffix`` on one line if it fits, else one item per line."""
    body = ", ".join(items) + ("," if tuple_of_one and len(items) == 1 else "")
    line = f"{indent}{prefix}{body}{suffix}"
    if len(line) <= LINE_LENGTH:
        return [line]
    return [f"{indent}{prefix}", *(f"{indent}    {item}," for item in items), f"{indent}{suffix}"]


def render_class(model: type[BaseModel], fields: list[Field]) -> list[str]:
    name = model.__name__
    generic = [f for f in fields if _has_item(f.kind)]
    bases = ["Record"] + ([MIXINS[name]] if name in MIXINS else []) + (["Generic[T]"] if generic else [])
    quoted = [f'"{f.name}"' for f in fields]
    lines = [f"class {name}({', '.join(bases)}):"]
    lines += wrap("_fields = (", quoted, ")", "    ", tuple_of_one=True)
    lines.append("    __slots__ = _fields")
    lines.append(f'    _schema = "{model.__module__}:{name}"')
    if not all(f.shown for f in fields):
        lines += wrap("_repr_fields = (", [f'"{f.name}"' for f in fields if f.shown], ")", "    ", tuple_of_one=True)
    lines.append("")
    lines += [f"    {f.name}: {f.kind.text}" for f in fields]

    # __init__: keyword-only, no validation (the service validates)
    params = []
    for f in fields:
        if f.required:
            params.append(f"{f.name}: {f.kind.text}")
        elif f.factory is not None:
            params.append(f"{f.name}: {f.kind.text} | None = None")
        else:
            params.append(f"{f.name}: {f.kind.text} = {f.default_code}")
    lines.append("")
    lines += wrap("def __init__(", ["self", "*", *params], ") -> None:", "    ")
    for f in fields:
        value = f.name if f.factory is None else f"{f.factory} if {f.name} is None else {f.name}"
        lines.append(f"        self.{f.name} = {value}")

    # from_json: straight-line conversions of one JSON-decoded answer
    lines.append("")
    lines.append("    @classmethod")
    if generic:
        lines.append("    def from_json(cls, data: dict[str, Any], item: Callable[[Any], T] = same) -> Self:")
    else:
        lines.append("    def from_json(cls, data: dict[str, Any]) -> Self:")
    lines.append("        obj = cls.__new__(cls)")
    if not all(f.required for f in fields):
        lines.append("        get = data.get")
    for f in fields:
        if f.required:
            fetch = f'data["{f.name}"]'
        elif f.factory is not None or f.default is None:
            fetch = f'get("{f.name}")'
        else:
            fetch = f'get("{f.name}", {f.default_json})'
        if f.factory is None and (f.kind.plain or f.kind.tag != "optional"):  # used once: no variable
            lines.append(f"        obj.{f.name} = {decode_expr(f.kind, fetch)}")
            continue
        lines.append(f"        v = {fetch}")
        if f.factory is None:
            lines.append(f"        obj.{f.name} = {decode_expr(f.kind, 'v')}")
            continue
        line = f"        obj.{f.name} = {f.factory} if v is None else {decode_expr(f.kind, 'v')}"
        if len(line) <= LINE_LENGTH:
            lines.append(line)
        else:
            lines += ["        if v is None:", f"            obj.{f.name} = {f.factory}", "        else:",
                      f"            obj.{f.name} = {decode_expr(f.kind, 'v')}"]
    lines.append("        return obj")

    # to_json: every field, in pydantic's JSON form
    lines.append("")
    lines.append("    def to_json(self) -> dict[str, Any]:")
    entries = []
    for f in fields:
        if f.kind.plain:
            entries.append(f'"{f.name}": self.{f.name}')
        elif f.kind.tag == "optional":
            lines.append(f"        f_{f.name} = self.{f.name}")
            entries.append(f'"{f.name}": {encode_expr(f.kind, "f_" + f.name)}')
        else:
            entries.append(f'"{f.name}": {encode_expr(f.kind, "self." + f.name)}')
    lines += wrap("return {", entries, "}", "        ")
    return lines


def _has_item(kind: Kind) -> bool:
    return kind.tag == "item" or any(_has_item(a) for a in kind.args)


def _walk(kind: Kind) -> Iterator[Kind]:
    yield kind
    for arg in kind.args:
        yield from _walk(arg)


HEADER = '''\
# Generated by `{command}` from the pydantic schemas in runyard.schemas: do not edit.
{noqa}"""Pydantic-free records of the workspace API's wire schemas, for the pipeline process.

A pipeline process talks to the local workspace service in JSON. Importing pydantic and building the
schema models would cost it most of a run's start-up, so it uses these plain slotted classes instead: the
same class names and fields as the schemas (``_schema`` names the model each one mirrors, ``_fields`` its
fields in order), ``from_json`` to read an answer, ``to_json`` to write a request, and :func:`decode` to
read an answer by its response spec (``"RunRead"``, ``"Page[RunRead]"``, ``"list[StackRead]"``).
Records do not validate: the service validates every request with the schemas themselves.
"""

from __future__ import annotations
'''

FOOTER = '''
#: Record class by name: every class :func:`decode` can name.
RECORDS: dict[str, type[Record]] = {{
{records}
}}

_DECODERS: dict[str, Callable[[Any], Any]] = {{}}


def decode(spec: str, data: Any) -> Any:
    """The records of a JSON-decoded answer whose response spec is ``spec`` (``None`` stays ``None``).

    ``spec`` is a record name, ``list[X]``, ``dict[str, X]``, ``Page[X]`` or ``Any``; its decoder is
    built once and cached. An unknown spec is a ``ValueError``.
    """
    if data is None:
        return None
    fn = _DECODERS.get(spec)
    if fn is None:
        fn = _DECODERS[spec] = decoder(spec, RECORDS)
    return fn(data)
'''


def render() -> str:
    """The text of ``runyard/client/records.py`` for the schemas as they are now."""
    names = Names()
    models = model_classes()
    classes: list[tuple[type[BaseModel], list[Field]]] = []
    for model in models:
        check_serialization(model)
        check_methods(model)
        classes.append((model, [read_field(model, n, i, names) for n, i in model.model_fields.items()]))
    known = {m.__name__ for m in models}
    missing = set(names.models) - known
    if missing:
        raise SchemaError(f"fields refer to models records_gen does not generate: {sorted(missing)} (abstract "
                          f"or private classes cannot be field types)")
    uses_item = any(_has_item(f.kind) for _, fields in classes for f in fields)
    copied = {n: e for n, e in names.enums.items() if e.__module__ not in PYDANTIC_FREE}
    imported = {n: e for n, e in names.enums.items() if e.__module__ in PYDANTIC_FREE}
    imported.setdefault("RunStatus", importlib.import_module("runyard.schemas.status").RunStatus)
    imported.setdefault("StepStatus", importlib.import_module("runyard.schemas.status").StepStatus)
    for e in copied.values():
        check_enum(e)
        if not issubclass(e, enum.StrEnum):
            raise SchemaError(f"{e.__name__}: only StrEnum enums are copied into records")

    # imports, sorted as ruff's isort wants them
    typing_names = set(names.typing) | {"Any", "Self"}
    if uses_item:
        typing_names |= {"Generic", "TypeVar"}
    stdlib = [("collections.abc", ["Callable"])]
    if names.uses_datetime:
        stdlib.append(("datetime", ["datetime"]))
    if copied:
        stdlib.append(("enum", ["StrEnum"]))
    stdlib.append(("typing", sorted(typing_names)))
    if names.uses_uuid:
        stdlib.append(("uuid", ["UUID"]))
    extra_names = ["Record", *sorted({MIXINS[m.__name__] for m, _ in classes if m.__name__ in MIXINS}), "decoder"]
    uses = {k.tag for _, fields in classes for f in fields for k in _walk(f.kind)}
    if "datetime" in uses:
        extra_names.append("dump_datetime")
    if uses_item:
        extra_names += ["dump_item", "same"]
    by_module: dict[str, list[str]] = {}
    for n, e in imported.items():
        by_module.setdefault(e.__module__, []).append(n)
    first_party = [("runyard.client.records_extra", extra_names)]
    first_party += [(mod, sorted(ns)) for mod, ns in sorted(by_module.items())]

    out: list[str] = []
    for group in (stdlib, first_party):
        for module, imports in group:
            line = f"from {module} import {', '.join(imports)}"
            out += [line] if len(line) <= LINE_LENGTH else wrap(f"from {module} import (", imports, ")", "")
        out.append("")
    base = importlib.import_module("runyard.schemas.base")
    for const in CONSTANTS:
        out.append(f"{const} = {literal(getattr(base, const))}")
    if uses_item:
        out.append("")
        out.append('T = TypeVar("T")')
    if names.uses_datetime:
        out.append("_datetime = datetime.fromisoformat")
    for n, e in copied.items():
        out += ["", "", f"class {n}(StrEnum):", f'    """Copy of {e.__module__}:{n} (that module imports pydantic)."""',
                ""]
        out += [f"    {m.name} = {literal(m.value)}" for m in e]
    current_module = None
    for model, fields in classes:
        out += ["", ""]
        if model.__module__ != current_module:
            current_module = model.__module__
            out.append(f"# --- {current_module}")
        out += render_class(model, fields)
    out.append("")
    public = [*CONSTANTS, "RECORDS", "Record", *sorted(imported), *sorted(copied), *(m.__name__ for m, _ in classes),
              "decode"]
    text = "\n".join(out) + "\n" + FOOTER.format(records="\n".join(f'    "{m.__name__}": {m.__name__},'
                                                                  for m, _ in classes))
    text += "\n\n" + "\n".join(wrap("__all__ = [", [f'"{n}"' for n in public], "]", "")) + "\n"
    long_lines = any(len(line) > LINE_LENGTH for line in text.splitlines())
    return HEADER.format(command=COMMAND, noqa="# ruff: noqa: E501\n" if long_lines else "") + "\n" + text


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog=COMMAND, description="Write runyard/client/records.py from the schemas.")
    parser.add_argument("--check", action="store_true", help="only report whether records.py is up to date")
    args = parser.parse_args(argv)
    text = render()
    current = TARGET.read_text() if TARGET.exists() else ""
    if args.check:
        if current != text:
            print(f"{TARGET} is out of date: run `{COMMAND}`", file=sys.stderr)
            return 1
        return 0
    if current != text:
        TARGET.write_text(text)
        print(f"wrote {TARGET}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
