"""Previews of artifact versions: a table, an array's statistics, an image, a document, or JSON.

Two rules keep a preview safe for the server and for the person looking:

- **Bounded work.** An artifact is loaded whole (through :func:`runyard.artifacts.io.load_artifact`, so
  the materializer decides how) only when it is small (:data:`MAX_LOAD_BYTES`) or when loading costs
  nothing until touched (numpy arrays in a local store load as memory maps). Larger Parquet tables are
  read one small batch from the front; larger remote arrays show the statistics the materializer
  recorded when saving. A preview never shows more than :data:`MAX_ROWS` rows or :data:`MAX_TEXT` chars.
- **Nothing executes.** Pickle-based artifacts (cloudpickle), scikit-learn models and JSON that names classes
  are never deserialized here: unpickling or importing a user's class would run code in the server.
  User HTML is only ever served to a sandboxed iframe (see ``pages/artifacts.py``).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from runyard.dashboard.charts import Chart, histogram

if TYPE_CHECKING:
    from runyard.artifacts.stores.base import ArtifactStore
    from runyard.schemas import ArtifactVersionRead

#: Artifacts up to this size are loaded whole for a preview.
MAX_LOAD_BYTES = 16 * 1024 * 1024
MAX_ROWS = 50
MAX_COLUMNS = 50
MAX_CELL = 200
MAX_TEXT = 100_000
#: A histogram is computed over at most this many leading elements of an array.
HISTOGRAM_SAMPLE = 1_000_000
MAX_FILES = 100
#: Served to an ``<img>`` only with these signatures, so the raw route can never serve HTML or SVG.
IMAGE_SIGNATURES = {
    b"\x89PNG\r\n\x1a\n": "image/png",
    b"\xff\xd8\xff": "image/jpeg",
    b"GIF87a": "image/gif",
    b"GIF89a": "image/gif",
}
#: Materializers whose load would unpickle or import user code.
UNSAFE_MATERIALIZERS = frozenset({"runyard.cloudpickle", "runyard.sklearn", "runyard.dataclass", "runyard.pydantic"})
_MARKDOWN = re.compile(r"^(#{1,6} |[-*] |\d+\. |```|\|.+\|\s*$|> )", re.MULTILINE)


@dataclass
class Preview:
    """What the artifact page shows; ``kind`` picks the template block."""

    kind: str  # table | array | image | html | markdown | text | json | files | unavailable
    note: str = ""
    columns: list[str] = field(default_factory=list)
    dtypes: list[str] = field(default_factory=list)
    rows: list[list[str]] = field(default_factory=list)
    total_rows: int | None = None
    stats: dict[str, dict[str, Any]] = field(default_factory=dict)
    shape: list[int] = field(default_factory=list)
    dtype: str = ""
    chart: Chart | None = None
    text: str = ""
    files: list[tuple[str, int | None]] = field(default_factory=list)


def preview(version: ArtifactVersionRead, store: ArtifactStore) -> Preview:
    """The preview of ``version``; any failure becomes an "unavailable" preview saying why."""
    from runyard.exceptions import RunyardError

    if version.materializer in UNSAFE_MATERIALIZERS:
        return _files(version, store, f"Stored by {version.materializer}, which the server does not load: "
                      "loading it would run the artifact's code. Load it in Python with `.load()`.")
    if not store.artifact_exists(version.uri):
        return Preview("unavailable", note=f"The files of this version are missing at {version.uri}.")
    try:
        kind = {"runyard.pandas": _table, "runyard.arrow": _table, "runyard.numpy": _array,
                "runyard.json": _json, "runyard.bytes": _bytes}.get(version.materializer)
        if kind is None:
            return _files(version, store, f"No preview for materializer {version.materializer!r}.")
        return kind(version, store)
    except (RunyardError, OSError, ValueError, KeyError, TypeError, ImportError) as exc:
        return Preview("unavailable", note=f"The preview failed: {exc}")


def _table(version: ArtifactVersionRead, store: ArtifactStore) -> Preview:
    import pyarrow.parquet as pq

    name = "data.parquet" if version.materializer == "runyard.pandas" else "table.parquet"
    uri = f"{version.uri}/{name}"
    if not store.exists(uri):
        return _files(version, store, "This table was stored with pickle (Parquet could not hold it); the server "
                      "does not load pickles.")
    local = store.local_path(uri)
    if local is None and version.size > MAX_LOAD_BYTES:
        return _from_metadata(version, "The table is large and in a remote store: showing its recorded schema.")
    with (open(local, "rb") if local else store.open(uri, "rb")) as handle:
        parquet = pq.ParquetFile(handle)
        total = parquet.metadata.num_rows
        names = [n for n in parquet.schema_arrow.names if not n.startswith("__index_level_")][:MAX_COLUMNS]
        batch = next(parquet.iter_batches(batch_size=MAX_ROWS, columns=names), None)
        stats = version.metadata.get("stats") or _parquet_stats(parquet, names)
    if batch is None:
        return Preview("table", columns=names, total_rows=total, stats=stats)
    columns = batch.schema.names
    dtypes = [str(f.type) for f in batch.schema]
    schema = version.metadata.get("schema")
    if isinstance(schema, dict):
        dtypes = [str(schema.get(c, d)) for c, d in zip(columns, dtypes, strict=True)]
    rows = [[_cell(row[c]) for c in columns] for row in batch.to_pylist()]
    shown = f"first {len(rows):,} of {total:,} rows" if total > len(rows) else f"all {total:,} rows"
    return Preview("table", note=shown, columns=columns, dtypes=dtypes, rows=rows, total_rows=total, stats=stats)


def _parquet_stats(parquet: Any, names: list[str]) -> dict[str, dict[str, Any]]:
    """min / max / nulls from the Parquet footer (written with the file): no data is read."""
    meta = parquet.metadata
    if meta.num_row_groups != 1:
        return {}
    group = meta.row_group(0)
    out: dict[str, dict[str, Any]] = {}
    for i in range(group.num_columns):
        column = group.column(i)
        name = column.path_in_schema
        if name in names and column.statistics is not None and column.statistics.has_min_max:
            stats = column.statistics
            out[name] = {"min": _cell(stats.min), "max": _cell(stats.max), "nulls": stats.null_count}
    return out


def _array(version: ArtifactVersionRead, store: ArtifactStore) -> Preview:
    import numpy as np

    from runyard.artifacts.io import load_artifact

    meta = version.metadata
    if store.local_path(version.uri) is None and version.size > MAX_LOAD_BYTES:
        return _from_metadata(version, "The array is large and in a remote store: showing its recorded statistics.")
    # in a local store, large arrays load as memory maps: only the sample below is ever read
    value = np.asarray(load_artifact(version, store=store))
    stats: dict[str, Any] = {k: meta[k] for k in ("min", "max", "mean", "std", "nan_count") if k in meta}
    result = Preview("array", shape=list(value.shape), dtype=str(value.dtype), stats={"": stats} if stats else {})
    if value.ndim == 0:
        result.text = _cell(value.item())
        return result
    flat = value.ravel(order="K")[:HISTOGRAM_SAMPLE]  # a view for C- and F-ordered arrays: no copy
    if flat.dtype.kind in "biuf" and flat.size:
        sample = flat.astype(np.float64) if flat.dtype.kind == "b" else flat
        finite = sample[np.isfinite(sample)] if sample.dtype.kind == "f" else sample
        if finite.size:
            counts, edges = np.histogram(finite, bins=min(30, max(int(finite.size), 1)))
            result.chart = histogram([float(e) for e in edges], [int(c) for c in counts])
        if value.size > HISTOGRAM_SAMPLE:
            result.note = f"histogram of the first {HISTOGRAM_SAMPLE:,} of {value.size:,} values"
    # the top-left corner: 20 rows by 12 columns of the first two axes (the others at index 0)
    index: tuple[Any, ...] = (slice(0, 20), slice(0, 12), *(0,) * (value.ndim - 2))
    corner = value[index] if value.ndim > 1 else value[:20].reshape(-1, 1)
    result.rows = [[_cell(x) for x in row] for row in corner.tolist()]
    return result


def _json(version: ArtifactVersionRead, store: ArtifactStore) -> Preview:
    from runyard.artifacts.io import load_artifact

    uri = f"{version.uri}/data.json"
    with store.open(uri, "rb") as handle:
        head = handle.read(MAX_LOAD_BYTES + 1)
    if len(head) > MAX_LOAD_BYTES:
        return Preview("text", text=head[:MAX_TEXT].decode("utf-8", "replace"), note="The value is large: showing "
                       "the start of its stored JSON.")
    if b'"__runyard__":"dataclass"' in head:
        # decoding would import the dataclass's module; show the stored (tagged) JSON instead
        return Preview("json", text=_cut(json.dumps(json.loads(head).get("value"), indent=2, ensure_ascii=False)))
    value = load_artifact(version, store=store)
    if isinstance(value, str):
        return document(value)
    return Preview("json", text=_cut(json.dumps(value, indent=2, default=repr, ensure_ascii=False)))


def document(text: str) -> Preview:
    """A string value: HTML and Markdown are shown rendered in the sandbox, anything else as text."""
    stripped = text.lstrip()
    if stripped.startswith("<") and ("</" in stripped or "/>" in stripped):
        return Preview("html", text=_cut(text))
    if _MARKDOWN.search(text):
        return Preview("markdown", text=_cut(text))
    return Preview("text", text=_cut(text))


def _bytes(version: ArtifactVersionRead, store: ArtifactStore) -> Preview:
    uri = f"{version.uri}/data.bytes"
    if not store.exists(uri):
        uri = f"{version.uri}/data.bytearray"
    with store.open(uri, "rb") as handle:
        head = handle.read(4096)
    if image_type(head):
        return Preview("image", note=f"{image_type(head)}, {version.size:,} bytes")
    try:
        return Preview("text", text=head.decode("utf-8") + ("…" if version.size > len(head) else ""))
    except UnicodeDecodeError:
        hexdump = " ".join(f"{b:02x}" for b in head[:512])
        return Preview("text", text=hexdump, note=f"binary, {version.size:,} bytes; the first 512 in hex")


def image_type(head: bytes) -> str | None:
    for signature, media_type in IMAGE_SIGNATURES.items():
        if head.startswith(signature):
            return media_type
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    return None


def image_file(version: ArtifactVersionRead, store: ArtifactStore) -> tuple[str, str] | None:
    """(uri, media type) of the first image file in the version's folder: bytes values, or the image
    files a third-party materializer (e.g. for PIL images) wrote."""
    for rel in _walk(store, version.uri):
        uri = f"{version.uri}/{rel}"
        with store.open(uri, "rb") as handle:
            media_type = image_type(handle.read(16))
        if media_type:
            return uri, media_type
    return None


def _files(version: ArtifactVersionRead, store: ArtifactStore, note: str) -> Preview:
    if not store.artifact_exists(version.uri):
        return Preview("unavailable", note=note)
    if image_file(version, store) is not None:
        return Preview("image", note=note)
    files = []
    for rel in _walk(store, version.uri):
        local = store.local_path(f"{version.uri}/{rel}")
        size = None
        if local is not None:
            import os

            size = os.path.getsize(local)
        files.append((rel, size))
    return Preview("files", note=note, files=files)


def _walk(store: ArtifactStore, uri: str) -> list[str]:
    found: list[str] = []
    for rel in store.walk_files(uri):
        found.append(rel)
        if len(found) >= MAX_FILES:
            break
    return found


def _from_metadata(version: ArtifactVersionRead, note: str) -> Preview:
    meta = version.metadata
    schema: dict[str, Any] = meta["schema"] if isinstance(meta.get("schema"), dict) else {}
    stats: dict[str, Any] = {k: meta[k] for k in ("min", "max", "mean", "std", "nan_count") if k in meta}
    return Preview("table" if schema else "array", note=note, columns=list(schema), dtypes=[str(v) for v in
                   schema.values()], total_rows=meta.get("rows"), stats=meta.get("stats") or ({"": stats} if stats
                   else {}), shape=list(meta.get("shape") or []), dtype=str(meta.get("dtype", "")))


def _cell(value: Any) -> str:
    text = value if isinstance(value, str) else repr(value) if isinstance(value, bytes) else str(value)
    return text if len(text) <= MAX_CELL else text[:MAX_CELL] + "…"


def _cut(text: str) -> str:
    return text if len(text) <= MAX_TEXT else text[:MAX_TEXT] + "\n… (cut)"


def render_markdown(text: str) -> str:
    """Markdown as HTML with raw HTML disabled (escaped) and unsafe link schemes refused."""
    from markdown_it import MarkdownIt

    return str(MarkdownIt("commonmark", {"html": False, "linkify": False}).enable("table").render(text))
