"""Helpers the built-in materializers share: hashing files while writing them, small JSON files, and
turning classes into import paths and back.

Hashing while writing matters because :meth:`ArtifactStore.finalize` would otherwise read every file back
to compute its content address; a digest recorded in ``Materializer.known_hashes`` saves that second pass.
"""

from __future__ import annotations

import importlib
import io
import json
import math
from collections.abc import Iterator
from contextlib import contextmanager
from typing import IO, Any

from runyard.artifacts.hashing import BlockHasher
from runyard.artifacts.materializer import Materializer
from runyard.exceptions import ArtifactError

#: Version of the small JSON documents the built-ins write next to their data; bump on a breaking change.
FORMAT_VERSION = 1


class HashingWriter(io.RawIOBase):
    """A write-only file object that forwards to ``inner`` and feeds every byte to a sha256.

    Libraries that stream into a file object (pickle, pyarrow, skops) then produce the digest for free.
    """

    def __init__(self, inner: IO[bytes]) -> None:
        super().__init__()
        self._inner = inner
        self._hash = BlockHasher()
        self._pos = 0

    def writable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return False

    def readable(self) -> bool:
        return False

    def write(self, data: Any) -> int:  # bytes, bytearray, memoryview or a buffer-protocol object
        view = memoryview(data).cast("B")
        self._hash.update(view)
        self._inner.write(view)
        self._pos += view.nbytes
        return view.nbytes

    def tell(self) -> int:
        return self._pos

    def flush(self) -> None:
        if not self._inner.closed:
            self._inner.flush()

    def hexdigest(self) -> str:
        return self._hash.hexdigest()


@contextmanager
def hashed_file(materializer: Materializer, uri: str, name: str) -> Iterator[HashingWriter]:
    """Opens ``uri/name`` for writing; on success records the file's sha256 under ``name``."""
    with materializer.store.open(f"{uri}/{name}", "wb") as handle:
        writer = HashingWriter(handle)
        yield writer
        writer.close()  # flushes into ``handle``; the store's file object is closed by ``with``
    materializer.known_hashes[name] = writer.hexdigest()


def write_bytes(materializer: Materializer, uri: str, name: str, data: bytes | bytearray | memoryview,
                ) -> None:
    with hashed_file(materializer, uri, name) as handle:
        handle.write(data)


def read_bytes(materializer: Materializer, uri: str, name: str) -> bytes:
    try:
        with materializer.store.open(f"{uri}/{name}", "rb") as handle:
            data: bytes = handle.read()
    except FileNotFoundError as exc:
        raise ArtifactError(
            f"Artifact file {name!r} is missing from {uri}.",
            hint="The artifact store was changed by hand or an upload failed; save the artifact again.",
        ) from exc
    return data


def write_json(materializer: Materializer, uri: str, name: str, document: Any) -> None:
    """Compact, ASCII-only JSON: identical values give identical bytes, so identical content hashes."""
    text = json.dumps(document, ensure_ascii=True, allow_nan=False, separators=(",", ":"))
    write_bytes(materializer, uri, name, text.encode("ascii"))


def read_json(materializer: Materializer, uri: str, name: str) -> Any:
    return json.loads(read_bytes(materializer, uri, name))


def file_exists(materializer: Materializer, uri: str, name: str) -> bool:
    return materializer.store.exists(f"{uri}/{name}")


def check_format(document: dict[str, Any], what: str) -> None:
    """Refuses documents written by a newer Runyard instead of misreading them."""
    version = document.get("format", 1)
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise ArtifactError(
            f"The {what} artifact was written in format {version!r}; "
            f"this Runyard reads formats up to {FORMAT_VERSION}.",
            hint="Upgrade runyard to load it.",
        )


# --- classes <-> import paths ---------------------------------------------------------------------
def class_path(cls: type) -> str:
    return f"{cls.__module__}:{cls.__qualname__}"


def is_importable(cls: type) -> bool:
    """Classes defined inside functions cannot be found again by name in another process."""
    return "<locals>" not in cls.__qualname__ and "<" not in cls.__module__


def resolve_name(module_name: str, qualname: str) -> Any:
    """``module:Outer.Inner`` -> the object; raises ImportError or AttributeError for the caller to explain."""
    target: Any = importlib.import_module(module_name)
    for part in qualname.split("."):
        target = getattr(target, part)
    return target


def import_class(path: str) -> type:
    module_name, _, qualname = path.partition(":")
    try:
        target = resolve_name(module_name, qualname)
    except (ImportError, AttributeError) as exc:
        raise ArtifactError(
            f"Cannot import class {path!r} recorded with the artifact: {exc}.",
            hint="Install or import the code that defines it, or load the artifact with its type given.",
        ) from exc
    if not isinstance(target, type):
        raise ArtifactError(f"{path!r} recorded with the artifact is not a class.")
    return target


# --- metadata ---------------------------------------------------------------------------------------
def json_safe(value: Any, *, max_repr: int = 200) -> Any:
    """``value`` made JSON-able for metadata: non-finite floats become None, unknown types a short repr."""
    if value is None or isinstance(value, bool | str):
        return value if not isinstance(value, str) or len(value) <= max_repr else value[:max_repr] + "..."
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, list | tuple):
        return [json_safe(v, max_repr=max_repr) for v in value[:100]]
    if isinstance(value, dict):
        return {str(k): json_safe(v, max_repr=max_repr) for k, v in list(value.items())[:100]}
    item = getattr(value, "item", None)  # numpy scalars
    if callable(item) and type(value).__module__ == "numpy":
        try:
            return json_safe(item(), max_repr=max_repr)
        except (TypeError, ValueError):
            pass
    text = repr(value)
    return text if len(text) <= max_repr else text[:max_repr] + "..."
