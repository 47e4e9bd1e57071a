"""Figure 2, ZenML: load+split -> train LogisticRegression -> evaluate accuracy."""

from typing import Annotated

import numpy as np
import workloads
from sklearn.linear_model import LogisticRegression
from zenml import pipeline, step


@step(enable_cache=False)
def load_split() -> tuple[
    Annotated[np.ndarray, "X_train"],
    Annotated[np.ndarray, "X_test"],
    Annotated[np.ndarray, "y_train"],
    Annotated[np.ndarray, "y_test"],
]:
    X_train, X_test, y_train, y_test = workloads.load_split()
    return X_train, X_test, y_train, y_test


@step(enable_cache=False)
def train(X_train: np.ndarray, y_train: np.ndarray) -> Annotated[LogisticRegression, "model"]:
    return workloads.train(X_train, y_train)


@step(enable_cache=False)
def evaluate(model: LogisticRegression, X_test: np.ndarray, y_test: np.ndarray) -> Annotated[float, "accuracy"]:
    return workloads.evaluate(model, X_test, y_test)


@pipeline(enable_cache=False)
def training():
    X_train, X_test, y_train, y_test = load_split()
    model = train(X_train, y_train)
    evaluate(model, X_test, y_test)


if __name__ == "__main__":
    run = training()
    accuracy = run.steps["evaluate"].outputs["accuracy"][0].load()
    workloads.report(tool="zenml", status=str(run.status), accuracy=accuracy)
