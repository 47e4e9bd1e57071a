"""Stacks: which orchestrator, artifact store (and later registry, log backend...) a run uses."""
