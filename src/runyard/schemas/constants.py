"""Wire constants that clients need without the models: kept free of pydantic, so a pipeline process
(which speaks to the workspace through plain records) can read them without building any schema."""

from __future__ import annotations

#: Bumped whenever a wire schema changes incompatibly; client and server compare it.
SCHEMA_VERSION = 1

#: Hard cap on a list page, so no request can ask the database for everything at once.
MAX_PAGE_SIZE = 500
DEFAULT_PAGE_SIZE = 50

#: The project of everything created without naming one (and of everything from before projects existed).
DEFAULT_PROJECT = "default"
#: Project names, as the control plane allows them (lowercase slug).
PROJECT_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,62}$"
