"""Storage of the workspace: ORM models, engine set-up and migrations."""
