"""The control-plane database: ORM models, engine and migrations (its own Alembic folder)."""
