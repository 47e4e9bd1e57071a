"""Parquet reading and writing through the artifact store, shared by the pandas and Arrow materializers.

Writing goes through the store's file object (so remote stores work) wrapped to hash while writing;
reading uses a local path when the store has one, which lets pyarrow read the file directly.
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.parquet as pq

from runyard.artifacts.builtin._common import hashed_file
from runyard.artifacts.materializer import Materializer


def read_parquet(materializer: Materializer, uri: str, name: str) -> pa.Table:
    path = materializer.store.local_path(f"{uri}/{name}")
    if path is not None:
        return pq.read_table(path)
    with materializer.store.open(f"{uri}/{name}", "rb") as handle:
        return pq.read_table(handle)


def write_parquet(materializer: Materializer, uri: str, name: str, table: pa.Table) -> None:
    with hashed_file(materializer, uri, name) as handle:
        pq.write_table(table, handle)
