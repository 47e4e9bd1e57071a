"""pandas DataFrames and Series as Parquet: compact, typed, and readable by every data tool.

The index is kept (pyarrow stores it, a plain RangeIndex only as metadata). A Series is stored as a
one-column table and its name, which may be any JSON-able value, is kept in ``pandas.json``, so it comes
back as a Series with the same name. Frames Parquet cannot represent exactly (non-string or duplicate
column names) are refused by ``handles_value``; mixed-type object columns that pyarrow cannot convert are
found only while converting, so they are pickled inside this artifact instead, with a warning.
"""

from __future__ import annotations

from typing import Any, ClassVar

import pandas as pd
import pyarrow as pa

from runyard.artifacts.builtin._common import (
    FORMAT_VERSION,
    check_format,
    file_exists,
    json_safe,
    read_json,
    write_json,
)
from runyard.artifacts.builtin._parquet import read_parquet, write_parquet
from runyard.artifacts.builtin.cloudpickle_materializer import PICKLE_FILE, load_pickle, save_pickle
from runyard.artifacts.builtin.json_materializer import decode, encode, is_encodable
from runyard.artifacts.materializer import Materializer

PARQUET_FILE = "data.parquet"
_META_FILE = "pandas.json"
_SERIES_COLUMN = "__runyard_series__"
#: Summary statistics cover at most this many numeric columns, to keep metadata small.
MAX_STATS_COLUMNS = 50
_CONVERSION_ERRORS = (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError, TypeError, ValueError)


class PandasMaterializer(Materializer):
    """``pd.DataFrame`` and ``pd.Series`` (and subclasses, which load as the annotated subclass)."""

    name: ClassVar[str] = "runyard.pandas"
    type_names: ClassVar[tuple[str, ...]] = (
        "pandas.DataFrame", "pandas.Series", "pandas.core.frame.DataFrame", "pandas.core.series.Series",
    )

    @classmethod
    def handles_value(cls, obj: Any) -> bool:
        if isinstance(obj, pd.Series):
            return is_encodable(obj.name)
        if isinstance(obj, pd.DataFrame):
            return obj.columns.is_unique and all(type(col) is str for col in obj.columns)
        return False

    def save(self, obj: Any, uri: str) -> None:
        series = isinstance(obj, pd.Series)
        frame = obj.to_frame(name=_SERIES_COLUMN) if series else obj
        try:
            table = pa.Table.from_pandas(frame)
        except _CONVERSION_ERRORS as exc:
            save_pickle(self, obj, uri, reason=f"Parquet cannot store this {type(obj).__name__} ({exc}).")
            return
        write_parquet(self, uri, PARQUET_FILE, table)
        meta: dict[str, Any] = {"format": FORMAT_VERSION, "kind": "series" if series else "dataframe"}
        if series:
            meta["name"] = encode(obj.name)
        write_json(self, uri, _META_FILE, meta)

    def load(self, data_type: type | None, uri: str) -> Any:
        if not file_exists(self, uri, PARQUET_FILE) and file_exists(self, uri, PICKLE_FILE):
            return load_pickle(self, uri)
        meta = read_json(self, uri, _META_FILE)
        check_format(meta, "pandas")
        frame = read_parquet(self, uri, PARQUET_FILE).to_pandas()
        result: pd.DataFrame | pd.Series = frame
        if meta["kind"] == "series":
            result = frame[_SERIES_COLUMN].rename(decode(meta["name"]))
        kind = type(result)
        if isinstance(data_type, type) and issubclass(data_type, kind) and data_type is not kind:
            result = data_type(result)
        return result

    def extract_metadata(self, obj: Any) -> dict[str, Any]:
        frame = obj.to_frame() if isinstance(obj, pd.Series) else obj
        meta: dict[str, Any] = {
            "rows": len(frame),
            "columns": frame.shape[1],
            "schema": {str(col): str(dtype) for col, dtype in frame.dtypes.items()},
            "index": {"names": [json_safe(n) for n in frame.index.names], "dtype": str(frame.index.dtype)},
        }
        numeric = frame.select_dtypes(include="number")
        if numeric.shape[1] and len(frame):
            stats = numeric.iloc[:, :MAX_STATS_COLUMNS].describe()
            meta["stats"] = {str(col): {str(k): json_safe(v) for k, v in values.items()}
                             for col, values in stats.items()}
            meta["stats_truncated"] = numeric.shape[1] > MAX_STATS_COLUMNS
        return meta
