"""Cache keys built from named parts, so a miss can say exactly what changed.

Parts: the step's source hash, its parameters, the content hashes of its inputs, the materializers of its
outputs, and the artifact store. The key is the sha256 of the parts in canonical JSON.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any


def cache_parts(
    *,
    source_hash: str,
    parameters: dict[str, Any],
    input_hashes: dict[str, str],
    output_types: dict[str, str],
    artifact_store: str,
) -> dict[str, Any]:
    return {
        "source_hash": source_hash,
        "parameters": parameters,
        "inputs": input_hashes,
        "outputs": output_types,
        "artifact_store": artifact_store,
    }


def cache_key(parts: dict[str, Any]) -> str:
    canonical = json.dumps(parts, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def explain_miss(current: dict[str, Any], previous: dict[str, Any] | None) -> str:
    """One sentence naming every part that differs from the previous run of the same step."""
    if not previous:
        return "cache miss: this step has not run before with caching on"
    changes: list[str] = []
    if current.get("source_hash") != previous.get("source_hash"):
        changes.append("the step's code changed")
    changes += _dict_changes("parameter", current.get("parameters", {}), previous.get("parameters", {}))
    changes += _dict_changes("input", current.get("inputs", {}), previous.get("inputs", {}), values=False)
    if current.get("outputs") != previous.get("outputs"):
        changes.append("the output types or materializers changed")
    if current.get("artifact_store") != previous.get("artifact_store"):
        changes.append("the artifact store changed")
    if not changes:
        return "cache miss: same key as the last run, but no completed run with it is stored"
    return "cache miss: " + "; ".join(changes)


def _dict_changes(what: str, now: dict[str, Any], before: dict[str, Any], *, values: bool = True) -> list[str]:
    out: list[str] = []
    for key in sorted(set(now) | set(before)):
        if key not in before:
            out.append(f"{what} {key!r} is new")
        elif key not in now:
            out.append(f"{what} {key!r} was removed")
        elif now[key] != before[key]:
            if values:
                out.append(f"{what} {key!r} changed ({_short(before[key])} -> {_short(now[key])})")
            else:
                out.append(f"{what} {key!r} has different content")
    return out


def _short(value: Any) -> str:
    text = json.dumps(value, default=str)
    return text if len(text) <= 40 else text[:37] + "..."
