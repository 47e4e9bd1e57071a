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
            if _PYDANTIC_SECTION.search(text):
                groups.setdefault(PYDANTIC_GROUP, {})[project] = folder
    return groups


#: pydantic's own plugin entry-point group; noted (not parsed) by the scan above.
PYDANTIC_GROUP = "pydantic"
_PYDANTIC_SECTION = re.compile(r"^\[pydantic\]\s*$", re.MULTILINE)


def skip_pydantic_plugin_scan() -> None:
    """Spares a process pydantic's plugin discovery when no installed distribution offers a plugin.

    Why: the first model pydantic validates with imports ``importlib.metadata`` and parses every installed
    distribution's entry points, looking for ``pydantic`` plugins (~190 M instructions, a quarter of what
    Runyard adds to a short pipeline process). The scan above has read those files already; when none of
    them has a ``[pydantic]`` section, pydantic's loader would find nothing, so it is stood in for by one
    that says so. With a plugin installed (logfire, say) pydantic's own loader runs as always."""
    if "pydantic.plugin._loader" in sys.modules or entry_points(PYDANTIC_GROUP):
        return
    import types

    loader = types.ModuleType("pydantic.plugin._loader", "Runyard: no pydantic plugin is installed.")
    loader.get_plugins = lambda: ()  # type: ignore[attr-defined]
    sys.modules["pydantic.plugin._loader"] = loader


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
