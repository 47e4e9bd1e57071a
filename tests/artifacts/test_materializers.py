"""Built-in materializers: every type round-trips through a store, is hashed while written (the content hash
matches a re-read), deduplicates, and records useful metadata; the registry picks the right one."""

from __future__ import annotations

import dataclasses
import enum
import io
import json
import math
import subprocess
import sys
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, NamedTuple, Optional

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from pydantic import BaseModel
from sklearn.base import BaseEstimator
from sklearn.linear_model import LogisticRegression

from runyard.artifacts import registry
from runyard.artifacts.builtin import numpy_materializer
from runyard.artifacts.materializer import Materializer
from runyard.artifacts.registry import materializer_class, materializer_for
from runyard.artifacts.stores.base import ArtifactStore
from runyard.exceptions import ArtifactError, ArtifactVersionWarning, PickleFallbackWarning


class Saved(NamedTuple):
    materializer: type[Materializer]
    uri: str
    content_hash: str
    loaded: Any
    metadata: dict[str, Any]


def roundtrip(store: ArtifactStore, value: Any, annotation: Any = None, *, data_type: Any = None) -> Saved:
    """save -> finalize -> load, checking the hashes recorded while writing against a full re-read."""
    cls = materializer_for(annotation if annotation is not None else type(value), value)
    materializer = cls(store)
    temp = store.new_temp_folder()
    materializer.save(value, temp)
    uri, content_hash, _size = store.finalize(temp, known_hashes=materializer.known_hashes)
    assert store.hash_folder(uri, known_hashes={})[0] == content_hash
    assert set(materializer.known_hashes) == set(store.walk_files(uri)), "every file is hashed while written"
    metadata = materializer.extract_metadata(value)
    json.dumps(metadata, allow_nan=False)  # metadata must be strict JSON
    return Saved(cls, uri, content_hash, cls(store).load(data_type, uri), metadata)


def same(a: Any, b: Any) -> bool:
    """Equal, of the same type all the way down, NaN equal to NaN."""
    if type(a) is not type(b):
        return False
    if isinstance(a, float | np.floating) and math.isnan(a):
        return math.isnan(b)
    if isinstance(a, list | tuple):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict):
        return list(a) == list(b) and all(same(a[k], b[k]) for k in a)
    if dataclasses.is_dataclass(a):
        return all(same(getattr(a, f.name), getattr(b, f.name)) for f in dataclasses.fields(a))
    return bool(a == b)


# --- module-level types (importable by the materializers that record a class path) ---------------------
@dataclass
class Inner:
    xs: tuple[int, ...]
    score: float


@dataclass(frozen=True)
class Config:
    name: str
    inner: Inner
    tags: frozenset[str] = frozenset()
    extra: dict[int, str] = field(default_factory=dict)


@dataclass(slots=True)
class Slotted:
    a: int


@dataclass
class WithArray:
    values: np.ndarray


class Point(BaseModel):
    x: float
    y: float


class Shape(BaseModel):
    name: str
    points: list[Point]
    meta: dict[str, int] = {}


class Opaque:
    def __init__(self, n: int) -> None:
        self.n = n

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Opaque) and other.n == self.n

    __hash__ = None  # type: ignore[assignment]


class Color(enum.IntEnum):
    RED = 1


class MyFrame(pd.DataFrame):
    @property
    def _constructor(self) -> type[MyFrame]:
        return MyFrame


# --- JSON --------------------------------------------------------------------------------------------
JSON_VALUES = [
    0, -5, 2**80, 1.5, -0.0, math.inf, -math.inf, math.nan, "héllo \ud800", "", True, None,
    [1, "a", None, [2.5]], {"a": [1, 2], "b": {"c": None}}, (1, (2, "x")), (), {3, 1, 2}, frozenset({"a", "b"}),
    {1: "int key", (1, 2): "tuple key", None: 0}, {"__runyard__": "not a tag"}, [math.nan, {"f": math.inf}],
    np.int64(7), np.float32(1.5), np.bool_(True), np.uint8(255), np.float64(math.nan),
    {"metrics": [np.int64(3), np.float64(0.25)]},
]


@pytest.mark.parametrize("value", JSON_VALUES, ids=lambda v: type(v).__name__)
def test_json_roundtrips_values_and_types(store: ArtifactStore, value: Any) -> None:
    saved = roundtrip(store, value)
    assert saved.materializer.name == "runyard.json"
    assert same(saved.loaded, value), (saved.loaded, value)


def test_json_sets_are_stored_canonically(local_store: ArtifactStore) -> None:
    words = [f"w{i}" for i in range(50)]
    first = roundtrip(local_store, set(words))
    second = roundtrip(local_store, set(reversed(words)))
    assert first.uri == second.uri


@pytest.mark.parametrize("value", [[Opaque(1)], {"a": object()}, Color.RED, {1: Opaque(2)}, [np.complex64(1j)]],
                         ids=["list_of_objects", "dict_with_object", "int_enum", "dict_value", "complex"])
def test_json_refuses_what_it_cannot_restore_exactly(local_store: ArtifactStore, value: Any) -> None:
    assert not materializer_class("runyard.json").handles_value(value)
    assert materializer_for(type(value), value).name == "runyard.cloudpickle"


def test_json_refuses_cycles() -> None:
    cyclic: list[Any] = []
    cyclic.append(cyclic)
    assert materializer_for(list, cyclic).name == "runyard.cloudpickle"


def test_json_metadata(local_store: ArtifactStore) -> None:
    assert roundtrip(local_store, 0.5).metadata == {"type": "float", "value": 0.5}
    assert roundtrip(local_store, [1, 2, 3]).metadata == {"type": "list", "length": 3}


def write_artifact(store: ArtifactStore, files: dict[str, bytes]) -> str:
    temp = store.new_temp_folder()
    for name, data in files.items():
        with store.open(f"{temp}/{name}", "wb") as handle:
            handle.write(data)
    return store.finalize(temp)[0]


def test_json_reads_format_1_payloads(local_store: ArtifactStore) -> None:
    """The stored format is a promise: payloads written by this version must load in later ones."""
    payload = (b'{"format":1,"value":{"__runyard__":"tuple","items":[1,{"__runyard__":"float","value":"-inf"},'
               b'{"__runyard__":"frozenset","items":["a"]},{"__runyard__":"dict","items":[[2,"b"]]},'
               b'{"__runyard__":"numpy","dtype":"int32","value":5}]}}')
    uri = write_artifact(local_store, {"data.json": payload})
    loaded = materializer_class("runyard.json")(local_store).load(None, uri)
    assert same(loaded, (1, -math.inf, frozenset({"a"}), {2: "b"}, np.int32(5)))
    newer = write_artifact(local_store, {"data.json": b'{"format":2,"value":null}'})
    with pytest.raises(ArtifactError, match="Upgrade runyard"):
        materializer_class("runyard.json")(local_store).load(None, newer)


# --- bytes and paths ---------------------------------------------------------------------------------
@pytest.mark.parametrize("value", [b"\x00abc\xff", b"", bytearray(b"xy")])
def test_bytes_roundtrip(store: ArtifactStore, value: bytes | bytearray) -> None:
    saved = roundtrip(store, value)
    assert saved.materializer.name == "runyard.bytes"
    assert same(saved.loaded, value)
    assert saved.metadata["size"] == len(value)


def test_path_file_roundtrip(store: ArtifactStore, tmp_path: Path) -> None:
    source = tmp_path / "model.onnx"
    source.write_bytes(b"weights" * 1000)
    saved = roundtrip(store, source)
    assert saved.materializer.name == "runyard.path"
    assert isinstance(saved.loaded, Path) and saved.loaded.name == "model.onnx"
    assert saved.loaded.read_bytes() == source.read_bytes()
    assert saved.metadata == {"kind": "file", "name": "model.onnx", "size": 7000}
    assert roundtrip(store, source).uri == saved.uri


def test_path_folder_roundtrip(store: ArtifactStore, tmp_path: Path) -> None:
    source = tmp_path / "report"
    (source / "img").mkdir(parents=True)
    (source / "index.html").write_text("<h1>hi</h1>")
    (source / "img" / "a.png").write_bytes(b"\x89PNG")
    saved = roundtrip(store, source)
    assert saved.loaded.is_dir() and saved.loaded.name == "report"
    assert (saved.loaded / "index.html").read_text() == "<h1>hi</h1>"
    assert (saved.loaded / "img" / "a.png").read_bytes() == b"\x89PNG"
    assert saved.metadata["files"] == 2


def test_path_that_does_not_exist_is_an_error(local_store: ArtifactStore, tmp_path: Path) -> None:
    with pytest.raises(ArtifactError, match="does not exist"):
        roundtrip(local_store, tmp_path / "missing.txt")


# --- numpy -------------------------------------------------------------------------------------------
NUMPY_ARRAYS = {
    "float2d": np.arange(12, dtype=np.float64).reshape(3, 4) / 7,
    "fortran": np.asfortranarray(np.arange(12, dtype=np.int32).reshape(3, 4)),
    "strided": np.arange(100, dtype=np.float32).reshape(10, 10)[::2, ::3],
    "bool": np.array([True, False, True]),
    "empty": np.zeros((0, 3)),
    "zero_d": np.array(4.5),
    "datetime": np.array(["2024-01-01", "2024-06-30"], dtype="datetime64[D]"),
    "structured": np.array([(1, 2.5), (3, 4.5)], dtype=[("a", "i4"), ("b", "f8")]),
    "strings": np.array(["a", "bcd"]),
}


@pytest.mark.parametrize("name", list(NUMPY_ARRAYS))
def test_numpy_arrays_roundtrip_as_npy(store: ArtifactStore, name: str) -> None:
    arr = NUMPY_ARRAYS[name]
    saved = roundtrip(store, arr)
    assert saved.materializer.name == "runyard.numpy"
    assert type(saved.loaded) is np.ndarray and saved.loaded.dtype == arr.dtype
    np.testing.assert_array_equal(saved.loaded, arr)
    expected = io.BytesIO()
    np.save(expected, arr, allow_pickle=False)
    with store.open(f"{saved.uri}/array.npy", "rb") as handle:
        assert handle.read() == expected.getvalue(), "byte-identical to np.save"
    assert saved.metadata["shape"] == list(arr.shape) and saved.metadata["dtype"] == str(arr.dtype)


def test_numpy_threaded_hash_and_mmap_load(local_store: ArtifactStore, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(numpy_materializer, "THREADED_HASH_MIN_BYTES", 0)
    monkeypatch.setattr(numpy_materializer, "MMAP_MIN_BYTES", 0)
    arr = np.random.default_rng(1).random((300, 50))
    saved = roundtrip(local_store, arr)
    loaded = saved.loaded
    assert type(loaded) is np.ndarray and loaded.flags.writeable
    np.testing.assert_array_equal(loaded, arr)
    loaded[:] = -1.0  # copy-on-write: the stored file must not change
    reloaded = materializer_class("runyard.numpy")(local_store).load(None, saved.uri)
    np.testing.assert_array_equal(reloaded, arr)
    assert local_store.hash_folder(saved.uri, known_hashes={})[0] == saved.content_hash


def test_numpy_dedupes_identical_arrays(local_store: ArtifactStore) -> None:
    assert roundtrip(local_store, np.arange(10)).uri == roundtrip(local_store, np.arange(10)).uri


def test_numpy_metadata_stats(local_store: ArtifactStore) -> None:
    meta = roundtrip(local_store, np.array([1.0, 2.0, np.nan, 3.0])).metadata
    assert meta["size"] == 4 and meta["nan_count"] == 1
    assert (meta["min"], meta["max"], meta["mean"]) == (1.0, 3.0, 2.0)
    assert meta["std"] == pytest.approx(np.std([1.0, 2.0, 3.0]))
    all_nan = roundtrip(local_store, np.full(3, np.nan)).metadata
    assert all_nan["min"] is None and all_nan["mean"] is None and all_nan["nan_count"] == 3
    assert "min" not in roundtrip(local_store, np.zeros(0)).metadata
    ints = roundtrip(local_store, np.arange(10, dtype=np.int16)).metadata
    assert (ints["min"], ints["max"], ints["mean"]) == (0, 9, 4.5)


@pytest.mark.parametrize("value", [np.complex128(1 + 2j), np.datetime64("2024-01-01"), np.str_("x")],
                         ids=["complex", "datetime", "str"])
def test_numpy_scalars_json_cannot_hold_use_npy(local_store: ArtifactStore, value: Any) -> None:
    saved = roundtrip(local_store, value)
    assert saved.materializer.name == "runyard.numpy"
    assert type(saved.loaded) is type(value) and saved.loaded == value


def test_numpy_object_arrays_fall_back(local_store: ArtifactStore) -> None:
    arr = np.array([{"a": 1}, None], dtype=object)
    assert materializer_for(np.ndarray, arr).name == "runyard.cloudpickle"
    assert materializer_for(np.ndarray, np.ma.masked_array([1, 2], mask=[0, 1])).name == "runyard.cloudpickle"


# --- pandas and arrow ----------------------------------------------------------------------------------
def sample_frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "i": [1, 2, 3],
            "f": [0.5, np.nan, 2.5],
            "s": ["a", "b", None],
            "t": pd.to_datetime(["2024-01-01", "2024-01-02", "2024-01-03"]),
            "c": pd.Categorical(["x", "y", "x"]),
            "b": [True, False, True],
        },
        index=pd.Index(["r1", "r2", "r3"], name="row"),
    )


def test_pandas_dataframe_roundtrip(store: ArtifactStore) -> None:
    frame = sample_frame()
    saved = roundtrip(store, frame)
    assert saved.materializer.name == "runyard.pandas"
    pd.testing.assert_frame_equal(saved.loaded, frame)
    assert saved.metadata["rows"] == 3 and saved.metadata["columns"] == 6
    assert saved.metadata["schema"]["i"] == "int64" and saved.metadata["schema"]["c"] == "category"
    assert saved.metadata["stats"]["f"]["mean"] == 1.5 and set(saved.metadata["stats"]) == {"i", "f"}
    assert roundtrip(store, sample_frame()).uri == saved.uri


def test_pandas_multiindex_and_range_index(local_store: ArtifactStore) -> None:
    multi = pd.DataFrame({"v": [1.0, 2.0]}, index=pd.MultiIndex.from_tuples([("a", 1), ("b", 2)], names=["k", "n"]))
    pd.testing.assert_frame_equal(roundtrip(local_store, multi).loaded, multi)
    ranged = pd.DataFrame({"v": range(5)}, index=pd.RangeIndex(10, 20, 2))
    pd.testing.assert_frame_equal(roundtrip(local_store, ranged).loaded, ranged)


@pytest.mark.parametrize("name", ["price", None, ("a", 1), 3])
def test_pandas_series_roundtrip_with_name(store: ArtifactStore, name: Any) -> None:
    series = pd.Series([1.5, 2.5, np.nan], index=pd.Index([10, 20, 30], name="id"), name=name)
    saved = roundtrip(store, series)
    assert isinstance(saved.loaded, pd.Series)
    pd.testing.assert_series_equal(saved.loaded, series)
    assert saved.metadata["rows"] == 3


def test_pandas_subclass_and_stats_cap(local_store: ArtifactStore) -> None:
    sub = MyFrame({"a": [1, 2]})
    assert materializer_for(MyFrame, sub).name == "runyard.pandas"
    loaded = roundtrip(local_store, sub, data_type=MyFrame).loaded
    assert type(loaded) is MyFrame
    wide = pd.DataFrame(np.ones((2, 60)), columns=[f"c{i}" for i in range(60)])
    meta = roundtrip(local_store, wide).metadata
    assert len(meta["stats"]) == 50 and meta["stats_truncated"] is True and len(meta["schema"]) == 60


def test_pandas_unrepresentable_frames(local_store: ArtifactStore) -> None:
    numbered = pd.DataFrame({0: [1], 1: [2]})
    assert materializer_for(pd.DataFrame, numbered).name == "runyard.cloudpickle"
    mixed = pd.DataFrame({"a": [1, "x"]})  # pyarrow cannot convert: pickled inside, with a warning
    with pytest.warns(UserWarning, match="Parquet cannot store"):
        saved = roundtrip(local_store, mixed)
    assert saved.materializer.name == "runyard.pandas"
    pd.testing.assert_frame_equal(saved.loaded, mixed)


def test_arrow_table_roundtrip(store: ArtifactStore) -> None:
    table = pa.table({"a": [1, 2, None], "b": ["x", "y", "z"], "l": [[1], [], [2, 3]]})
    saved = roundtrip(store, table)
    assert saved.materializer.name == "runyard.arrow"
    assert saved.loaded.equals(table)
    assert saved.metadata == {"rows": 3, "columns": 3,
                              "schema": {"a": "int64", "b": "string", "l": "list<item: int64>"}}


# --- pydantic and dataclasses ----------------------------------------------------------------------------
def test_pydantic_roundtrip(store: ArtifactStore) -> None:
    shape = Shape(name="tri", points=[Point(x=0, y=0), Point(x=1, y=math.inf)], meta={"n": 3})
    saved = roundtrip(store, shape)
    assert saved.materializer.name == "runyard.pydantic"
    assert saved.loaded == shape and type(saved.loaded) is Shape
    assert saved.metadata["fields"] == ["meta", "name", "points"]
    with_type = materializer_class("runyard.pydantic")(store).load(Shape, saved.uri)
    assert with_type == shape


def test_pydantic_load_failing_validation_is_an_artifact_error(local_store: ArtifactStore) -> None:
    saved = roundtrip(local_store, Point(x=1, y=2))
    with pytest.raises(ArtifactError, match="does not validate"):
        materializer_class("runyard.pydantic")(local_store).load(Shape, saved.uri)


def test_dataclass_roundtrip(store: ArtifactStore) -> None:
    config = Config(name="run", inner=Inner(xs=(1, 2), score=math.nan), tags=frozenset({"a"}), extra={1: "x"})
    saved = roundtrip(store, config)
    assert saved.materializer.name == "runyard.dataclass"
    assert same(saved.loaded, config) and type(saved.loaded.inner) is Inner
    assert saved.metadata == {"class": "test_materializers:Config", "fields": ["name", "inner", "tags", "extra"]}
    assert same(roundtrip(store, Slotted(a=3)).loaded, Slotted(a=3))
    assert same(roundtrip(store, [Inner(xs=(), score=1.0)]).loaded, [Inner(xs=(), score=1.0)])


def test_dataclasses_json_cannot_restore_fall_back() -> None:
    @dataclass
    class Local:
        a: int

    assert materializer_for(Local, Local(a=1)).name == "runyard.cloudpickle"
    assert materializer_for(WithArray, WithArray(values=np.zeros(2))).name == "runyard.cloudpickle"
    extra = Inner(xs=(), score=0.0)
    extra.note = "set outside the fields"  # type: ignore[attr-defined]
    assert materializer_for(Inner, extra).name == "runyard.cloudpickle"


# --- cloudpickle fallback ----------------------------------------------------------------------------------
def save_fallback(store: ArtifactStore, value: Any) -> str:
    with pytest.warns(PickleFallbackWarning, match=r"test_materializers\.Opaque.*Register a materializer"):
        saved = roundtrip(store, value)
    assert saved.materializer.name == "runyard.cloudpickle"
    assert saved.loaded == value
    return saved.uri


def test_cloudpickle_fallback_warns_and_records_versions(store: ArtifactStore) -> None:
    uri = save_fallback(store, Opaque(5))
    with store.open(f"{uri}/versions.json", "rb") as handle:
        versions = json.load(handle)
    assert versions["python"] == ".".join(map(str, sys.version_info[:3]))
    assert versions["type"] == "test_materializers.Opaque" and versions["package"] == "test_materializers"
    import cloudpickle

    assert versions["cloudpickle"] == cloudpickle.__version__


def rewrite(store: ArtifactStore, uri: str, name: str, data: bytes) -> None:
    with store.open(f"{uri}/{name}", "wb") as handle:
        handle.write(data)


def test_cloudpickle_version_mismatch_errors_name_both_versions(local_store: ArtifactStore) -> None:
    uri = save_fallback(local_store, Opaque(6))
    with local_store.open(f"{uri}/versions.json", "rb") as handle:
        versions = json.load(handle)
    versions.update(python="3.8.10", package="numpy", package_version="1.0.0")
    rewrite(local_store, uri, "versions.json", json.dumps(versions).encode())
    materializer = materializer_class("runyard.cloudpickle")(local_store)
    with pytest.warns(ArtifactVersionWarning, match="Python 3.8.10, numpy 1.0.0"):
        assert materializer.load(None, uri) == Opaque(6)
    rewrite(local_store, uri, "object.pkl", b"\x80\x05not a pickle")
    with pytest.raises(ArtifactError) as err:
        materializer.load(None, uri)
    message = str(err.value)
    assert "versions differ" in message and "Python 3.8.10, numpy 1.0.0" in message
    assert f"Python {sys.version_info.major}.{sys.version_info.minor}" in message and np.__version__ in message


def test_cloudpickle_corrupt_pickle_with_matching_versions(local_store: ArtifactStore) -> None:
    uri = save_fallback(local_store, Opaque(7))
    rewrite(local_store, uri, "object.pkl", b"garbage")
    with pytest.raises(ArtifactError, match="versions match"):
        materializer_class("runyard.cloudpickle")(local_store).load(None, uri)


# --- registry ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("annotation", "value", "expected"),
    [
        (Annotated[pd.DataFrame, "dataset"], pd.DataFrame({"a": [1]}), "runyard.pandas"),
        (Any, 3, "runyard.json"),
        (int | None, None, "runyard.json"),
        (int | None, 3, "runyard.json"),
        (Optional[np.ndarray], np.zeros(2), "runyard.numpy"),  # noqa: UP045 - the typing spelling on purpose
        (list[int], [1, 2], "runyard.json"),
        (float, np.float64(1.0), "runyard.json"),
        (Any, np.int64(1), "runyard.json"),
        (Any, np.complex64(1j), "runyard.numpy"),
        (Any, Config(name="c", inner=Inner(xs=(), score=0.0)), "runyard.dataclass"),
        (Annotated[Point, "p"], Point(x=0, y=0), "runyard.pydantic"),
        (BaseEstimator, LogisticRegression(), "runyard.sklearn"),
        (pd.DataFrame, None, "runyard.json"),  # the value decides when it does not match
        ("ForwardRef", b"x", "runyard.bytes"),
        (Any, Opaque(1), "runyard.cloudpickle"),
        (Any, Path("x"), "runyard.path"),
    ],
)
def test_materializer_for(annotation: Any, value: Any, expected: str) -> None:
    assert materializer_for(annotation, value).name == expected


def test_materializer_for_without_value_uses_annotation() -> None:
    assert materializer_for(np.ndarray).name == "runyard.numpy"
    assert materializer_for(Config).name == "runyard.dataclass"
    assert materializer_for(Opaque).name == "runyard.cloudpickle"


def test_builtin_classes_agree_with_registry_entries() -> None:
    entries = registry._all_entries()
    for name, entry in entries.items():
        if name.startswith("runyard."):
            cls = materializer_class(name)
            assert cls.name == name and set(cls.type_names) == set(entry.type_names), name


def test_registry_imports_only_what_it_needs() -> None:
    code = (
        "import sys; from runyard.artifacts.registry import materializer_for as m; "
        "assert m(int, 1).name == 'runyard.json'; "
        "heavy = [x for x in ('numpy', 'pandas', 'pyarrow', 'sklearn', 'skops') if x in sys.modules]; "
        "assert not heavy, heavy"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_no_warnings_for_builtin_types(local_store: ArtifactStore) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        roundtrip(local_store, {"a": 1})
        roundtrip(local_store, np.arange(3))
