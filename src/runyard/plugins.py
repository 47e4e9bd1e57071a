"""Runyard's entry points (``runyard.*`` groups), found with one cheap scan per process.

``importlib.metadata.entry_points(group=...)`` parses every entry point of every installed distribution
on each call: ~35 ms for the first group and ~18 ms for each further one in the project's venv, paid by
every pipeline process (materializers, orchestrators, artifact stores, log backends). This module reads
the ``entry_points.txt`` files of the ``*.dist-info``/``*.egg-info`` folders on ``sys.path`` once, skips
those without a ``[runyard.`` section, and keeps the first distribution of each name, as importlib does.
Distributions that only a custom ``sys.meta_path`` finder knows (no folder on ``sys.path``) are not seen.
"""

from __future__ import annotations

import importlib
import os
import re
import sys
import threading
from typing import Any

_lock = threading.Lock()
_found: dict[str, dict[str, str]] | None = None
_SECTION = re.compile(r"^\[(?P<group>[^\]]+)\]\s*$")


def entry_points(group: str) -> dict[str, str]:
    """``name -> "module:attr"`` of the installed entry points in ``group`` (a ``runyard.*`` group)."""
    global _found
    if _found is None:
        with _lock:
            if _found is None:
                _found = _scan()
    return dict(_found.get(group, {}))


def load(target: str) -> Any:
    """The object an entry point value ``"module:attr.sub [extra]"`` names."""
    module, _, attrs = target.split("[", 1)[0].strip().partition(":")
    obj: Any = importlib.import_module(module.strip())
    for part in filter(None, attrs.strip().split(".")):
        obj = getattr(obj, part)
    return obj


def reset() -> None:
    """Forget the scan (tests that install or remove a plugin at run time)."""
    global _found
    with _lock:
        _found = None


def _normalized(folder: str) -> str:
    stem = folder.rsplit(".", 1)[0]
    name = stem.split("-", 1)[0]
    return re.sub(r"[-_.]+", "_", name).lower()


def _scan() -> dict[str, dict[str, str]]:
    groups: dict[str, dict[str, str]] = {}
    seen: set[str] = set()
    for entry in sys.path:
        try:
            names = sorted(os.listdir(entry or "."))
        except OSError:  # a zip file, a missing folder
            continue
        for folder in names:
            if not folder.endswith((".dist-info", ".egg-info")):
                continue
            project = _normalized(folder)
            if project in seen:
                continue
            seen.add(project)
            try:
                with open(os.path.join(entry or ".", folder, "entry_points.txt"), encoding="utf-8") as handle:
                    text = handle.read()
            except OSError:
                continue
            if "[runyard." in text:
                _parse(text, groups)
    return groups


def _parse(text: str, groups: dict[str, dict[str, str]]) -> None:
    group: str | None = None
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        section = _SECTION.match(line)
        if section:
            group = section.group("group").strip()
            continue
        name, sep, value = line.partition("=")
        if group is not None and group.startswith("runyard.") and sep:
            groups.setdefault(group, {}).setdefault(name.strip(), value.strip())
