"""One module per dashboard resource, mirroring ``workspace/api`` and ``workspace/services``."""
