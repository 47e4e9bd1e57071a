"""Rebuilds a model from the state tree of :mod:`runyard.artifacts.builtin.sklearn_state`, calling only
allow-listed code (the list of what may be called is in that module's docstring).

Every name in the tree is checked against the :class:`TrustPolicy` before anything is imported, so a
refused file is reported whole (all untrusted names at once) and nothing of it runs. A malformed tree
(an unknown tag, a reference to an object not built yet, a bad array index) raises :class:`Damaged`.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from runyard.artifacts.builtin.sklearn_state import (
    _BIT_GENERATORS,
    _HEAPTYPE,
    _SPARSE_PARTS,
    Damaged,
    npy_array,
    read_npy,
)
from runyard.artifacts.builtin.sklearn_trust import (
    TrustPolicy,
    dotted,
    resolve_class,
    resolve_function,
    resolve_type,
)

_SPARSE_CLASSES = frozenset(f"{fmt}_{kind}" for fmt in ("csr", "csc", "coo", "bsr", "dia", "lil", "dok")
                            for kind in ("matrix", "array"))
_FLOATS = {"nan": float("nan"), "inf": float("inf"), "-inf": float("-inf")}


def referenced_names(root: Any) -> Iterator[tuple[str, str]]:
    """(kind, name) for every class, type and function the tree names; walks without recursion."""
    stack = [root]
    while stack:
        node = stack.pop()
        if isinstance(node, list):
            stack.extend(node)
        elif isinstance(node, dict):
            tag = node.get("$")
            if tag == "obj":
                yield "class", str(node.get("cls"))
            elif tag == "type":
                yield "type", str(node.get("name"))
            elif tag == "func":
                yield "function", str(node.get("name"))
            stack.extend(v for k, v in node.items() if k not in ("$", "cls", "name"))


def refused_names(root: Any, policy: TrustPolicy) -> list[str]:
    """Dotted names the policy does not allow, sorted; empty when the model may be loaded."""
    checks = {"class": policy.allows_class, "type": policy.allows_type, "function": policy.allows_function}
    return sorted({dotted(name) for kind, name in referenced_names(root) if not checks[kind](name)})


class Restorer:
    """Turns one (already vetted) tree back into objects; ``arrays`` are the ``.npy`` entries in order."""

    def __init__(self, arrays: Sequence[np.ndarray | bytearray], policy: TrustPolicy) -> None:
        self.arrays = arrays
        self.policy = policy
        self.memo: dict[int, Any] = {}

    def node(self, n: Any) -> Any:
        kind = type(n)
        if n is None or kind is bool or kind is int or kind is float or kind is str:
            return n
        if kind is list:
            return self._list(n)
        if kind is not dict:
            raise Damaged(f"unexpected node of type {kind.__name__}")
        handler = _HANDLERS.get(n.get("$"))
        if handler is None:
            raise Damaged(f"unknown node {n.get('$')!r}")
        value = handler(self, n)
        if "id" in n and n["id"] not in self.memo:
            self.memo[n["id"]] = value
        return value

    def _remember(self, n: dict[str, Any], value: Any) -> None:
        if "id" in n:
            self.memo[n["id"]] = value

    def _list(self, n: list[Any]) -> list[Any]:
        out: list[Any] = []
        items = n
        if n and isinstance(n[0], dict) and set(n[0]) == {"$id"}:
            self.memo[n[0]["$id"]] = out
            items = n[1:]
        for item in items:
            out.append(self.node(item))
        return out

    def _ref(self, n: dict[str, Any]) -> Any:
        try:
            return self.memo[n["id"]]
        except (KeyError, TypeError):
            raise Damaged("a reference to an object that is not built yet") from None

    def _dict(self, n: dict[str, Any]) -> dict[Any, Any]:
        out: dict[Any, Any] = {}
        self._remember(n, out)
        if "s" in n:
            for key, value in _mapping(n["s"]).items():
                out[key] = self.node(value)
        else:
            for pair in _seq(n.get("v")):
                key, value = _pair(pair)
                out[self.node(key)] = self.node(value)
        return out

    def _set(self, n: dict[str, Any]) -> Any:
        items = [self.node(v) for v in _seq(n.get("v"))]
        return set(items) if n["$"] == "set" else frozenset(items)

    # --- numpy -----------------------------------------------------------------------------------------
    def _array(self, n: dict[str, Any]) -> np.ndarray:
        index = n.get("i")
        if type(index) is not int or not 0 <= index < len(self.arrays):
            raise Damaged(f"array index {index!r} out of range")
        entry = self.arrays[index]
        if isinstance(entry, np.ndarray):  # arrays handed over in memory (no files)
            return entry
        try:
            if "shape" not in n:
                return read_npy(entry)
            dtype = self._dtype({"descr": n.get("dtype")})
            return npy_array(entry, dtype, tuple(_ints(n["shape"])), n.get("fortran") is True)
        except ValueError as exc:
            raise Damaged(f"array {index}: {exc}") from exc

    def _objarray(self, n: dict[str, Any]) -> np.ndarray:
        shape = tuple(_ints(n.get("shape")))
        out = np.empty(shape, dtype=object)
        self._remember(n, out)
        items = _seq(n.get("v"))
        flat = out.reshape(-1)  # a view: the array is new and contiguous
        if len(items) != flat.size:
            raise Damaged("object array with the wrong number of items")
        for i, item in enumerate(items):
            flat[i] = self.node(item)  # an integer index stores lists and tuples as they are
        return out

    def _masked(self, n: dict[str, Any]) -> np.ma.MaskedArray[Any, Any]:
        data, mask = self.node(n.get("data")), self.node(n.get("mask"))
        if not isinstance(data, np.ndarray) or not isinstance(mask, np.ndarray) or mask.shape != data.shape:
            raise Damaged("bad masked array")
        return np.ma.MaskedArray(data, mask=mask, fill_value=self.node(n.get("fill_value")))

    def _dtype(self, n: dict[str, Any]) -> np.dtype[Any]:
        descr = self.node(n.get("descr"))
        try:
            return np.lib.format.descr_to_dtype(descr)
        except (TypeError, ValueError) as exc:
            raise Damaged(f"bad dtype {descr!r}") from exc

    def _scalar(self, n: dict[str, Any]) -> Any:
        dtype = self._dtype({"descr": n.get("dtype")})
        raw = bytes.fromhex(str(n.get("hex")))
        if dtype.hasobject or len(raw) != dtype.itemsize:
            raise Damaged(f"bad numpy scalar of dtype {dtype}")
        return np.frombuffer(raw, dtype=dtype, count=1)[0]

    def _random(self, n: dict[str, Any]) -> Any:
        name = n.get("bitgen")
        if name not in _BIT_GENERATORS:
            raise Damaged(f"unknown bit generator {name!r}")
        bitgen = getattr(np.random, str(name))()
        state = self.node(n.get("state"))
        if not isinstance(state, dict):
            raise Damaged("random state is not a dict")
        bitgen.state = state
        return np.random.RandomState(bitgen) if n["$"] == "random_state" else np.random.Generator(bitgen)

    def _ufunc(self, n: dict[str, Any]) -> np.ufunc:
        found = getattr(np, str(n.get("name")), None)
        if not isinstance(found, np.ufunc):
            raise Damaged(f"numpy has no ufunc {n.get('name')!r}")
        return found

    def _sparse(self, n: dict[str, Any]) -> Any:
        import scipy.sparse as sp

        public, fmt = n.get("cls"), n.get("format")
        if public not in _SPARSE_CLASSES or fmt not in _SPARSE_PARTS:
            raise Damaged(f"unknown sparse matrix {public!r} ({fmt!r})")
        parts = {k: self.node(v) for k, v in _mapping(n.get("parts")).items()}
        if set(parts) != set(_SPARSE_PARTS[fmt]) or not all(isinstance(p, np.ndarray) for p in parts.values()):
            raise Damaged(f"bad parts for a {fmt} matrix")
        shape = tuple(_ints(n.get("shape")))
        built_cls = getattr(sp, f"{fmt}_{str(public).rsplit('_', 1)[1]}")
        if fmt == "coo":
            built = built_cls((parts["data"], (parts["row"], parts["col"])), shape=shape)
        elif fmt == "dia":
            built = built_cls((parts["data"], parts["offsets"]), shape=shape)
        else:
            built = built_cls((parts["data"], parts["indices"], parts["indptr"]), shape=shape)
        target = getattr(sp, str(public))
        return built if target is built_cls else target(built)

    # --- names -----------------------------------------------------------------------------------------
    def _type(self, n: dict[str, Any]) -> type:
        name = str(n.get("name"))
        self._check(self.policy.allows_type(name), name)
        return resolve_type(name)

    def _func(self, n: dict[str, Any]) -> Any:
        name = str(n.get("name"))
        self._check(self.policy.allows_function(name), name)
        return resolve_function(name)

    def _check(self, allowed: bool, name: str) -> None:
        if not allowed:  # refused_names() ran first; this guards a caller that skipped it
            raise Damaged(f"{dotted(name)} is not trusted")

    def _object(self, n: dict[str, Any]) -> Any:
        name = str(n.get("cls"))
        self._check(self.policy.allows_class(name), name)
        cls: Any = resolve_class(name)
        if "new" in n:
            inst = cls.__new__(cls, *[self.node(a) for a in _seq(n["new"])])
        elif "call" in n:
            if cls.__flags__ & _HEAPTYPE:
                raise Damaged(f"{dotted(name)} may only be rebuilt with __new__")
            inst = cls(*[self.node(a) for a in _seq(n["call"])])
        elif "pyx" in n:
            rebuild = getattr(sys.modules[cls.__module__], f"__pyx_unpickle_{cls.__name__}", None)
            if rebuild is None or getattr(rebuild, "__module__", None) != cls.__module__:
                raise Damaged(f"{dotted(name)} has no Cython unpickle helper")
            inst = rebuild(cls, *[self.node(a) for a in _seq(n["pyx"])])
        else:
            raise Damaged(f"no way to build {dotted(name)}")
        if type(inst) is not cls:
            raise Damaged(f"building {dotted(name)} gave a {type(inst).__name__}")
        self._remember(n, inst)
        if "state" in n:
            _set_state(inst, self.node(n["state"]))
        for item in _seq(n.get("items", [])):
            inst.append(self.node(item))
        for pair in _seq(n.get("dictitems", [])):
            key, value = _pair(pair)
            inst[self.node(key)] = self.node(value)
        return inst


def _set_state(inst: Any, state: Any) -> None:
    """What pickle's BUILD does: the class's ``__setstate__``, else ``__dict__`` and slot assignment."""
    setstate = getattr(type(inst), "__setstate__", None)
    if setstate is not None and setstate is not getattr(object, "__setstate__", None):
        inst.__setstate__(state)
        return
    slots = None
    if isinstance(state, tuple) and len(state) == 2:
        state, slots = state
    if state:
        state = _mapping(state)
        if not all(type(k) is str for k in state):
            raise Damaged("instance attributes must have string names")
        inst.__dict__.update(state)
    if slots:
        for key, value in _mapping(slots).items():
            setattr(inst, key, value)


def _seq(value: Any) -> list[Any]:
    if not isinstance(value, list):
        raise Damaged("expected a list")
    return value


def _mapping(value: Any) -> dict[Any, Any]:
    if not isinstance(value, dict):
        raise Damaged("expected an object")
    return value


def _pair(value: Any) -> tuple[Any, Any]:
    items = _seq(value)
    if len(items) != 2:
        raise Damaged("expected a key/value pair")
    return items[0], items[1]


def _ints(value: Any) -> list[int]:
    items = _seq(value)
    if not all(type(i) is int and i >= 0 for i in items):
        raise Damaged("expected non-negative integers")
    return items


def _float(self: Restorer, n: dict[str, Any]) -> float:
    try:
        return _FLOATS[n["v"]]
    except (KeyError, TypeError):
        raise Damaged(f"bad float {n.get('v')!r}") from None


def _tuple(self: Restorer, n: dict[str, Any]) -> tuple[Any, ...]:
    return tuple(self.node(v) for v in _seq(n.get("v")))


def _bytes(self: Restorer, n: dict[str, Any]) -> bytes:
    return bytes.fromhex(str(n.get("hex")))


def _complex(self: Restorer, n: dict[str, Any]) -> complex:
    real, imag = _pair(n.get("v"))
    return complex(float(self.node(real)), float(self.node(imag)))


def _slice(self: Restorer, n: dict[str, Any]) -> slice:
    parts = [self.node(v) for v in _seq(n.get("v"))]
    if len(parts) != 3 or not all(p is None or type(p) is int for p in parts):
        raise Damaged("bad slice")
    return slice(*parts)


_HANDLERS: dict[str, Any] = {
    "float": _float, "tuple": _tuple, "bytes": _bytes, "complex": _complex, "slice": _slice,
    "ref": Restorer._ref, "dict": Restorer._dict, "set": Restorer._set, "frozenset": Restorer._set,
    "array": Restorer._array, "objarray": Restorer._objarray, "masked": Restorer._masked, "dtype": Restorer._dtype,
    "scalar": Restorer._scalar, "random_state": Restorer._random, "generator": Restorer._random,
    "ufunc": Restorer._ufunc, "sparse": Restorer._sparse, "type": Restorer._type, "func": Restorer._func,
    "obj": Restorer._object,
}
