"""Alembic environment: runs on the connection handed over by ``runyard.workspace.db.migrate``."""

from __future__ import annotations

from alembic import context

from runyard.workspace.db.models import Base

config = context.config
connection = config.attributes.get("connection")

if connection is None:  # `alembic` CLI use (autogenerate during development)
    from sqlalchemy import create_engine

    engine = create_engine(config.get_main_option("sqlalchemy.url") or "sqlite:///alembic-dev.db")
    with engine.begin() as conn:
        context.configure(connection=conn, target_metadata=Base.metadata, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()
else:
    context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()
