"""Orchestrators: where and how a run's steps execute. Flavors register via entry points."""
