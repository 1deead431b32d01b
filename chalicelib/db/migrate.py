"""Run the Alembic migrations programmatically (same code path on Postgres and SQLite).

The revisions form one line with a single head (a test checks it). The `alembic` command line uses the
same environment through `alembic.ini` at the repository root; this module needs no ini file, so it also
works where only `chalicelib/` is shipped.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

from chalicelib.db.engine import get_engine, normalize_url
from chalicelib.settings import get_settings

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


def database_url(url: str | None = None) -> str:
    """The database to migrate: explicit argument, else DATABASE_URL, else the embedded SQLite file."""
    return normalize_url(url or get_settings().effective_database_url)


def alembic_config(url: str | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["database_url"] = database_url(url)
    return config


def upgrade(url: str | None = None, revision: str = "head") -> None:
    config = alembic_config(url)
    with get_engine(config.attributes["database_url"]).begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


def downgrade(url: str | None = None, revision: str = "base") -> None:
    config = alembic_config(url)
    with get_engine(config.attributes["database_url"]).begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, revision)
