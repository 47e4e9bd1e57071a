"""Alembic environment of the control plane: runs on the connection handed over by ``db.migrate``."""

from __future__ import annotations

from alembic import context

from runyard.control_plane.db.migrate import VERSION_TABLE
from runyard.control_plane.db.models import Base

config = context.config
connection = config.attributes.get("connection")

if connection is None:  # `alembic` CLI use (autogenerate during development)
    from sqlalchemy import create_engine

    engine = create_engine(config.get_main_option("sqlalchemy.url") or "sqlite:///cp-alembic-dev.db")
    with engine.begin() as conn:
        context.configure(connection=conn, target_metadata=Base.metadata, render_as_batch=True,
                          version_table=VERSION_TABLE)
        with context.begin_transaction():
            context.run_migrations()
else:
    context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True,
                      version_table=VERSION_TABLE)
    with context.begin_transaction():
        context.run_migrations()
