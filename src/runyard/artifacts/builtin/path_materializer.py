"""A file or folder on the step's machine, copied into the artifact so a later step, on another machine,
gets the same content.

The original name is kept (``content/<name>``) because tools often care about file names and extensions.
Loading from a local store returns the path inside the store folder: no copy, but the store is immutable,
so do not write there. Loading from a remote store downloads into a new temporary folder that is left for
the caller (the returned path must outlive this call). Only files are content: empty sub-folders are
recreated on local stores but not on remote ones, and symbolic links to folders are not followed.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any, ClassVar

from runyard.artifacts.builtin._common import (
    FORMAT_VERSION,
    check_format,
    hashed_file,
    read_json,
    write_json,
)
from runyard.artifacts.materializer import Materializer
from runyard.exceptions import ArtifactError

_META_FILE = "path.json"
_CONTENT = "content"
_CHUNK = 8 * 1024 * 1024


class PathMaterializer(Materializer):
    """``pathlib.Path`` to an existing file or folder; the content is stored, not just the path string."""

    name: ClassVar[str] = "runyard.path"
    type_names: ClassVar[tuple[str, ...]] = ("pathlib.Path",)

    @classmethod
    def handles_value(cls, obj: Any) -> bool:
        return isinstance(obj, Path)

    def save(self, obj: Any, uri: str) -> None:
        source = Path(obj)
        if not source.exists():
            raise ArtifactError(
                f"The path {str(source)!r} returned by the step does not exist: there is nothing to store.",
                hint="Return the path after writing the file, or return a str to store only the name.",
            )
        name = source.resolve().name or "root"
        if source.is_dir():
            kind = "dir"
            self.store.makedirs(f"{uri}/{_CONTENT}/{name}")
            for dirpath, _dirs, files in os.walk(source):
                for file_name in sorted(files):
                    full = Path(dirpath) / file_name
                    rel = full.relative_to(source).as_posix()
                    self._copy_file(full, uri, f"{_CONTENT}/{name}/{rel}")
        else:
            kind = "file"
            self._copy_file(source, uri, f"{_CONTENT}/{name}")
        write_json(self, uri, _META_FILE, {"format": FORMAT_VERSION, "kind": kind, "name": name})

    def _copy_file(self, source: Path, uri: str, rel: str) -> None:
        parent = rel.rpartition("/")[0]
        self.store.makedirs(f"{uri}/{parent}")
        with open(source, "rb") as src, hashed_file(self, uri, rel) as dst:
            while chunk := src.read(_CHUNK):
                dst.write(chunk)

    def load(self, data_type: type | None, uri: str) -> Any:
        meta = read_json(self, uri, _META_FILE)
        check_format(meta, "path")
        rel = f"{_CONTENT}/{meta['name']}"
        local = self.store.local_path(f"{uri}/{rel}")
        if local is not None:
            path = Path(local)
            if meta["kind"] == "dir":
                path.mkdir(parents=True, exist_ok=True)
            return path
        target = Path(tempfile.mkdtemp(prefix="runyard-path-")) / meta["name"]
        if meta["kind"] == "dir":
            target.mkdir(parents=True, exist_ok=True)
            for file_rel in self.store.walk_files(f"{uri}/{rel}"):
                self._download(f"{uri}/{rel}/{file_rel}", target / file_rel)
        else:
            self._download(f"{uri}/{rel}", target)
        return target

    def _download(self, src_uri: str, target: Path) -> None:
        target.parent.mkdir(parents=True, exist_ok=True)
        with self.store.open(src_uri, "rb") as src, open(target, "wb") as dst:
            while chunk := src.read(_CHUNK):
                dst.write(chunk)

    def extract_metadata(self, obj: Any) -> dict[str, Any]:
        source = Path(obj)
        if source.is_dir():
            files = [p for p in source.rglob("*") if p.is_file()]
            return {"kind": "dir", "name": source.name, "files": len(files),
                    "size": sum(p.stat().st_size for p in files)}
        if source.is_file():
            return {"kind": "file", "name": source.name, "size": source.stat().st_size}
        return {}
