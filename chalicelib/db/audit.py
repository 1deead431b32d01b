"""The audit log: who changed a workflow or the schedule, who ran, retried or cancelled what, and when."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from chalicelib.db.models import AuditEntry
from chalicelib.db.sql import aware


def _plain(values: dict[str, Any] | None) -> dict[str, Any] | None:
    """JSON-able copies of the values (dates and datetimes as ISO text)."""
    if values is None:
        return None
    return {k: v.isoformat() if isinstance(v, date | datetime) else v for k, v in values.items()}


def record(
    session: Session,
    *,
    actor: str,
    action: str,
    target_type: str,
    target: str,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> None:
    """One entry, in the caller's transaction (the change and its record commit together)."""
    session.add(
        AuditEntry(
            actor=actor[:200],
            action=action,
            target_type=target_type,
            target=target[:200],
            before=_plain(before),
            after=_plain(after),
        )
    )


def entries(
    session: Session, *, limit: int, after: int | None = None, target: str | None = None, action: str | None = None
) -> list[dict[str, Any]]:
    """Newest first; `after` continues below that entry id."""
    query = select(AuditEntry).order_by(AuditEntry.id.desc()).limit(limit)
    if after is not None:
        query = query.where(AuditEntry.id < after)
    if target is not None:
        query = query.where(AuditEntry.target == target)
    if action is not None:
        query = query.where(AuditEntry.action == action)
    return [
        {
            "id": e.id,
            "at": aware(e.at),
            "actor": e.actor,
            "action": e.action,
            "target_type": e.target_type,
            "target": e.target,
            "before": e.before,
            "after": e.after,
        }
        for e in session.scalars(query)
    ]
