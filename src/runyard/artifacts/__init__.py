"""Artifacts: materializers (a Python type <-> files) and artifact stores (where the files live)."""
