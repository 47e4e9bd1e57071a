"""Log backends: where captured lines are stored and read back. Flavors of the ``log_backend`` type."""
