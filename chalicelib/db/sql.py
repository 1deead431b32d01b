"""Small helpers every repository shares: the dialect's INSERT (for ON CONFLICT) and aware datetimes."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session


def dialect_insert(session: Session, table: Any) -> Any:
    """INSERT of the session's dialect (Postgres or SQLite), so callers can use `on_conflict_do_update`."""
    return (postgresql.insert if is_postgres(session) else sqlite.insert)(table)


def is_postgres(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def aware(value: datetime | None) -> datetime | None:
    """SQLite hands datetimes back naive; they were written in UTC."""
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


def aware_required(value: datetime) -> datetime:
    """`aware` for a NOT NULL column."""
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
