"""Alembic environment: the caller hands over a connection (see chalicelib.db.migrate)."""

from __future__ import annotations

from alembic import context

from chalicelib.db.models import Base

config = context.config
connection = config.attributes.get("connection")
if connection is None:  # pragma: no cover - only `alembic` CLI use without the helper
    raise RuntimeError("run migrations through chalicelib.db.migrate.upgrade()")

context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
