"""scikit-learn models in Runyard's own format: real estimators round-trip with equal predictions, nothing
outside the allow-list is imported or called while loading (hand-made attack files), models saved with skops
by earlier versions still load, and version differences are named."""

from __future__ import annotations

import io
import json
import os
import pathlib
import subprocess
import sys
import warnings
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.cluster import KMeans
from sklearn.compose import ColumnTransformer
from sklearn.datasets import load_iris
from sklearn.decomposition import PCA
from sklearn.ensemble import GradientBoostingClassifier, HistGradientBoostingClassifier, RandomForestClassifier
from sklearn.feature_selection import SelectKBest, f_classif
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, StandardScaler
from sklearn.svm import SVC

from runyard.artifacts.builtin.sklearn_materializer import SklearnMaterializer, trusting
from runyard.artifacts.builtin.sklearn_restore import Restorer
from runyard.artifacts.builtin.sklearn_state import Encoder
from runyard.artifacts.builtin.sklearn_trust import TrustPolicy
from runyard.artifacts.registry import materializer_for
from runyard.artifacts.stores.base import ArtifactStore
from runyard.artifacts.stores.local import LocalArtifactStore
from runyard.exceptions import ArtifactError, ArtifactVersionWarning

X, Y = load_iris(return_X_y=True)
FRAME = pd.DataFrame({"color": np.array(["red", "green", "blue"] * 50), "length": X[:, 0], "width": X[:, 1]})


class AddOne(TransformerMixin, BaseEstimator):
    """A custom estimator outside scikit-learn: loading must not trust it by default."""

    def fit(self, X: Any, y: Any = None) -> AddOne:
        return self

    def transform(self, X: Any) -> Any:
        return X + 1


class Boom:
    """Unpickling this creates ``path``: proof that a pickle payload ran."""

    def __init__(self, path: str) -> None:
        self.path = path

    def __reduce__(self) -> Any:
        return (pathlib.Path.touch, (pathlib.Path(self.path),))


def save(store: ArtifactStore, model: Any) -> str:
    materializer = SklearnMaterializer(store)
    temp = store.new_temp_folder()
    materializer.save(model, temp)
    uri, content_hash, _ = store.finalize(temp, known_hashes=materializer.known_hashes)
    assert store.hash_folder(uri, known_hashes={})[0] == content_hash, "hashes recorded while writing are right"
    return uri


def load(store: ArtifactStore, uri: str) -> Any:
    return SklearnMaterializer(store).load(None, uri)


def write_files(store: ArtifactStore, files: dict[str, bytes]) -> str:
    temp = store.new_temp_folder()
    for name, data in files.items():
        with store.open(f"{temp}/{name}", "wb") as handle:
            handle.write(data)
    return store.finalize(temp, known_hashes={})[0]


def write_npz(path: Path, *arrays: np.ndarray) -> None:
    """An arrays.npz as the format names its entries (0.npy, 1.npy, ...), written by plain np.save."""
    with zipfile.ZipFile(path, "w") as archive:
        for i, arr in enumerate(arrays):
            buffer = io.BytesIO()
            np.save(buffer, arr, allow_pickle=True)
            archive.writestr(f"{i}.npy", buffer.getvalue())


def model_file(root: Any, versions: dict[str, str] | None = None) -> bytes:
    return json.dumps({"format": 1, "versions": versions or {}, "root": root}).encode()


def outputs(model: Any, data: Any) -> list[np.ndarray]:
    found = [np.asarray(model.predict(data))] if hasattr(model, "predict") else []
    for method in ("predict_proba", "decision_function", "transform"):
        if hasattr(model, method):
            result = getattr(model, method)(data)
            found.append(result.toarray() if sp.issparse(result) else np.asarray(result))
    return found


MODELS = {
    "logistic_regression": lambda: (LogisticRegression(max_iter=500).fit(X, Y), X),
    "random_forest": lambda: (RandomForestClassifier(n_estimators=15, random_state=0).fit(X, Y), X),
    "gradient_boosting": lambda: (
        GradientBoostingClassifier(n_estimators=8, subsample=0.8, random_state=0).fit(X, Y), X),
    "hist_gradient_boosting": lambda: (HistGradientBoostingClassifier(max_iter=8).fit(X, Y), X),
    "pipeline_scaler_svc": lambda: (make_pipeline(StandardScaler(), SVC(random_state=0)).fit(X, Y), X),
    "kmeans": lambda: (KMeans(3, n_init=2, random_state=0).fit(X), X),
    "column_transformer_onehot": lambda: (make_pipeline(
        ColumnTransformer([("onehot", OneHotEncoder(handle_unknown="ignore"), ["color"]),
                           ("scale", StandardScaler(), ["length", "width"])]),
        LogisticRegression(max_iter=500)).fit(FRAME, Y), FRAME),
    "svc_on_sparse": lambda: (SVC().fit(sp.csr_matrix(X), Y), sp.csr_matrix(X)),
    "grid_search_with_masked_cv_results": lambda: (GridSearchCV(
        make_pipeline(StandardScaler(), LogisticRegression()), {"logisticregression__C": [0.1, 1.0]}, cv=3,
    ).fit(X, Y), X),
    "pca_kdtree_neighbors": lambda: (make_pipeline(PCA(2), KNeighborsClassifier(algorithm="kd_tree")).fit(X, Y), X),
    "ufunc_and_score_function": lambda: (
        make_pipeline(FunctionTransformer(np.log1p), SelectKBest(f_classif, k=2), LogisticRegression()).fit(X, Y), X),
}


@pytest.mark.parametrize("name", list(MODELS))
def test_real_estimators_roundtrip(store: ArtifactStore, name: str) -> None:
    model, data = MODELS[name]()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no pickle fallback, no untrusted-type warning, no version warning
        uri = save(store, model)
        assert save(store, model) == uri, "the same model gives the same bytes, so the same content address"
        loaded = load(store, uri)  # (checked before predicting: KDTree counts its queries in its state)
    assert type(loaded) is type(model)
    for before, after in zip(outputs(model, data), outputs(loaded, data), strict=True):
        np.testing.assert_array_equal(before, after)
    assert sorted(store.walk_files(uri)) == ["arrays.npz", "estimator.json"]
    if name == "grid_search_with_masked_cv_results":
        column = loaded.cv_results_["param_logisticregression__C"]
        assert isinstance(column, np.ma.MaskedArray) and list(column) == [0.1, 1.0]


def test_same_model_same_bytes_in_another_process(tmp_path: Path) -> None:
    """Content addresses must not depend on the process: no object addresses in the file."""
    code = (
        "import json, sys\n"
        "from sklearn.datasets import load_iris\n"
        "from sklearn.ensemble import GradientBoostingClassifier\n"
        "from runyard.artifacts.builtin.sklearn_state import Encoder\n"
        "X, y = load_iris(return_X_y=True)\n"
        "model = GradientBoostingClassifier(n_estimators=3, random_state=0).fit(X, y)\n"
        "shared = [1]\n"
        "model.extra_ = {'a': shared, 'b': shared, 'c': (shared,)}\n"
        "print(json.dumps(Encoder().document(model), sort_keys=True))\n"
    )
    outputs = {subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
               for _ in range(2)}
    assert len(outputs) == 1 and '"$": "ref"' in outputs.pop()


def test_arrays_are_plain_npy_and_versions_are_recorded(local_store: LocalArtifactStore) -> None:
    model = RandomForestClassifier(n_estimators=3, random_state=0).fit(X, Y)
    uri = save(local_store, model)
    with np.load(f"{uri}/arrays.npz", allow_pickle=False) as npz:  # any numpy reads them, no pickle
        assert len(npz.files) >= 6 and all(npz[k].dtype != object for k in npz.files)
    document = json.loads(Path(f"{uri}/estimator.json").read_text())
    import sklearn

    assert document["versions"]["sklearn"] == sklearn.__version__
    assert document["versions"]["numpy"] == np.__version__
    metadata = SklearnMaterializer(local_store).extract_metadata(model)
    assert metadata["sklearn_version"] == sklearn.__version__ and metadata["params"]["n_estimators"] == 3
    assert materializer_for(RandomForestClassifier, model) is SklearnMaterializer


def test_random_state_of_gradient_boosting_survives(local_store: LocalArtifactStore) -> None:
    model = GradientBoostingClassifier(n_estimators=3, subsample=0.5, random_state=0).fit(X, Y)
    loaded = load(local_store, save(local_store, model))
    assert isinstance(loaded._rng, np.random.RandomState)
    assert loaded._rng.randint(1 << 30) == model._rng.randint(1 << 30)


def tree_roundtrip(value: Any) -> Any:
    """Encode -> JSON text -> decode, without files (arrays passed along in memory)."""
    encoder = Encoder()
    text = json.dumps(encoder.document(value), allow_nan=False)
    return Restorer(encoder.arrays, TrustPolicy()).node(json.loads(text)["root"])


def test_builtin_values_shared_objects_and_cycles() -> None:
    shared = [1, 2]
    value: dict[Any, Any] = {
        "floats": [1.5, float("inf"), -0.0], "bytes": b"\x00\xff", "complex": 1 - 2j, "slice": slice(1, None, 2),
        "set": {3, 1}, "frozen": frozenset({"a"}), (1, "key"): None, "a": shared, "b": shared,
        "scalars": [np.float32(0.5), np.int64(-3), np.datetime64("2026-01-01")], "dtype": np.dtype([("x", "<f4")]),
        "types": (np.float64, int), "objects": np.array(["x", None, 3], dtype=object),
    }
    value["self"] = value
    out = tree_roundtrip(value)
    assert out["a"] is out["b"] and out["self"] is out
    assert np.isnan(tree_roundtrip(float("nan")))
    for key in ("floats", "bytes", "complex", "slice", "set", "frozen", "dtype", "types", (1, "key")):
        assert out[key] == value[key] and type(out[key]) is type(value[key]), key
    assert [type(s) for s in out["scalars"]] == [np.float32, np.int64, np.datetime64]
    assert out["scalars"] == value["scalars"]
    assert out["objects"].dtype == object and list(out["objects"]) == ["x", None, 3]


# --- trust ---------------------------------------------------------------------------------------------
def test_custom_estimator_needs_trust(local_store: LocalArtifactStore, monkeypatch: pytest.MonkeyPatch) -> None:
    model = make_pipeline(AddOne(), StandardScaler()).fit(np.ones((4, 2)))
    with pytest.warns(UserWarning, match=r"loading will refuse as untrusted: test_sklearn_format\.AddOne"):
        uri = save(local_store, model)
    with pytest.raises(ArtifactError, match=r"untrusted types test_sklearn_format\.AddOne") as err:
        load(local_store, uri)
    assert "RUNYARD_SKLEARN_TRUSTED=test_sklearn_format.AddOne" in str(err.value)
    with trusting("test_sklearn_format.AddOne"):
        ones = np.ones((1, 2))
        np.testing.assert_array_equal(load(local_store, uri).transform(ones), model.transform(ones))
    monkeypatch.setenv("RUNYARD_SKLEARN_TRUSTED", "test_sklearn_format")  # a module prefix
    assert isinstance(load(local_store, uri).steps[0][1], AddOne)
    monkeypatch.delenv("RUNYARD_SKLEARN_TRUSTED")
    monkeypatch.setenv("RUNYARD_SKOPS_TRUSTED_MODULES", "test_sklearn_format")  # the skops-era setting
    assert isinstance(load(local_store, uri).steps[0][1], AddOne)


def test_user_function_needs_trust(local_store: LocalArtifactStore) -> None:
    model = FunctionTransformer(np.mean)
    with pytest.warns(UserWarning, match=r"untrusted: numpy\.mean"):
        uri = save(local_store, model)
    with pytest.raises(ArtifactError, match=r"untrusted types numpy\.mean"):
        load(local_store, uri)
    with trusting("numpy.mean"):
        assert load(local_store, uri).func is np.mean


def test_lambdas_fall_back_to_pickle(local_store: LocalArtifactStore) -> None:
    model = FunctionTransformer(lambda x: x * 2)
    with pytest.warns(UserWarning, match="format cannot store this FunctionTransformer.*no import path"):
        uri = save(local_store, model)
    assert "object.pkl" in list(local_store.walk_files(uri))
    assert load(local_store, uri).transform(np.array([2.0]))[0] == 4.0


@pytest.fixture
def canary(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A module that leaves a file behind when imported: proof that a refused name was never imported."""
    marker = tmp_path / "imported"
    (tmp_path / "canary_module.py").write_text(
        f"import pathlib\npathlib.Path({str(marker)!r}).touch()\nclass Evil:\n    pass\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    return marker


ATTACKS = {
    "os.system as class": {"$": "obj", "cls": "os:system", "new": []},
    "builtins.eval as function": {"$": "func", "name": "builtins:eval"},
    "subprocess.Popen as class": {"$": "obj", "cls": "subprocess:Popen", "call": [["id"]]},
    "joblib.load as function": {"$": "func", "name": "joblib.numpy_pickle:load"},
    "joblib.load as class": {"$": "obj", "cls": "joblib.numpy_pickle:load", "new": []},
    "sklearn test helper running scripts": {
        "$": "func", "name": "sklearn.utils._testing:assert_run_python_script_without_output"},
    "sklearn dataset downloader": {"$": "func", "name": "sklearn.datasets._openml:fetch_openml"},
    "sklearn private function": {"$": "func", "name": "sklearn.utils.validation:check_array"},
    "unknown module": {"$": "obj", "cls": "canary_module:Evil", "new": []},
    "type outside numpy scalars": {"$": "type", "name": "os:PathLike"},
}


@pytest.mark.parametrize("attack", list(ATTACKS))
def test_attack_files_are_refused_before_anything_is_imported(
        local_store: LocalArtifactStore, canary: Path, attack: str) -> None:
    root = {"$": "obj", "cls": "sklearn.preprocessing._data:StandardScaler", "new": [],
            "state": {"$": "dict", "s": {"payload": ATTACKS[attack], "canary": {"$": "obj", "cls": "canary_module:Evil",
                                                                                   "new": []}}}}
    uri = write_files(local_store, {"estimator.json": model_file(root)})
    with pytest.raises(ArtifactError, match=r"Refusing to load the model.*untrusted types") as err:
        load(local_store, uri)
    assert "canary_module.Evil" in str(err.value), "every refused name is listed at once"
    assert not canary.exists() and "canary_module" not in sys.modules


MALFORMED = {
    "python class rebuilt by calling it": (
        {"$": "obj", "cls": "sklearn.linear_model._logistic:LogisticRegression", "call": [1.0]}, "only be rebuilt"),
    "alias through a module attribute": (
        {"$": "func", "name": "sklearn.metrics._classification:check_array"}, "not a function defined there"),
    "class that does not exist": ({"$": "obj", "cls": "sklearn.tree._tree:NoSuchTree", "new": []}, "does not have"),
    "unknown tag": ({"$": "exec", "v": "print(1)"}, "unknown node 'exec'"),
    "object dtype scalar": ({"$": "scalar", "dtype": "|O", "hex": "00" * 8}, "bad numpy scalar"),
    "bit generator that is not numpy's": ({"$": "generator", "bitgen": "os", "state": {}}, "unknown bit generator"),
    "reference forward": ({"$": "ref", "id": 5}, "not built yet"),
    "array index out of range": ({"$": "array", "i": 3}, "out of range"),
}


@pytest.mark.parametrize("case", list(MALFORMED))
def test_malformed_files_fail_clearly(local_store: LocalArtifactStore, case: str) -> None:
    root, message = MALFORMED[case]
    uri = write_files(local_store, {"estimator.json": model_file(root, {"sklearn": "0.0.1"})})
    with pytest.raises(ArtifactError, match=message):
        load(local_store, uri)


def test_pickled_object_arrays_are_never_unpickled(local_store: LocalArtifactStore, tmp_path: Path) -> None:
    marker = tmp_path / "unpickled"
    write_npz(tmp_path / "arrays.npz", np.array([Boom(str(marker))], dtype=object))  # np.save pickles it
    for node in ({"$": "array", "i": 0}, {"$": "array", "i": 0, "dtype": "|O", "shape": [1], "fortran": False}):
        uri = write_files(local_store, {"estimator.json": model_file(node),
                                        "arrays.npz": (tmp_path / "arrays.npz").read_bytes()})
        with pytest.raises(ArtifactError, match=r"damaged: array 0: .*[Oo]bject arrays"):
            load(local_store, uri)
    assert not marker.exists()


def test_array_header_in_the_tree_must_match_the_file(local_store: LocalArtifactStore, tmp_path: Path) -> None:
    write_npz(tmp_path / "arrays.npz", np.arange(6.0))
    for shape, dtype in (([7], "<f8"), ([6], "<f4")):
        node = {"$": "array", "i": 0, "dtype": dtype, "shape": shape, "fortran": False}
        uri = write_files(local_store, {"estimator.json": model_file(node),
                                        "arrays.npz": (tmp_path / "arrays.npz").read_bytes()})
        with pytest.raises(ArtifactError, match="cannot hold"):
            load(local_store, uri)
    node = {"$": "array", "i": 0, "dtype": "<f8", "shape": [2, 3], "fortran": True}
    uri = write_files(local_store, {"estimator.json": model_file(node),
                                    "arrays.npz": (tmp_path / "arrays.npz").read_bytes()})
    np.testing.assert_array_equal(load(local_store, uri), np.arange(6.0).reshape(2, 3, order="F"))


def test_version_mismatch_is_named(local_store: LocalArtifactStore) -> None:
    root = {"$": "obj", "cls": "sklearn.tree._tree:TreeFromTheFuture", "new": []}
    uri = write_files(local_store, {"estimator.json": model_file(root, {"sklearn": "9.0", "numpy": "9.1"})})
    with pytest.raises(ArtifactError, match=r"saved with scikit-learn 9\.0, numpy 9\.1.*scikit-learn 1\.") as err:
        load(local_store, uri)
    assert "versions it was saved with" in str(err.value)
    plain = {"$": "obj", "cls": "sklearn.preprocessing._data:StandardScaler", "new": [],
             "state": {"$": "dict", "s": {"with_mean": True}}}
    uri = write_files(local_store, {"estimator.json": model_file(plain, {"sklearn": "9.0"})})
    with pytest.warns(ArtifactVersionWarning, match="saved with scikit-learn 9.0 .*may behave differently"):
        assert load(local_store, uri).with_mean is True
    newer = json.dumps({"format": 99, "root": None}).encode()
    with pytest.raises(ArtifactError, match="Upgrade runyard"):
        load(local_store, write_files(local_store, {"estimator.json": newer}))


# --- models written with skops by earlier versions --------------------------------------------------------
def test_skops_artifacts_still_load(local_store: LocalArtifactStore, monkeypatch: pytest.MonkeyPatch) -> None:
    import skops.io as sio

    model = make_pipeline(StandardScaler(), LogisticRegression()).fit(X, Y)
    uri = write_files(local_store, {"model.skops": sio.dumps(model)})
    np.testing.assert_array_equal(load(local_store, uri).predict_proba(X), model.predict_proba(X))
    custom = make_pipeline(AddOne(), StandardScaler()).fit(np.ones((4, 2)))
    uri = write_files(local_store, {"model.skops": sio.dumps(custom)})
    with pytest.raises(ArtifactError, match=r"untrusted types test_sklearn_format\.AddOne"):
        load(local_store, uri)
    monkeypatch.setenv("RUNYARD_SKOPS_TRUSTED_MODULES", "test_sklearn_format")
    assert isinstance(load(local_store, uri).steps[0][1], AddOne)


def test_save_and_load_never_import_skops(tmp_path: Path) -> None:
    code = (
        "import sys, numpy as np\n"
        "from sklearn.linear_model import LogisticRegression\n"
        "from runyard.artifacts.stores.local import LocalArtifactStore\n"
        "from runyard.artifacts.registry import materializer_for\n"
        f"store = LocalArtifactStore({str(tmp_path)!r})\n"
        "model = LogisticRegression().fit(np.arange(8.0).reshape(4, 2), [0, 1, 0, 1])\n"
        "cls = materializer_for(LogisticRegression, model); m = cls(store); temp = store.new_temp_folder()\n"
        "m.save(model, temp); uri = store.finalize(temp, known_hashes=m.known_hashes)[0]\n"
        "assert (cls(store).load(None, uri).coef_ == model.coef_).all()\n"
        "assert 'skops' not in sys.modules, 'skops imported'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, env={**os.environ, "PYTHONWARNINGS": "error"})


# --- the format over time and through a real run ------------------------------------------------------------
DATA = Path(__file__).parent / "data" / "sklearn_format_v1"


def test_format_v1_files_still_load(local_store: LocalArtifactStore) -> None:
    """Files written by the first version of the format (committed) load and predict as they did."""
    uri = write_files(local_store, {name: (DATA / name).read_bytes() for name in ("estimator.json", "arrays.npz")})
    expected = json.loads((DATA / "expected.json").read_text())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a newer scikit-learn than 1.9.1 warns, and should still load it
        model = load(local_store, uri)
    np.testing.assert_allclose(model.predict_proba(np.array(expected["X"])), expected["proba"], rtol=1e-12)


def test_model_from_a_pipeline_run_loads_in_a_fresh_process(runyard_home: Path) -> None:
    from runyard import pipeline, step

    @step
    def train() -> Any:
        return make_pipeline(StandardScaler(), LogisticRegression(max_iter=500)).fit(X, Y)

    @step
    def score(model: Any) -> float:
        return float(model.score(X, Y))

    @pipeline(enable_cache=False)
    def fit_and_score() -> None:
        score(train())

    run = fit_and_score()
    assert run.status == "completed"
    version = run.steps["train"].outputs["output"]
    assert sorted(os.listdir(version.uri)) == ["arrays.npz", "estimator.json"], "stored in Runyard's format"
    code = (
        "import sys\n"
        "from runyard import Client\n"
        f"model = Client().get_artifact_version({str(version.id)!r}).load()\n"
        "from sklearn.datasets import load_iris\n"
        "X, y = load_iris(return_X_y=True)\n"
        "print(model.score(X, y))\n"
        "assert 'skops' not in sys.modules\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                          env={**os.environ, "RUNYARD_HOME": str(runyard_home)})
    assert float(done.stdout.strip().splitlines()[-1]) == run.steps["score"].outputs["output"].load()
