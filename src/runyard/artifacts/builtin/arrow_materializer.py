"""pyarrow Tables as Parquet: the columnar format Arrow already speaks, with its schema stored exactly."""

from __future__ import annotations

from typing import Any, ClassVar

import pyarrow as pa

from runyard.artifacts.builtin._parquet import read_parquet, write_parquet
from runyard.artifacts.materializer import Materializer

_PARQUET_FILE = "table.parquet"


class ArrowMaterializer(Materializer):
    """``pyarrow.Table``."""

    name: ClassVar[str] = "runyard.arrow"
    type_names: ClassVar[tuple[str, ...]] = ("pyarrow.lib.Table",)

    @classmethod
    def handles_value(cls, obj: Any) -> bool:
        return isinstance(obj, pa.Table)

    def save(self, obj: Any, uri: str) -> None:
        write_parquet(self, uri, _PARQUET_FILE, obj)

    def load(self, data_type: type | None, uri: str) -> Any:
        return read_parquet(self, uri, _PARQUET_FILE)

    def extract_metadata(self, obj: Any) -> dict[str, Any]:
        return {
            "rows": obj.num_rows,
            "columns": obj.num_columns,
            "schema": {field.name: str(field.type) for field in obj.schema},
        }
