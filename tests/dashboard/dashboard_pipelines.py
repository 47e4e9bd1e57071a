"""Small real pipelines that fill a workspace with everything the dashboard shows.

``weather`` outputs a pandas DataFrame, a numpy array, Markdown and HTML documents, a PNG image and a
dict, prints and logs lines, and logs run metrics; run twice with a new ``scale`` its second run reuses
the cache for the steps that do not depend on it and explains the miss of the ones that do.
``fragile`` fails in its second step, so its third is skipped.
"""

from __future__ import annotations

import logging
import struct
import zlib
from typing import Annotated, Any

import numpy as np
import pandas as pd

from runyard import log_metadata, pipeline, step

LOG_LINE = "loading 6 rows of weather data"
FAILURE = "boom: the sensor feed is corrupt"
HOSTILE_HTML = "<h1>Weather</h1><script>document.title='pwned'</script><p id='x'>fine print</p>"


@step
def load_table(rows: int = 6) -> Annotated[pd.DataFrame, "table"]:
    print(f"loading {rows} rows of weather data")
    logging.getLogger("weather").warning("two stations reported late")
    cities = ["Oslo", "Lima", "Pune", "Kyiv", "Nice", "Baku"][:rows]
    return pd.DataFrame({
        "city": cities,
        "temperature": [3.5, 19.0, 31.2, -4.0, 15.5, 22.1][:rows],
        "rain_mm": [12, 0, 3, 7, 1, 0][:rows],
    })


@step
def featurize(table: pd.DataFrame, scale: float = 1.0) -> Annotated[np.ndarray, "features"]:
    print(f"scaling features by {scale}")
    return table[["temperature", "rain_mm"]].to_numpy(dtype=np.float64) * scale


@step
def write_report(table: pd.DataFrame) -> tuple[Annotated[str, "report_md"], Annotated[str, "report_html"]]:
    rows = "\n".join(f"| {c} | {t} |" for c, t in zip(table["city"], table["temperature"], strict=True))
    markdown = f"# Weather report\n\nThe **warmest** city today.\n\n| city | temperature |\n|---|---|\n{rows}\n"
    return markdown, HOSTILE_HTML


@step
def draw_chart() -> Annotated[bytes, "chart_png"]:
    return tiny_png()


@step
def evaluate(features: np.ndarray) -> Annotated[dict[str, Any], "scores"]:
    mean = float(features.mean())
    log_metadata({"mean_feature": round(mean, 4), "accuracy": 0.91 if mean < 10 else 0.87}, on_run=True)
    return {"mean": mean, "rows": int(features.shape[0])}


@pipeline
def weather(scale: float = 1.0) -> None:
    """Daily weather features, a report and a chart."""
    table = load_table()
    features = featurize(table, scale=scale)
    write_report(table)
    draw_chart()
    evaluate(features)


@step
def explode(table: pd.DataFrame) -> Annotated[int, "count"]:
    raise ValueError(FAILURE)


@step
def after_explode(count: int) -> Annotated[int, "doubled"]:
    return count * 2


@pipeline
def fragile() -> None:
    after_explode(explode(load_table(rows=3)))


def tiny_png(width: int = 24, height: int = 16) -> bytes:
    """A real PNG (a colour gradient), built by hand so the tests need no imaging library."""
    raw = b"".join(
        b"\x00" + b"".join(struct.pack("BBB", 40 + x * 8, 90 + y * 9, 200) for x in range(width))
        for y in range(height)
    )

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")
