"""Values stored as JSON must be strict JSON: PostgreSQL and browsers refuse NaN and infinity.

Metadata such as a loss of ``nan`` or statistics over data with gaps are legitimate, so they are stored as
the strings ``"NaN"``, ``"Infinity"`` and ``"-Infinity"`` the same way on every database.
"""

from __future__ import annotations

import math
from typing import Any


def json_safe(value: Any) -> Any:
    if isinstance(value, float):
        if math.isfinite(value):
            return value
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    return value
