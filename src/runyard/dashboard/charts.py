"""Geometry of the small server-drawn charts (sparklines, duration bars, histograms).

Computed here, in Python, and drawn by the templates as inline SVG with presentation attributes only:
no chart library, no script and no inline style, so the charts work under the strict CSP and without
JavaScript, and the numbers in the SVG are exactly the numbers the page shows.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    label: str
    css: str = ""
    href: str = ""


@dataclass(frozen=True)
class Chart:
    width: int
    height: int
    bars: tuple[Bar, ...] = ()
    points: str = ""  # an SVG polyline's "x,y x,y ..."
    max_label: str = ""
    min_label: str = ""


def sparkline(values: Sequence[float | None], *, width: int = 120, height: int = 28) -> Chart:
    """A polyline over the known values (gaps skipped); empty when fewer than two are known."""
    known = [(i, v) for i, v in enumerate(values) if v is not None and math.isfinite(v)]
    if len(known) < 2:
        return Chart(width, height)
    low, high = min(v for _, v in known), max(v for _, v in known)
    span = (high - low) or 1.0
    step = (width - 4) / max(len(values) - 1, 1)
    points = " ".join(f"{2 + i * step:.1f},{height - 3 - (v - low) / span * (height - 6):.1f}" for i, v in known)
    return Chart(width, height, points=points)


def duration_bars(
    items: Sequence[tuple[float | None, str, str, str]], *, width: int = 640, height: int = 140
) -> Chart:
    """One bar per run, left (oldest) to right: ``(seconds, status, label, href)``; height by duration."""
    if not items:
        return Chart(width, height)
    top = max((s for s, *_ in items if s is not None), default=0.0) or 1.0
    slot = width / len(items)
    bar_width = max(min(slot * 0.8, 24.0), 1.0)
    bars = []
    for i, (seconds, status, label, href) in enumerate(items):
        h = max((seconds or 0.0) / top * (height - 4), 1.0)
        bars.append(Bar(i * slot + (slot - bar_width) / 2, height - h, bar_width, h, label, f"bar-{status}", href))
    return Chart(width, height, bars=tuple(bars), max_label=_seconds(top), min_label="0")


def histogram(edges: Sequence[float], counts: Sequence[int], *, width: int = 480, height: int = 120) -> Chart:
    """Bars of a histogram whose ``len(edges) == len(counts) + 1``."""
    if not counts:
        return Chart(width, height)
    top = max(counts) or 1
    slot = width / len(counts)
    bars = tuple(
        Bar(i * slot, height - c / top * (height - 2), max(slot - 1, 0.5), c / top * (height - 2),
            f"[{edges[i]:.4g}, {edges[i + 1]:.4g}): {c:,}")
        for i, c in enumerate(counts)
    )
    return Chart(width, height, bars=bars, max_label=f"{edges[-1]:.4g}", min_label=f"{edges[0]:.4g}")


def _seconds(value: float) -> str:
    return f"{value * 1000:.0f} ms" if value < 1 else f"{value:.1f} s"
