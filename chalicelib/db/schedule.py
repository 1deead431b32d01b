"""Scheduling state: catch-up watermarks per workflow and scope, and the dispatch lock's `orchestrator_leader`
rows (who holds it, since when, last heartbeat)."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from chalicelib.db.models import Leader, ScheduleWatermark
from chalicelib.db.sql import aware_required, dialect_insert


def watermarks(session: Session, workflow_name: str) -> dict[str, datetime]:
    rows = session.execute(
        select(ScheduleWatermark.scope, ScheduleWatermark.watermark_at).where(
            ScheduleWatermark.workflow_name == workflow_name
        )
    )
    return {scope: aware_required(at) for scope, at in rows}


def advance_watermark(session: Session, workflow_name: str, scope: str, to: datetime) -> None:
    """Move the watermark forward to `to` (never back): instants before it count as handled."""
    now = datetime.now(UTC)
    stmt = dialect_insert(session, ScheduleWatermark).values(
        workflow_name=workflow_name, scope=scope, watermark_at=to, updated_at=now
    )
    stmt = stmt.on_conflict_do_update(
        index_elements=["workflow_name", "scope"],
        set_={"watermark_at": stmt.excluded.watermark_at, "updated_at": stmt.excluded.updated_at},
        where=ScheduleWatermark.watermark_at < stmt.excluded.watermark_at,
    )
    session.execute(stmt)


def record_leader(
    session: Session,
    lock_name: str,
    *,
    instance: str,
    token: str,
    fencing_token: int,
    ttl_seconds: int,
    acquired: bool,
) -> None:
    """The `orchestrator_leader` row: which instance holds the dispatch lock (under which lease token),
    since when, last heartbeat, TTL."""
    now = datetime.now(UTC)
    row = session.get(Leader, lock_name)
    if row is None:
        session.add(
            Leader(
                lock_name=lock_name,
                instance_id=instance,
                lock_token=token,
                fencing_token=fencing_token,
                acquired_at=now,
                heartbeat_at=now,
                ttl_seconds=ttl_seconds,
            )
        )
        return
    if acquired:
        row.instance_id, row.lock_token, row.fencing_token, row.acquired_at = instance, token, fencing_token, now
    elif row.lock_token != token:
        return  # a late heartbeat of a lost lease never overwrites the new holder
    row.heartbeat_at, row.ttl_seconds = now, ttl_seconds


def leader_rows(session: Session) -> list[Leader]:
    return list(session.scalars(select(Leader).order_by(Leader.lock_name)))
