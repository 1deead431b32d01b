"""Run the Alembic migrations programmatically (same code path on Postgres and SQLite)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

from chalicelib.db.engine import get_engine, normalize_url
from chalicelib.settings import get_settings

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


def alembic_config(url: str | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["database_url"] = normalize_url(url or get_settings().effective_database_url)
    return config


def upgrade(url: str | None = None, revision: str = "heads") -> None:
    config = alembic_config(url)
    with get_engine(config.attributes["database_url"]).begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


def downgrade(url: str | None = None, revision: str = "base") -> None:
    config = alembic_config(url)
    with get_engine(config.attributes["database_url"]).begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, revision)
