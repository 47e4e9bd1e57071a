"""numpy arrays and scalars as standard ``.npy`` files, at close to the speed of ``np.save`` + ``np.load``.

Speed matters because arrays are often the largest outputs of a step. Two things keep the cost near a raw
save: the file's sha256 (the artifact's content address) is computed while writing, in a thread that reads
the same memory the write reads (hashlib releases the GIL on large buffers), so the store never reads the
file back; and large arrays in a local store are loaded as copy-on-write memory maps, so loading costs
nothing until the data is touched and writing to the array never changes the stored file.

Object arrays are refused (``allow_pickle=False`` on both sides): they would need pickle, so the registry
falls back to the pickle-based materializer, which says so.
"""

from __future__ import annotations

import io
import math
import os
import warnings
from typing import Any, ClassVar

import numpy as np

from runyard.artifacts.builtin._common import file_exists
from runyard.artifacts.hashing import BlockHasher, digest_parts, hash_pool
from runyard.artifacts.materializer import Materializer

_ARRAY_FILE = "array.npy"
_SCALAR_FILE = "scalar.npy"
#: Below this many bytes, hashing in a thread costs more than it saves.
THREADED_HASH_MIN_BYTES = 1024 * 1024
#: Arrays at least this large in a local store load as copy-on-write memory maps (one open file each,
#: so small arrays, which load fast anyway, are read into memory instead).
MMAP_MIN_BYTES = 16 * 1024 * 1024
#: Elements per block when computing statistics, so no full-size temporary array is allocated.
_STATS_BLOCK = 1 << 20


def _npy_header(arr: np.ndarray) -> bytes:
    """The exact header ``np.save`` writes for ``arr`` (smallest format version that fits)."""
    fmt = np.lib.format
    header = fmt.header_data_from_array_1_0(arr)
    buffer = io.BytesIO()
    write_header = getattr(fmt, "_write_array_header", None)
    if write_header is not None:
        write_header(buffer, header, None)
        return buffer.getvalue()
    try:  # pragma: no cover - numpy without the private helper
        fmt.write_array_header_1_0(buffer, header)
    except ValueError:  # pragma: no cover - header too large for format 1.0
        buffer = io.BytesIO()
        fmt.write_array_header_2_0(buffer, header)
    return buffer.getvalue()  # pragma: no cover


def write_npy(handle: Any, arr: np.ndarray) -> str:
    """Writes ``arr`` as ``.npy`` to ``handle`` and returns the content digest of the bytes written."""
    header = _npy_header(arr)
    if arr.flags.c_contiguous or arr.flags.f_contiguous:
        # np.save writes Fortran-ordered arrays as the C-ordered bytes of their transpose.
        flat = arr if arr.flags.c_contiguous else arr.T
        data = memoryview(flat.reshape(-1).view(np.uint8))  # type: ignore[arg-type]
        if data.nbytes < THREADED_HASH_MIN_BYTES:
            handle.write(header)
            handle.write(data)
            return digest_parts(header, data)
        # hash the blocks on the other cores while this thread writes the same memory
        future = hash_pool().submit(digest_parts, header, data)
        handle.write(header)
        handle.write(data)
        return future.result()
    hasher = BlockHasher()  # strided views: copy in blocks, as np.save does, instead of one full-size copy
    hasher.update(header)
    handle.write(header)
    block = max(16 * 1024 * 1024 // max(arr.itemsize, 1), 1)
    flags: Any = ["external_loop", "buffered", "zerosize_ok"]
    chunks: Any = np.nditer(arr, flags=flags, buffersize=block, order="C")
    for chunk in chunks:
        raw = chunk.tobytes("C")
        hasher.update(raw)
        handle.write(raw)
    return hasher.hexdigest()


def _numeric_stats(arr: np.ndarray) -> dict[str, Any]:
    """min/max/mean/std over the non-NaN values, in blocks (``np.std`` would allocate a full-size copy)."""
    flat = arr.reshape(-1)
    if flat.dtype.kind == "b":
        flat = flat.view(np.uint8)
    count, total, low, high, nans = 0, 0.0, math.inf, -math.inf, 0
    blocks = [flat[i:i + _STATS_BLOCK] for i in range(0, flat.size, _STATS_BLOCK)]
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)
        for block in blocks:
            if block.dtype.kind == "f":
                mask = np.isnan(block)
                if mask.any():
                    nans += int(mask.sum())
                    block = block[~mask]
            if block.size:
                count += block.size
                total += float(block.sum(dtype=np.float64))
                low, high = min(low, float(block.min())), max(high, float(block.max()))
        mean = total / count if count else math.nan
        squares = 0.0
        for block in blocks:
            values = block[~np.isnan(block)] if block.dtype.kind == "f" and nans else block
            deviations = values.astype(np.float64) - mean
            squares += float(np.dot(deviations, deviations))
    std = math.sqrt(squares / count) if count else math.nan

    def finite(value: float) -> float | None:
        return value if math.isfinite(value) else None

    return {"min": finite(low), "max": finite(high), "mean": finite(mean), "std": finite(std),
            "nan_count": nans}


class NumpyMaterializer(Materializer):
    """``np.ndarray`` (and ``np.memmap``), plus numpy scalars JSON cannot hold exactly (complex, datetime)."""

    name: ClassVar[str] = "runyard.numpy"
    type_names: ClassVar[tuple[str, ...]] = ("numpy.ndarray", "numpy.generic")

    @classmethod
    def handles_value(cls, obj: Any) -> bool:
        # Other ndarray subclasses (masked arrays, matrix) carry state a plain .npy file would drop.
        if type(obj) not in (np.ndarray, np.memmap) and not isinstance(obj, np.generic):
            return False
        return not obj.dtype.hasobject

    def save(self, obj: Any, uri: str) -> None:
        scalar = isinstance(obj, np.generic)
        name = _SCALAR_FILE if scalar else _ARRAY_FILE
        arr = np.asarray(obj)
        with self.store.open(f"{uri}/{name}", "wb") as handle:
            digest = write_npy(handle, arr)
        self.known_hashes[name] = digest

    def load(self, data_type: type | None, uri: str) -> Any:
        if file_exists(self, uri, _SCALAR_FILE):
            return self._read(uri, _SCALAR_FILE)[()]
        return self._read(uri, _ARRAY_FILE)

    def _read(self, uri: str, name: str) -> np.ndarray:
        path = self.store.local_path(f"{uri}/{name}")
        if path is None:
            with self.store.open(f"{uri}/{name}", "rb") as handle:
                return np.load(handle, allow_pickle=False)
        if os.path.getsize(path) >= MMAP_MIN_BYTES:
            # "c" = copy-on-write: user code may write to the array; the stored file never changes.
            mapped = np.load(path, mmap_mode="c", allow_pickle=False)
            return np.asarray(mapped)  # a plain ndarray (not np.memmap) viewing the map
        return np.load(path, allow_pickle=False)

    def extract_metadata(self, obj: Any) -> dict[str, Any]:
        arr = np.asarray(obj)
        meta: dict[str, Any] = {"shape": list(arr.shape), "dtype": str(arr.dtype), "size": int(arr.size)}
        if arr.size and arr.dtype.kind in "biuf":
            meta.update(_numeric_stats(arr))
        return meta
