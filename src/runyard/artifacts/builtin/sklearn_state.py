"""Runyard's own file format for scikit-learn models: the estimator's state tree as JSON, arrays as ``.npy``.

Why not pickle: unpickling calls whatever callables the stream names. Why not skops: importing
``skops.io`` costs ~0.4-0.5 s (it imports most of scikit-learn to list its default trusted types), more
than a small training step. This format needs nothing beyond numpy and the model's own classes.

**Writing** walks the object the way pickle would (``__reduce_ex__(4)``: class, constructor arguments,
``__getstate__`` state) and writes ``estimator.json``, a tree of tagged JSON nodes, plus ``arrays.npz``,
an uncompressed zip of ``<n>.npy`` files (numeric and structured arrays, written without pickle; object
arrays, such as the string categories of a ``OneHotEncoder``, are stored element by element in the tree;
each array's node repeats its dtype and shape, so loading reads the ``.npy`` data without parsing headers).
Shared objects are stored once and referenced (``{"$": "ref"}``), so identity survives the round trip.

**Loading** (:mod:`runyard.artifacts.builtin.sklearn_restore`) first lists every name the tree refers to
and refuses the file, naming each untrusted name and how to trust it, before importing or building
anything (the allow-list is :mod:`runyard.artifacts.builtin.sklearn_trust`). It then calls only:

- for an allowed class ``C``: ``C.__new__(C)`` (pickle's default for Python classes; ``KDTree``'s
  ``newObj(C)`` helper is read as that too), or ``C(*args)`` only when ``C`` is an extension type whose own
  ``__reduce__`` names ``C`` (``Tree(n_features, n_classes, n_outputs)``), or Cython's generated
  ``__pyx_unpickle_C`` of ``C``'s module with ``C`` itself (it checks a layout checksum and assigns typed
  fields); then ``C.__setstate__(state)`` or a ``__dict__`` update,
  and ``append``/``__setitem__`` for list and dict subclasses;
- numpy's ``.npy`` reader with ``allow_pickle=False``, ``np.dtype`` from a descriptor, ``np.frombuffer``
  for scalars, ``np.ma.MaskedArray(data, mask=..., fill_value=...)``, and ``RandomState``/``Generator``
  with their documented ``state`` setters;
- the scipy.sparse matrix constructors, from arrays.

Every value a rebuilt object ends up holding is therefore data, or a class/function that passed the
allow-list (a function is stored by name and never called while loading, but the model may call it
later, so functions must be allowed too). Values the format cannot express (lambdas, local classes,
objects whose ``__reduce__`` names another callable) make :class:`Unsupported` raise while writing, and
the materializer falls back to pickle, with a warning.

What this does not promise (nor do skops or pickle): that the allowed classes check the state they are
given. A crafted file naming only allowed classes can still hold a model that predicts nonsense, or state
a Cython class accepts and later misuses (scikit-learn's ``__setstate__`` methods check shapes and dtypes
of what they hold, but not every invariant). It cannot make the loader run code of the attacker's choosing.
"""

from __future__ import annotations

import copyreg
import io
import math
import platform
import types
import zipfile
from typing import Any, cast

import numpy as np

from runyard.artifacts.builtin.sklearn_trust import is_default_trusted

FORMAT = 1
DOC_FILE = "estimator.json"
ARRAYS_FILE = "arrays.npz"
#: Zip entries get a fixed time stamp, so the same model gives the same bytes (and content hash).
_ZIP_TIME = (1980, 1, 1, 0, 0, 0)
_SPARSE_PARTS = {"csr": ("data", "indices", "indptr"), "csc": ("data", "indices", "indptr"),
                 "bsr": ("data", "indices", "indptr"), "coo": ("data", "row", "col"), "dia": ("data", "offsets")}
_BIT_GENERATORS = ("MT19937", "PCG64", "PCG64DXSM", "Philox", "SFC64")


class Unsupported(Exception):
    """The value holds something this format cannot express; the caller falls back to pickle."""


class Damaged(ValueError):
    """A model file does not follow the format (edited by hand, truncated, or not written by Runyard)."""


def library_versions() -> dict[str, str]:
    """Versions that decide whether a stored model loads and behaves the same; recorded with the model."""
    import sys

    import sklearn

    versions = {"python": platform.python_version(), "sklearn": sklearn.__version__, "numpy": np.__version__}
    scipy = sys.modules.get("scipy")  # sklearn imports it; never import it just to read a version
    if scipy is not None:
        versions["scipy"] = scipy.__version__
    return versions


def qualified(obj: Any) -> str:
    return f"{obj.__module__}:{obj.__qualname__}"


class Encoder:
    """One model -> (JSON tree, arrays); ``untrusted`` lists names loading will refuse without a setting."""

    def __init__(self) -> None:
        self.arrays: list[np.ndarray] = []
        self.untrusted: set[str] = set()
        self._memo: dict[int, tuple[Any, Any]] = {}  # id(obj) -> (node, obj); obj kept alive
        #: Reference ids: numbered in order of first back-reference, never ``id()`` (an address differs
        #: between processes, and the same model must give the same bytes and content hash everywhere).
        self._ref_ids: dict[int, int] = {}
        self._busy: set[int] = set()  # tuples being encoded (a cycle through one cannot be rebuilt)

    def document(self, obj: Any) -> dict[str, Any]:
        return {"format": FORMAT, "versions": library_versions(), "root": self.node(obj)}

    # --- dispatch --------------------------------------------------------------------------------------
    def node(self, obj: Any) -> Any:
        kind = type(obj)
        if obj is None or kind is bool or kind is int or kind is str:
            return obj
        if kind is float:
            return obj if math.isfinite(obj) else {"$": "float", "v": repr(obj)}
        if kind in _SIMPLE:
            return _SIMPLE[kind](self, obj)
        key = id(obj)
        seen = self._memo.get(key)
        if seen is not None:
            return self._ref(seen[0], key)
        if key in self._busy:
            raise Unsupported(f"a tuple that contains itself ({kind.__name__})")
        if kind is tuple:
            self._busy.add(key)
            built: Any = {"$": "tuple", "v": [self.node(v) for v in obj]}
            self._busy.discard(key)
            self._memo[key] = (built, obj)
            return built
        return self._memoized(obj, kind, key)

    def _ref(self, node: Any, key: int) -> dict[str, Any]:
        """A back-reference; the first occurrence gets its id now (lists carry it as a ``{"$id"}`` head)."""
        ref = self._ref_ids.get(key)
        if ref is None:
            ref = self._ref_ids[key] = len(self._ref_ids) + 1
            if isinstance(node, list):
                node.insert(0, {"$id": ref})
            else:
                node["id"] = ref
        return {"$": "ref", "id": ref}

    def _memoized(self, obj: Any, kind: type, key: int) -> Any:
        node: Any
        if kind is list:
            node = []
            self._memo[key] = (node, obj)
            for v in obj:  # one by one: a cycle back to this list may insert its id at the head
                node.append(self.node(v))
            return node
        if kind is dict:
            node = {"$": "dict"}
            self._memo[key] = (node, obj)
            node.update(self._dict_items(obj))
            return node
        if kind is set or kind is frozenset:
            node = {"$": kind.__name__}
            self._memo[key] = (node, obj)
            node["v"] = sorted((self.node(v) for v in obj), key=_sort_key)
            return node
        node = {}
        self._memo[key] = (node, obj)
        node.update(self._value(obj, kind))
        return node

    def _dict_items(self, obj: dict[Any, Any]) -> dict[str, Any]:
        if all(type(k) is str for k in obj):
            return {"s": {k: self.node(v) for k, v in obj.items()}}
        return {"v": [[self.node(k), self.node(v)] for k, v in obj.items()]}

    def _value(self, obj: Any, kind: type) -> dict[str, Any]:
        if kind is np.ndarray or kind is np.memmap:
            return self._array(obj)
        if kind is np.ma.MaskedArray:  # GridSearchCV's cv_results_ parameter columns
            return {"$": "masked", "data": self.node(np.asarray(obj.data)),
                    "mask": self.node(np.ma.getmaskarray(obj)), "fill_value": self.node(obj.fill_value)}
        if isinstance(obj, np.dtype):
            return {"$": "dtype", "descr": self.node(np.lib.format.dtype_to_descr(obj))}
        if isinstance(obj, np.generic):
            return self._scalar(obj)
        if isinstance(obj, type):
            return {"$": "type", "name": self._name(obj, "type")}
        if isinstance(obj, np.ufunc):
            ufunc_name = str(obj.__name__)
            if getattr(np, ufunc_name, None) is not obj:
                raise Unsupported(f"the ufunc {ufunc_name}, which is not numpy's own")
            return {"$": "ufunc", "name": ufunc_name}
        if isinstance(obj, types.FunctionType | types.BuiltinFunctionType):
            return {"$": "func", "name": self._name(obj, "function")}
        if isinstance(obj, np.random.RandomState | np.random.Generator):
            return self._random(obj)
        if kind.__module__.startswith("scipy.sparse"):
            return self._sparse(obj)
        return self._object(obj, kind)

    # --- numpy -----------------------------------------------------------------------------------------
    def _array(self, arr: np.ndarray) -> dict[str, Any]:
        if arr.dtype.hasobject:
            if arr.dtype != np.dtype(object):
                raise Unsupported(f"a structured array with object fields ({arr.dtype})")
            flat = [self.node(v) for v in arr.reshape(-1, order="C")]
            return {"$": "objarray", "shape": list(arr.shape), "v": flat}
        arr = np.asarray(arr)
        self.arrays.append(arr)
        # The .npy header again, so loading need not parse it (numpy's parser costs ~0.2 ms per array: a
        # 100-tree forest holds 400); F-contiguous arrays are written in Fortran order, as np.save does.
        fortran = bool(arr.flags.f_contiguous and not arr.flags.c_contiguous)
        return {"$": "array", "i": len(self.arrays) - 1, "dtype": self.node(np.lib.format.dtype_to_descr(arr.dtype)),
                "shape": list(arr.shape), "fortran": fortran}

    def _scalar(self, value: np.generic) -> dict[str, Any]:
        if value.dtype.hasobject:
            raise Unsupported("a numpy object scalar")
        descr = self.node(np.lib.format.dtype_to_descr(value.dtype))
        return {"$": "scalar", "dtype": descr, "hex": value.tobytes().hex()}

    def _random(self, rng: Any) -> dict[str, Any]:
        bitgen = rng._bit_generator if isinstance(rng, np.random.RandomState) else rng.bit_generator
        name = type(bitgen).__name__
        if name not in _BIT_GENERATORS or getattr(np.random, name) is not type(bitgen):
            raise Unsupported(f"a random generator on {type(bitgen).__name__}")
        tag = "random_state" if isinstance(rng, np.random.RandomState) else "generator"
        return {"$": tag, "bitgen": name, "state": self.node(bitgen.state)}

    # --- scipy.sparse ----------------------------------------------------------------------------------
    def _sparse(self, matrix: Any) -> dict[str, Any]:
        import scipy.sparse as sp

        fmt = getattr(matrix, "format", None)
        public = type(matrix).__name__
        if not sp.issparse(matrix) or getattr(sp, public, None) is not type(matrix):
            raise Unsupported(f"the scipy object {qualified(type(matrix))}")
        stored = matrix if fmt in _SPARSE_PARTS else matrix.tocsr()
        if fmt == "coo":
            parts = {"data": stored.data, "row": stored.row, "col": stored.col}
        else:
            parts = {p: getattr(stored, p) for p in _SPARSE_PARTS[stored.format]}
        return {"$": "sparse", "cls": public, "format": stored.format, "shape": list(matrix.shape),
                "parts": {k: self.node(np.asarray(v)) for k, v in parts.items()}}

    # --- classes ---------------------------------------------------------------------------------------
    def _name(self, obj: Any, kind: str) -> str:
        name = qualified(obj)
        if "<" in name:  # lambdas, local classes: nothing to import by name in another process
            raise Unsupported(f"{name.replace(':', '.')}, which has no import path")
        if not is_default_trusted(kind, name):
            self.untrusted.add(name.replace(":", "."))
        return name

    def _object(self, obj: Any, kind: type) -> dict[str, Any]:
        try:
            reduced = obj.__reduce_ex__(4)
        except Exception as exc:
            raise Unsupported(f"{qualified(kind)} cannot be reduced ({exc})") from exc
        if isinstance(reduced, str) and callable(obj) and hasattr(obj, "__qualname__"):
            # pickled by name, like a function (numpy's array-function dispatchers such as np.mean)
            return {"$": "func", "name": self._name(obj, "function")}
        if not isinstance(reduced, tuple) or len(reduced) < 2:
            raise Unsupported(f"{qualified(kind).replace(':', '.')}, which reduces to {reduced!r}")
        func, args, state, listitems, dictitems = (*reduced, None, None, None)[:5]
        node: dict[str, Any] = {"$": "obj", "cls": self._name(kind, "class")}
        if func is _NEWOBJ and args and args[0] is kind:
            node["new"] = [self.node(a) for a in args[1:]]
        elif (getattr(func, "__name__", "") == "newObj" and getattr(func, "__module__", None) == kind.__module__
              and tuple(args) == (kind,)):
            node["new"] = []  # sklearn's KDTree/BallTree: ``newObj(cls)`` is ``cls.__new__(cls)``
        elif func is kind and not (kind.__flags__ & _HEAPTYPE):
            node["call"] = [self.node(a) for a in args]
        elif (getattr(func, "__name__", "") == f"__pyx_unpickle_{kind.__name__}"
              and getattr(func, "__module__", None) == kind.__module__ and args and args[0] is kind):
            node["pyx"] = [self.node(a) for a in args[1:]]
        else:
            where = qualified(func) if hasattr(func, "__qualname__") else repr(func)
            raise Unsupported(f"{qualified(kind).replace(':', '.')} is rebuilt by calling {where}")
        if state is not None:
            node["state"] = self.node(state)
        if listitems is not None:
            node["items"] = [self.node(v) for v in listitems]
        if dictitems is not None:
            node["dictitems"] = [[self.node(k), self.node(v)] for k, v in dictitems]
        return node


_NEWOBJ = getattr(copyreg, "__newobj__")  # noqa: B009 (not in typeshed's copyreg)
_HEAPTYPE = 1 << 9  # Py_TPFLAGS_HEAPTYPE: classes defined in Python (and heap extension types)


def _sort_key(node: Any) -> str:
    import json

    return json.dumps(node, sort_keys=True)


_SIMPLE: dict[type, Any] = {
    bytes: lambda enc, v: {"$": "bytes", "hex": v.hex()},
    complex: lambda enc, v: {"$": "complex", "v": [enc.node(v.real), enc.node(v.imag)]},
    slice: lambda enc, v: {"$": "slice", "v": [enc.node(v.start), enc.node(v.stop), enc.node(v.step)]},
}


def write_arrays(handle: Any, arrays: list[np.ndarray]) -> None:
    """The arrays as ``0.npy``, ``1.npy``, ... in an uncompressed zip (``np.load`` opens it as an npz)."""
    with zipfile.ZipFile(handle, "w", compression=zipfile.ZIP_STORED) as archive:
        for i, arr in enumerate(arrays):
            info = zipfile.ZipInfo(f"{i}.npy", date_time=_ZIP_TIME)
            with archive.open(info, "w", force_zip64=arr.nbytes > (1 << 30)) as member:
                np.lib.format.write_array(member, arr, allow_pickle=False)


def read_arrays(handle: Any) -> list[bytearray]:
    """The raw ``.npy`` files :func:`write_arrays` wrote, in order; the loader turns them into arrays."""
    if not handle.seekable():
        handle = io.BytesIO(handle.read())
    try:
        return _read_members(handle)
    except (zipfile.BadZipFile, EOFError) as exc:
        raise Damaged(f"{ARRAYS_FILE} is not a readable zip file ({exc})") from exc


def _read_members(handle: Any) -> list[bytearray]:
    with zipfile.ZipFile(handle) as archive:
        infos = archive.infolist()
        expected = [f"{i}.npy" for i in range(len(infos))]
        if sorted(info.filename for info in infos) != sorted(expected):
            raise Damaged(f"unexpected entries in {ARRAYS_FILE}: {[i.filename for i in infos][:5]}")
        by_name = {info.filename: info for info in infos}
        raw = []
        for name in expected:
            info = by_name[name]
            data = bytearray(info.file_size)  # writable: Cython state setters take writable buffers
            with archive.open(info) as member:
                if cast(io.BufferedIOBase, member).readinto(data) != info.file_size:
                    raise Damaged(f"{name} in {ARRAYS_FILE} is truncated")
            raw.append(data)
    return raw


def npy_array(data: bytearray, dtype: np.dtype[Any], shape: tuple[int, ...], fortran: bool) -> np.ndarray:
    """The array in ``.npy`` bytes whose header says ``dtype``/``shape``/``fortran``, without parsing the
    header's Python literal: only its length is read, and the data must fill the rest of the file exactly."""
    if dtype.hasobject:
        raise ValueError("object arrays are not stored as .npy files")
    if bytes(data[:6]) != b"\x93NUMPY" or len(data) < 10:
        raise ValueError("not a .npy file")
    if data[6] == 1:
        start = 10 + int.from_bytes(data[8:10], "little")
    elif data[6] in (2, 3):
        start = 12 + int.from_bytes(data[8:12], "little")
    else:
        raise ValueError(f"unknown .npy version {data[6]}")
    count = math.prod(shape)
    if start + count * dtype.itemsize != len(data):
        raise ValueError(f"a .npy file of {len(data)} bytes cannot hold {shape} of {dtype}")
    flat = np.frombuffer(data, dtype=dtype, count=count, offset=start)
    return flat.reshape(shape, order="F" if fortran else "C")


def read_npy(data: bytearray) -> np.ndarray:
    """Any ``.npy`` file, header parsed by numpy (arrays stored before the header was repeated in the tree)."""
    return np.lib.format.read_array(io.BytesIO(data), allow_pickle=False)
