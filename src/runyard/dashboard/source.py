"""A step's source code, found from its ``module:qualname`` without importing (running) the module.

Importing a user's module inside the server would execute it: a pipeline script without a
``__main__`` guard would start a run, and any module could do anything with the server's credentials.
So the module's *file* is located the way the import system would locate it (``find_spec`` on the
top-level package only, which reads directories and executes nothing), parsed with :mod:`ast`, and the
function's lines cut out. The text is then hashed like :attr:`Step.source_hash` hashes
``inspect.getsource``, so the page can say whether the file still holds the code that ran.
"""

from __future__ import annotations

import ast
import hashlib
import importlib.machinery
import importlib.util
import sys
from dataclasses import dataclass
from pathlib import Path

#: Larger files are not parsed for a page view.
MAX_SOURCE_FILE_BYTES = 2 * 1024 * 1024


@dataclass(frozen=True)
class StepSource:
    text: str | None
    path: str | None
    line: int | None
    matches_run: bool | None  # None when the run recorded no hash or no text was found
    reason: str = ""


def step_source(spec_step: dict[str, object]) -> StepSource:
    """The code that ran: the text the run recorded, else what the module's file holds now."""
    recorded = spec_step.get("source_code")
    if isinstance(recorded, str) and recorded:
        return StepSource(recorded, str(spec_step.get("source", "")), None, True, "")
    source_hash = spec_step.get("source_hash")
    return find_step_source(str(spec_step["source"]), source_hash if isinstance(source_hash, str) else None)


def find_step_source(source: str, source_hash: str | None) -> StepSource:
    """The text of the function ``source`` ("module:qualname") names, or why it is unavailable."""
    module, _, qualname = source.partition(":")
    if not module or not qualname:
        return StepSource(None, None, None, None, "The run did not record where this step's code lives.")
    if module == "__main__":
        return StepSource(None, None, None, None,
                          "The step was defined in a script run directly (__main__), which the server cannot "
                          "locate.")
    if "<locals>" in qualname:
        return StepSource(None, None, None, None, "The step was defined inside a function.")
    path = _module_file(module)
    if path is None:
        return StepSource(None, None, None, None, f"Module {module!r} is not importable on the server.")
    try:
        if path.stat().st_size > MAX_SOURCE_FILE_BYTES:
            return StepSource(None, str(path), None, None, "The module's file is too large to show.")
        text = path.read_text(encoding="utf-8")
        tree = ast.parse(text)
    except (OSError, UnicodeDecodeError, SyntaxError, ValueError) as exc:
        return StepSource(None, str(path), None, None, f"The module's file cannot be read ({exc}).")
    node = _find(tree, qualname.split("."))
    if node is None:
        return StepSource(None, str(path), None, None,
                          f"{qualname!r} is no longer defined in {path.name}; the code changed since the run.")
    first = min([node.lineno, *(d.lineno for d in node.decorator_list)])
    lines = text.splitlines(keepends=True)[first - 1 : node.end_lineno]
    snippet = "".join(lines)
    matches = None if not source_hash else hashlib.sha256(snippet.encode()).hexdigest() == source_hash
    return StepSource(snippet, str(path), first, matches)


def _module_file(module: str) -> Path | None:
    """The ``.py`` file of ``module``, resolved without executing any package's ``__init__``."""
    loaded = sys.modules.get(module)
    file = getattr(loaded, "__file__", None)
    if file:
        return Path(file) if file.endswith(".py") else None
    parts = module.split(".")
    try:
        spec = importlib.util.find_spec(parts[0])  # a top-level name: finding it imports nothing
    except (ImportError, ValueError):
        return None
    for part in parts[1:]:
        locations = spec.submodule_search_locations if spec is not None else None
        if not locations:
            return None
        spec = importlib.machinery.PathFinder.find_spec(part, list(locations))
    origin = spec.origin if spec is not None else None
    return Path(origin) if origin and origin.endswith(".py") else None


def _find(tree: ast.Module, names: list[str]) -> ast.FunctionDef | ast.AsyncFunctionDef | None:
    body: list[ast.stmt] = tree.body
    for i, name in enumerate(names):
        last = i == len(names) - 1
        match = next(
            (
                n
                for n in body
                if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef) and n.name == name
            ),
            None,
        )
        if match is None:
            return None
        if last:
            return match if isinstance(match, ast.FunctionDef | ast.AsyncFunctionDef) else None
        body = match.body
    return None
