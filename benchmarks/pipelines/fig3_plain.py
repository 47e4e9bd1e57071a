"""Figure 3 floor: a chain of N add_one calls as plain Python (``--steps N``)."""

import workloads

n = workloads.steps_arg()
x = workloads.trivial()
for _ in range(n - 1):
    x = workloads.add_one(x)
workloads.report(tool="plain", steps=n, result=x)
