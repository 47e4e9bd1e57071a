"""Quickstart: a small, real ML pipeline on a dataset scikit-learn ships (no download needed).

    python examples/quickstart/pipeline.py            # or: make demo

load -> split -> train -> evaluate -> report. Run it twice: the second run is served from the cache.
Then look around with `runyard run list`, `runyard run show <id>`, `runyard artifact show model`.
"""

from __future__ import annotations

from typing import Annotated, Any

import numpy as np
import pandas as pd
from sklearn.pipeline import Pipeline

from runyard import Client, log_metadata, pipeline, step


@step
def load_data() -> Annotated[pd.DataFrame, "dataset"]:
    """The Wisconsin breast cancer dataset as a DataFrame with a `target` column."""
    from sklearn.datasets import load_breast_cancer

    frame = load_breast_cancer(as_frame=True).frame
    log_metadata({"rows": len(frame), "source": "sklearn.datasets.load_breast_cancer"})
    return frame


@step
def split(
    dataset: pd.DataFrame, test_size: float = 0.25, seed: int = 42
) -> tuple[
    Annotated[pd.DataFrame, "train_set"],
    Annotated[pd.DataFrame, "test_set"],
]:
    from sklearn.model_selection import train_test_split

    train_set, test_set = train_test_split(dataset, test_size=test_size, random_state=seed,
                                           stratify=dataset["target"])
    return train_set, test_set


@step
def train(train_set: pd.DataFrame, c: float = 1.0) -> Annotated[Pipeline, "model"]:
    """A scaled logistic regression; saved in Runyard's safe model format (JSON state + .npy, no pickle)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    model = make_pipeline(StandardScaler(), LogisticRegression(C=c, max_iter=1000))
    model.fit(train_set.drop(columns="target"), train_set["target"])
    return model


@step
def evaluate(model: Pipeline, test_set: pd.DataFrame) -> Annotated[dict[str, Any], "metrics"]:
    from sklearn.metrics import accuracy_score, f1_score, roc_auc_score

    features, labels = test_set.drop(columns="target"), test_set["target"]
    predicted = model.predict(features)
    scores = model.predict_proba(features)[:, 1]
    metrics = {
        "accuracy": round(float(accuracy_score(labels, predicted)), 4),
        "f1": round(float(f1_score(labels, predicted)), 4),
        "roc_auc": round(float(roc_auc_score(labels, scores)), 4),
        "test_rows": len(test_set),
    }
    log_metadata(metrics, on_run=True)  # shown on the run, comparable across runs
    return metrics


@step
def confusion(model: Pipeline, test_set: pd.DataFrame) -> Annotated[np.ndarray, "confusion_matrix"]:
    from sklearn.metrics import confusion_matrix

    return confusion_matrix(test_set["target"], model.predict(test_set.drop(columns="target")))


@pipeline
def quickstart(test_size: float = 0.25, c: float = 1.0) -> None:
    """Train and evaluate a classifier; every output is a tracked, versioned artifact."""
    dataset = load_data()
    train_set, test_set = split(dataset, test_size=test_size)
    model = train(train_set, c=c)
    evaluate(model, test_set)
    confusion(model, test_set)


def main() -> int:
    run = quickstart()
    print(f"\nRun {run.name}: {run.status}")
    for name, st in run.steps.items():
        print(f"  {name:<10} {st.status:<10} {st.cache_explanation or ''}")
    if run.status != "completed":
        return 1
    metrics = run.steps["evaluate"].outputs["metrics"].load()
    print(f"\nMetrics: {metrics}")
    model = Client().get_artifact_version("model")
    print(f"Model artifact: version {model.version}, sha256 {model.content_hash[:16]}..., at {model.uri}")
    print(f"\nExplore: runyard run show {run.id}")
    print(f"Dashboard: start it with `runyard up`, then open http://127.0.0.1:8080/runs/{run.id}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
