"""Raw bytes stored as they are, so the file in the store is exactly the value and can be read by any tool.

The file name tells ``bytes`` from ``bytearray`` so each comes back as the type that was saved.
"""

from __future__ import annotations

from typing import Any, ClassVar

from runyard.artifacts.builtin._common import file_exists, read_bytes, write_bytes
from runyard.artifacts.materializer import Materializer

_BYTES_FILE = "data.bytes"
_BYTEARRAY_FILE = "data.bytearray"


class BytesMaterializer(Materializer):
    """``bytes`` and ``bytearray`` (exact types; subclasses may carry state this would drop)."""

    name: ClassVar[str] = "runyard.bytes"
    type_names: ClassVar[tuple[str, ...]] = ("builtins.bytes", "builtins.bytearray")

    @classmethod
    def handles_value(cls, obj: Any) -> bool:
        return type(obj) in (bytes, bytearray)

    def save(self, obj: Any, uri: str) -> None:
        write_bytes(self, uri, _BYTEARRAY_FILE if isinstance(obj, bytearray) else _BYTES_FILE, obj)

    def load(self, data_type: type | None, uri: str) -> Any:
        if file_exists(self, uri, _BYTEARRAY_FILE):
            return bytearray(read_bytes(self, uri, _BYTEARRAY_FILE))
        return read_bytes(self, uri, _BYTES_FILE)

    def extract_metadata(self, obj: Any) -> dict[str, Any]:
        return {"type": type(obj).__name__, "size": len(obj)}
