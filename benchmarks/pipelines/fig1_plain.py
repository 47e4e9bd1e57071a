"""Figure 1 floor: the trivial step's function called as plain Python in a fresh process."""

import workloads

result = workloads.trivial()
workloads.report(tool="plain", result=result)
