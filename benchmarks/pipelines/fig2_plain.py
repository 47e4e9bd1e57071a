"""Figure 2 floor: load/split, train, evaluate called as plain Python in a fresh process."""

import workloads

X_train, X_test, y_train, y_test = workloads.load_split()
model = workloads.train(X_train, y_train)
accuracy = workloads.evaluate(model, X_test, y_test)
workloads.report(tool="plain", accuracy=accuracy)
