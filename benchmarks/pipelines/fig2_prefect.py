"""Figure 2, Prefect 3: load+split -> train LogisticRegression -> evaluate accuracy, as tasks."""

import workloads
from prefect import flow, task
from prefect.cache_policies import NO_CACHE


@task(cache_policy=NO_CACHE)
def load_split():
    return workloads.load_split()


@task(cache_policy=NO_CACHE)
def train(X_train, y_train):
    return workloads.train(X_train, y_train)


@task(cache_policy=NO_CACHE)
def evaluate(model, X_test, y_test) -> float:
    return workloads.evaluate(model, X_test, y_test)


@flow
def training() -> float:
    X_train, X_test, y_train, y_test = load_split()
    model = train(X_train, y_train)
    return evaluate(model, X_test, y_test)


if __name__ == "__main__":
    state = training(return_state=True)
    workloads.report(tool="prefect", status=state.type.value, accuracy=state.result())
