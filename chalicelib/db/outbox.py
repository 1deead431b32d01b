"""The outbox: events written in the same transaction as the outcome they announce, published later by
the bridge (a row is marked published only after the broker confirmed it)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from chalicelib.db.models import OutboxEvent
from chalicelib.db.sql import is_postgres
from chalicelib.domain.events import ROUTING_KEYS


def add_event(session: Session, *, event_type: str, aggregate_id: str, payload: dict[str, Any]) -> None:
    session.add(
        OutboxEvent(
            event_type=event_type, routing_key=ROUTING_KEYS[event_type], aggregate_id=aggregate_id, payload=payload
        )
    )


def pending_batch(session: Session, limit: int) -> list[OutboxEvent]:
    """The oldest unpublished events; on Postgres locked so two drainers never take the same row."""
    query = select(OutboxEvent).where(OutboxEvent.published_at.is_(None)).order_by(OutboxEvent.created_at).limit(limit)
    if is_postgres(session):
        query = query.with_for_update(skip_locked=True)
    return list(session.scalars(query))


def mark_published(row: OutboxEvent) -> None:
    row.published_at = datetime.now(UTC)
    row.attempts += 1


def mark_failed(row: OutboxEvent, error: str) -> None:
    row.attempts += 1
    row.last_error = error[:2000]


def pending_count(session: Session) -> int:
    return int(session.scalar(select(func.count()).where(OutboxEvent.published_at.is_(None))) or 0)


def oldest_pending_age_seconds(session: Session, now: datetime | None = None) -> float:
    """Seconds since the oldest unpublished event was written (0 when none waits)."""
    oldest = session.scalar(select(func.min(OutboxEvent.created_at)).where(OutboxEvent.published_at.is_(None)))
    if oldest is None:
        return 0.0
    if oldest.tzinfo is None:  # SQLite returns naive UTC
        oldest = oldest.replace(tzinfo=UTC)
    return max(0.0, ((now or datetime.now(UTC)) - oldest).total_seconds())
