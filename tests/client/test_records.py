"""The pydantic-free records (runyard.client.records) stay in step with the pydantic schemas.

Records are what the pipeline process sends and reads; the service validates with the schemas. So for
every schema: an answer the service writes (``model_dump_json``) decodes to a record holding the same
values, and a record's ``to_json`` is what the schema validates and would write itself.
"""

from __future__ import annotations

import datetime as dt
import enum
import json
import os
import subprocess
import sys
import types
import typing
import uuid
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

from runyard.client import records, records_gen
from runyard.client.records_extra import Record
from runyard.schemas.artifacts import ArtifactVersionRead
from runyard.schemas.base import Page
from runyard.schemas.runs import RunRead
from runyard.schemas.steps import RunStepRead, RunStepsPage

SRC = Path(records.__file__).resolve().parents[2]
MODELS = {m.__name__: m for m in records_gen.model_classes()}
CONCRETE = sorted(n for n in MODELS if n != "Page")  # Page is generic: tested as Page[RunRead]
UTC = dt.UTC
PLUS_TWO = dt.timezone(dt.timedelta(hours=2))


class Fabricator:
    """Sample values from annotations: every field set, each to a value other than its default.

    Strings are lowercase letters (they fit every name pattern of the schemas), numbers small and
    distinct, so two fields swapped by the generator cannot compare equal.
    """

    def __init__(self) -> None:
        self.n = 0

    def _next(self) -> int:
        self.n += 1
        return self.n

    def _word(self) -> str:
        n, word = self._next(), ""
        while n:
            n, r = divmod(n, 26)
            word += "abcdefghijklmnopqrstuvwxyz"[r]
        return "s" + word

    def model_values(self, model: type[BaseModel], *, required_only: bool = False) -> dict[str, Any]:
        return {
            name: self.value(info.annotation, name)
            for name, info in model.model_fields.items()
            if info.is_required() or not required_only
        }

    def instance(self, model: type[BaseModel]) -> BaseModel:
        return model.model_validate(self.model_values(model))

    def value(self, ann: Any, name: str = "") -> Any:
        origin, args = typing.get_origin(ann), typing.get_args(ann)
        if name == "level":  # LEVEL_PATTERN
            return "WARNING"
        if ann is Any:
            return {"k": [self._next(), self._word()], "flag": True}
        if ann is bool:
            return True
        if ann is int:
            return 1 + self._next()
        if ann is float:
            return self._next() + 0.5
        if ann is str:
            return self._word()
        if ann is uuid.UUID:
            return uuid.uuid4()
        if ann is dt.datetime:  # UTC ("Z" in JSON) and an offset, with and without microseconds
            n = self._next()
            return dt.datetime(2024, 5, 1, 12, n % 60, 30, 123456 * (n % 2), tzinfo=UTC if n % 2 else PLUS_TWO)
        if isinstance(ann, type) and issubclass(ann, enum.Enum):
            return list(ann)[-1]
        if isinstance(ann, type) and issubclass(ann, BaseModel):
            return self.instance(ann)
        if origin is typing.Annotated:
            return self.value(args[0], name)
        if origin in (typing.Union, types.UnionType):
            return self.value(next(a for a in args if a is not type(None)), name)
        if origin is typing.Literal:
            return args[-1]
        if origin is list:
            return [self.value(args[0]), self.value(args[0])]
        if origin is dict:
            return {self.value(args[0]): self.value(args[1]) for _ in range(2)}
        raise AssertionError(f"no sample for {ann!r}")


def assert_same(record_value: Any, model_value: Any, where: str = "") -> None:
    """A record value equals a pydantic value: records for models, same types for everything else."""
    if isinstance(model_value, BaseModel):
        assert isinstance(record_value, Record), where
        assert type(record_value).__name__ == type(model_value).__name__.split("[")[0], where
        for name in type(model_value).model_fields:
            assert_same(getattr(record_value, name), getattr(model_value, name), f"{where}.{name}")
    elif isinstance(model_value, dict):
        assert type(record_value) is dict and record_value.keys() == model_value.keys(), where
        for key, value in model_value.items():
            assert_same(record_value[key], value, f"{where}[{key!r}]")
    elif isinstance(model_value, list):
        assert type(record_value) is list and len(record_value) == len(model_value), where
        for i, (a, b) in enumerate(zip(record_value, model_value, strict=True)):
            assert_same(a, b, f"{where}[{i}]")
    elif isinstance(model_value, enum.Enum):  # copied enums (ResourceType) are another class, same name and values
        assert isinstance(record_value, enum.Enum) and type(record_value).__name__ == type(model_value).__name__, where
        assert record_value.value == model_value.value, where
    else:
        assert type(record_value) is type(model_value), f"{where}: {record_value!r} vs {model_value!r}"
        assert record_value == model_value, where
        if isinstance(model_value, dt.datetime):
            assert record_value.utcoffset() == model_value.utcoffset(), where


def as_record(value: Any) -> Any:
    """A pydantic value with its models turned into records (what the pipeline process would build)."""
    if isinstance(value, BaseModel):
        cls = records.RECORDS[type(value).__name__.split("[")[0]]
        return cls(**{name: as_record(getattr(value, name)) for name in type(value).model_fields})
    if isinstance(value, dict):
        return {k: as_record(v) for k, v in value.items()}
    if isinstance(value, list):
        return [as_record(v) for v in value]
    if isinstance(value, enum.Enum):
        return getattr(records, type(value).__name__)(value.value)
    return value


def test_committed_module_is_generated_from_the_schemas() -> None:
    assert Path(records.__file__).read_text() == records_gen.render(), (
        f"src/runyard/client/records.py is out of date with the schemas: run `{records_gen.COMMAND}`"
    )


def test_every_schema_model_has_a_record() -> None:
    import runyard.schemas as schemas
    from runyard.schemas import artifacts, base, logs, metadata, secrets

    expected = {n for n in schemas.__all__ if isinstance(getattr(schemas, n), type)
                and issubclass(getattr(schemas, n), BaseModel)}
    for module in (artifacts, base, logs, metadata, secrets):
        expected |= {n for n, v in vars(module).items() if isinstance(v, type) and issubclass(v, BaseModel)
                     and v.__module__ == module.__name__ and not n.startswith("_")}
    expected -= records_gen.ABSTRACT
    assert expected <= set(records.RECORDS)
    assert set(records.RECORDS) == set(MODELS)
    for name, cls in records.RECORDS.items():
        module_name, _, attr = cls._schema.partition(":")
        assert getattr(sys.modules[module_name], attr) is MODELS[name]
        assert cls._fields == tuple(MODELS[name].model_fields), name
        assert cls.__slots__ == cls._fields and cls.__dictoffset__ == 0  # slotted: no per-instance dict


def test_constants_and_enums_are_the_schemas() -> None:
    from runyard.schemas import base, metadata, status

    for name in records_gen.CONSTANTS:
        assert getattr(records, name) == getattr(base, name)
    assert records.RunStatus is status.RunStatus and records.StepStatus is status.StepStatus
    assert [(m.name, m.value) for m in records.ResourceType] == [(m.name, m.value) for m in metadata.ResourceType]


@pytest.mark.parametrize("name", CONCRETE)
def test_an_answer_decodes_to_the_same_values(name: str) -> None:
    model = MODELS[name]
    instance = Fabricator().instance(model)
    data = json.loads(instance.model_dump_json())
    record = records.decode(name, data)
    assert type(record) is records.RECORDS[name]
    assert_same(record, instance, name)
    assert record.to_json() == data  # and writes back exactly what pydantic wrote


@pytest.mark.parametrize("name", CONCRETE)
def test_a_record_sends_what_the_schema_reads(name: str) -> None:
    model = MODELS[name]
    instance = Fabricator().instance(model)
    record = as_record(instance)
    sent = record.to_json()
    json.dumps(sent)  # JSON-able as it is
    validated = model.model_validate(sent)
    assert validated == instance
    assert validated.model_dump(mode="json") == sent


@pytest.mark.parametrize("name", CONCRETE)
def test_defaults_are_the_schemas(name: str) -> None:
    model, cls = MODELS[name], records.RECORDS[name]
    required = Fabricator().model_values(model, required_only=True)
    instance = model.model_validate(required)
    record = cls(**{k: as_record(v) for k, v in required.items()})
    assert record.to_json() == instance.model_dump(mode="json")
    # an answer leaving the defaulted fields out decodes to the defaults too
    minimal = {k: v for k, v in json.loads(instance.model_dump_json()).items() if k in required}
    assert cls.from_json(minimal) == record
    # a default_factory gives each record its own container
    other = cls(**{k: as_record(v) for k, v in required.items()})
    for field in cls._fields:
        if isinstance(getattr(record, field), dict | list) and field not in required:
            assert getattr(record, field) is not getattr(other, field)


def test_pages_decode_with_their_item_spec() -> None:
    fab = Fabricator()
    page = Page[RunRead](items=[RunRead.model_validate(fab.model_values(RunRead)) for _ in range(3)], next_cursor="c1")
    data = json.loads(page.model_dump_json())
    decoded = records.decode("Page[RunRead]", data)
    assert isinstance(decoded, records.Page)
    assert_same(decoded, page)
    assert decoded.to_json() == data
    assert records.decode("Page[ RunRead ]", data) == decoded
    empty = records.decode("Page[StackRead]", {"items": [], "next_cursor": None})
    assert empty.items == [] and empty.next_cursor is None
    # a page of plain values keeps them as they are
    assert records.decode("Page[Any]", {"items": [1, "a"], "next_cursor": None}).items == [1, "a"]


def test_list_and_dict_specs_and_none() -> None:
    fab = Fabricator()
    stacks = [fab.instance(MODELS["StackRead"]) for _ in range(2)]
    data = [json.loads(s.model_dump_json()) for s in stacks]
    assert_same(records.decode("list[StackRead]", data), stacks)
    assert_same(records.decode("dict[str, StackRead]", {"a": data[0]}), {"a": stacks[0]})
    assert records.decode("RunRead", None) is None
    assert records.decode("Any", {"x": 1}) == {"x": 1}
    with pytest.raises(ValueError, match="no record answers 'Nope' "):
        records.decode("Nope", {})
    with pytest.raises(ValueError, match="answers 'list\\[Nope\\]' \\('Nope' is unknown\\)"):
        records.decode("list[Nope]", [])


def test_step_runs_of_a_steps_page_match_pydantic() -> None:
    fab = Fabricator()
    versions = {}
    for _ in range(3):
        version = ArtifactVersionRead.model_validate(fab.model_values(ArtifactVersionRead))
        versions[version.id] = version
    ids = list(versions)
    items = [
        RunStepRead.model_validate({**fab.model_values(RunStepRead), "inputs": {}, "outputs": {"out": ids[0]}}),
        RunStepRead.model_validate({**fab.model_values(RunStepRead), "inputs": {"x": ids[0]},
                                    "outputs": {"a": ids[1], "b": ids[2]}}),
    ]
    page = RunStepsPage(items=items, artifact_versions=versions, next_cursor=None)
    decoded = records.decode("RunStepsPage", json.loads(page.model_dump_json()))
    runs = decoded.step_runs()
    assert all(type(r) is records.StepRunRead for r in runs)
    assert_same(runs, page.step_runs())
    assert runs[1].outputs["b"] is decoded.artifact_versions[ids[2]]  # inline, not copied


def test_equality_repr_and_hash() -> None:
    fab = Fabricator()
    instance = fab.instance(MODELS["SecretValuesRead"])
    data = json.loads(instance.model_dump_json())
    a, b = records.decode("SecretValuesRead", data), records.decode("SecretValuesRead", data)
    assert a == b and a is not b
    assert a != records.decode("SecretValuesRead", {**data, "name": "other"})
    assert a != records.SecretRead.from_json(data)  # another class, same shared fields
    text = repr(a)
    assert text.startswith("SecretValuesRead(id=UUID(") and f"name={a.name!r}" in text
    secret = next(iter(a.values.values()))
    assert "values=" not in text and secret not in text  # hidden like the schema's Field(repr=False)
    assert "values=" not in repr(records.SecretCreate(name="n", values={"k": "hidden-value"}))
    assert "hidden-value" not in repr(records.SecretCreate(name="n", values={"k": "hidden-value"}))
    with pytest.raises(TypeError):
        hash(a)


def test_records_are_keyword_only_and_need_the_required_fields() -> None:
    with pytest.raises(TypeError):
        records.RunCreate(uuid.uuid4())  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="snapshot_id"):
        records.RunCreate()  # type: ignore[call-arg]
    run = records.RunCreate(snapshot_id=uuid.uuid4())
    assert run.status is records.RunStatus.INITIALIZING and run.tags == [] and run.parameters == {}
    with pytest.raises(AttributeError):
        run.not_a_field = 1  # type: ignore[attr-defined]  # slots: no stray attributes


def test_generator_refuses_annotations_it_does_not_know() -> None:
    names = records_gen.Names()
    with pytest.raises(records_gen.SchemaError, match="set\\[str\\]"):
        records_gen.kind_of(set[str], names, "X.f")
    with pytest.raises(records_gen.SchemaError, match="only `X \\| None` unions"):
        records_gen.kind_of(int | str, names, "X.f")
    with pytest.raises(records_gen.SchemaError, match="dict keys"):
        records_gen.kind_of(dict[int, str], names, "X.f")
    assert records_gen.kind_of(dict[str, list[uuid.UUID | None]], names, "X.f").text == "dict[str, list[UUID | None]]"


def test_generator_refuses_models_it_cannot_mirror() -> None:
    from pydantic import Field, field_serializer

    class Aliased(BaseModel):
        x: int = Field(alias="y")

    class Serialized(BaseModel):
        x: int

        @field_serializer("x")
        def _x(self, value: int) -> str:
            return str(value)

    class WithMethod(BaseModel):
        x: int

        def double(self) -> int:
            return 2 * self.x

    WithMethod.__module__ = "runyard.schemas.fake"
    with pytest.raises(records_gen.SchemaError, match="alias"):
        records_gen.read_field(Aliased, "x", Aliased.model_fields["x"], records_gen.Names())
    with pytest.raises(records_gen.SchemaError, match="serializers"):
        records_gen.check_serialization(Serialized)
    with pytest.raises(records_gen.SchemaError, match="double"):
        records_gen.check_methods(WithMethod)


def test_import_is_pydantic_free() -> None:
    code = (
        "import sys, runyard.client.records as r\n"
        "assert r.decode('RunRead', None) is None\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('pydantic', 'pydantic_core')))\n"
    )
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
