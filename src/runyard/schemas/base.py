"""Shared pieces of the wire schemas: the strict base model and the keyset page."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any, Generic, Self, TypeVar
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from runyard.plugins import skip_pydantic_plugin_scan
from runyard.schemas.constants import DEFAULT_PAGE_SIZE as DEFAULT_PAGE_SIZE
from runyard.schemas.constants import DEFAULT_PROJECT as DEFAULT_PROJECT
from runyard.schemas.constants import MAX_PAGE_SIZE as MAX_PAGE_SIZE
from runyard.schemas.constants import PROJECT_PATTERN as PROJECT_PATTERN
from runyard.schemas.constants import SCHEMA_VERSION as SCHEMA_VERSION

skip_pydantic_plugin_scan()  # before the first model is built: see its docstring

T = TypeVar("T")

JSONDict = dict[str, Any]


class Schema(BaseModel):
    """Base of every request model: unknown fields are an error, not silently dropped."""

    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)


class ReadSchema(BaseModel):
    """Base of every response model; built straight from ORM rows."""

    model_config = ConfigDict(from_attributes=True, frozen=True, defer_build=True)

    @classmethod
    def trusted(cls, **values: Any) -> Self:
        """An instance from values the server read from its own database, every field given, not validated.

        What ``model_construct`` does for a complete set of values, in a quarter of its time (it also looks
        for defaults, aliases and extras): a page of 500 step runs builds 1,500 models. A missing or unknown
        field is a ``TypeError``; a test compares the result with a validated instance.
        """
        fields = cls.__pydantic_fields__  # what ``model_fields`` returns, without its property call
        try:  # in declaration order: the JSON answer lists the fields in the order of ``__dict__``
            ordered = {name: values[name] for name in fields}
        except KeyError:
            ordered = {}
        if len(ordered) != len(values):
            raise TypeError(f"{cls.__name__}.trusted() needs every field and no other: missing "
                            f"{sorted(set(fields) - set(values))}, unknown {sorted(set(values) - set(fields))}")
        obj = cls.__new__(cls)
        setattr_ = object.__setattr__  # the models are frozen
        setattr_(obj, "__dict__", ordered)
        setattr_(obj, "__pydantic_fields_set__", set(fields))
        setattr_(obj, "__pydantic_extra__", None)
        setattr_(obj, "__pydantic_private__", None)
        return obj

    @classmethod
    def trusted_many(cls, rows: Iterable[Sequence[Any]]) -> list[Self]:
        """Like :meth:`trusted`, for many instances given as value tuples in field declaration order.

        A run's step page builds 1,000 models: zipping each tuple with the field names once costs less than
        keyword arguments re-ordered per instance. A tuple of the wrong length is a ``TypeError``.
        """
        names = tuple(cls.__pydantic_fields__)
        n = len(names)
        new, setattr_, out = cls.__new__, object.__setattr__, []
        for row in rows:
            if len(row) != n:
                raise TypeError(f"{cls.__name__}.trusted_many() needs {n} values per row ({', '.join(names)}), "
                                f"got {len(row)}")
            obj = new(cls)
            setattr_(obj, "__dict__", dict(zip(names, row, strict=True)))
            setattr_(obj, "__pydantic_fields_set__", set(names))
            setattr_(obj, "__pydantic_extra__", None)
            setattr_(obj, "__pydantic_private__", None)
            out.append(obj)
        return out


class Entity(ReadSchema):
    id: UUID
    created: datetime


class PageRequest(Schema):
    """Keyset pagination: ``cursor`` is the opaque token of the last page's ``next_cursor``."""

    limit: int = Field(default=DEFAULT_PAGE_SIZE, ge=1, le=MAX_PAGE_SIZE)
    cursor: str | None = Field(default=None, max_length=200)


class Page(BaseModel, Generic[T]):

    model_config = ConfigDict(defer_build=True)  # built on first use: most processes never use it
    items: list[T]
    next_cursor: str | None = None
