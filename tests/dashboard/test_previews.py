"""Previews stay bounded on large artifacts and never deserialize code (``dashboard/previews.py``)."""

from __future__ import annotations

import dataclasses
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from runyard.artifacts.io import save_artifact
from runyard.artifacts.stores.local import LocalArtifactStore
from runyard.dashboard import previews
from runyard.schemas import ArtifactVersionRead


@dataclasses.dataclass
class Point:
    x: int
    y: int


def stored(value: Any, tmp_path: Path, annotation: Any = None) -> tuple[ArtifactVersionRead, LocalArtifactStore]:
    store = LocalArtifactStore(str(tmp_path / "store"))
    created = save_artifact(value, annotation=annotation if annotation is not None else type(value),
                            artifact_name="thing", output_name="output", store=store)
    version = ArtifactVersionRead(
        id=uuid.uuid4(), created=datetime.now(UTC), artifact_id=uuid.uuid4(), name="thing", version=1,
        uri=created.uri, content_hash=created.content_hash, size=created.size, materializer=created.materializer,
        data_type=created.data_type, metadata=created.metadata,
    )
    return version, store


def test_a_large_dataframe_shows_only_its_first_rows(tmp_path: Path) -> None:
    frame = pd.DataFrame({"n": np.arange(300_000), "label": ["row"] * 300_000})
    version, store = stored(frame, tmp_path)
    preview = previews.preview(version, store)
    assert preview.kind == "table" and preview.columns == ["n", "label"]
    assert len(preview.rows) == previews.MAX_ROWS and preview.rows[0] == ["0", "row"]
    assert preview.total_rows == 300_000 and "first 50 of 300,000 rows" in preview.note
    assert "n" in preview.stats  # from the metadata recorded at save time


def test_an_arrow_table_gets_min_max_from_the_parquet_footer(tmp_path: Path) -> None:
    import pyarrow as pa

    version, store = stored(pa.table({"v": [3, 1, 2]}), tmp_path)
    preview = previews.preview(version, store)
    assert preview.kind == "table" and preview.rows == [["3"], ["1"], ["2"]]
    assert preview.stats == {"v": {"min": "1", "max": "3", "nulls": 0}}


def test_a_large_array_histograms_a_sample_of_its_memory_map(tmp_path: Path) -> None:
    values = np.linspace(0, 1, 3_000_000).reshape(1_000_000, 3)  # 24 MB: loads as a memory map
    version, store = stored(values, tmp_path)
    preview = previews.preview(version, store)
    assert preview.kind == "array" and preview.shape == [1_000_000, 3] and preview.dtype == "float64"
    assert preview.chart is not None and len(preview.chart.bars) == 30
    assert "first 1,000,000 of 3,000,000 values" in preview.note
    assert len(preview.rows) == 20 and len(preview.rows[0]) == 3
    scalar_version, scalar_store = stored(np.float32(2.5), tmp_path / "scalar")
    assert previews.preview(scalar_version, scalar_store).kind in ("array", "json")


def test_pickled_artifacts_are_never_loaded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    class Opaque:
        pass

    with pytest.warns(UserWarning, match="cloudpickle"):
        version, store = stored(Opaque(), tmp_path, annotation=Any)
    assert version.materializer == "runyard.cloudpickle"

    def refuse(*_: Any, **__: Any) -> Any:
        raise AssertionError("the preview loaded a pickle")

    monkeypatch.setattr("runyard.artifacts.io.load_artifact", refuse)
    preview = previews.preview(version, store)
    assert preview.kind == "files" and "does not load" in preview.note and preview.files


def test_json_naming_a_dataclass_is_shown_without_importing_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                                               ) -> None:
    version, store = stored([Point(1, 2)], tmp_path, annotation=list)
    assert version.materializer == "runyard.json"
    monkeypatch.setattr("runyard.artifacts.builtin._common.import_class",
                        lambda path: (_ for _ in ()).throw(AssertionError(f"imported {path}")))
    preview = previews.preview(version, store)
    assert preview.kind == "json" and '"dataclass"' in preview.text and '"x": 1' in preview.text


def test_strings_are_sorted_into_html_markdown_and_text() -> None:
    assert previews.document("<div><b>hi</b></div>").kind == "html"
    assert previews.document("# Title\n\nbody").kind == "markdown"
    assert previews.document("just words").kind == "text"
    rendered = previews.render_markdown("# T\n\n<script>x()</script>\n\n[a](javascript:alert(1))")
    assert "<script>" not in rendered and "&lt;script&gt;" in rendered and 'href="javascript' not in rendered


def test_missing_files_and_unknown_materializers_say_why(tmp_path: Path) -> None:
    version, store = stored(b"plain bytes", tmp_path)
    assert previews.preview(version, store).text == "plain bytes"
    gone = version.model_copy(update={"uri": str(tmp_path / "store" / "ab" / "gone")})
    assert previews.preview(gone, store).kind == "unavailable"
    other = version.model_copy(update={"materializer": "acme.custom"})
    preview = previews.preview(other, store)
    assert preview.kind == "files" and "acme.custom" in preview.note
