"""Alembic environment, shared by the programmatic path and the `alembic` command line.

Programmatic (`chalicelib.db.migrate`, used by the tests and the local stack): the caller hands over an open
connection in `config.attributes["connection"]` and owns its transaction.

Command line (`alembic.ini` at the repository root): the database is, first match wins,
`-x database_url=...`, then `DATABASE_URL`, then the embedded SQLite file — resolved and normalized (pg8000)
exactly as the application does it (`chalicelib.db.migrate.database_url`). `--sql` renders the SQL offline.
"""

from __future__ import annotations

from logging.config import fileConfig
from typing import Any

from alembic import context
from sqlalchemy.engine import Connection, make_url

from chalicelib.db.engine import get_engine
from chalicelib.db.migrate import database_url
from chalicelib.db.models import Base

config = context.config
target_metadata = Base.metadata

if config.config_file_name is not None:
    fileConfig(config.config_file_name, disable_existing_loggers=False)


def _url() -> str:
    return database_url(
        context.get_x_argument(as_dictionary=True).get("database_url") or config.attributes.get("database_url")
    )


def _options(dialect_name: str) -> dict[str, Any]:
    # SQLite cannot ALTER most things in place: batch mode rebuilds the table (autogenerate renders it too).
    return {"target_metadata": target_metadata, "render_as_batch": dialect_name == "sqlite", "compare_type": True}


def run_offline() -> None:
    url = _url()
    context.configure(
        url=url, literal_binds=True, dialect_opts={"paramstyle": "named"}, **_options(make_url(url).get_backend_name())
    )
    with context.begin_transaction():
        context.run_migrations()


def run_on(connection: Connection) -> None:
    context.configure(connection=connection, **_options(connection.dialect.name))
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        run_on(connection)
        return
    engine = get_engine(_url())  # the application's engine setup: SQLite WAL + busy timeout, pg8000
    try:
        with engine.begin() as connection:
            run_on(connection)
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_offline()
else:
    run_online()
