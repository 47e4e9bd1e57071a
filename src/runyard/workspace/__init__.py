"""The Workspace Server: metadata API (``api/``), logic (``services/``) and storage (``db/``)."""
