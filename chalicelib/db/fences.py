"""Fencing: a run whose lock was taken over by a newer run cannot write.

The dispatcher registers each run lock's fencing number as soon as it holds the lock; every step and
finish write checks it (on Postgres inside the write itself, see `steps.record_step`).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from chalicelib.db.models import Execution, RunFence
from chalicelib.db.sql import dialect_insert, is_postgres
from chalicelib.errors import StaleRunError


def register_fence(session: Session, workflow_name: str, scope: str, fencing_token: int, execution_name: str) -> None:
    """Record that `fencing_token` was handed out for (workflow, scope); the highest number wins.

    Called by the dispatcher as soon as it holds the run lock and again by StartRun (idempotent), so a
    stalled older run is fenced off before the newer one writes anything.
    """
    stmt = dialect_insert(session, RunFence).values(
        workflow_name=workflow_name,
        scope=scope,
        fencing_token=fencing_token,
        execution_name=execution_name,
        updated_at=datetime.now(UTC),
    )
    stmt = stmt.on_conflict_do_update(
        index_elements=["workflow_name", "scope"],
        set_={
            "fencing_token": stmt.excluded.fencing_token,
            "execution_name": stmt.excluded.execution_name,
            "updated_at": stmt.excluded.updated_at,
        },
        where=RunFence.fencing_token < stmt.excluded.fencing_token,
    )
    session.execute(stmt)


def stored_fence(session: Session, workflow_name: str, scope: str) -> int:
    """The highest fencing number registered for (workflow, scope); 0 when none was."""
    value = session.scalar(
        select(RunFence.fencing_token).where(RunFence.workflow_name == workflow_name, RunFence.scope == scope)
    )
    return int(value or 0)


def check_fence(session: Session, execution_id: str) -> None:
    """Refuse the write (StaleRunError) when a newer holder of the run's lock registered a greater
    fencing number than the one this execution started with. Runs without a number are not fenced.

    On Postgres the fence row is read FOR SHARE: a takeover's registration waits for this transaction,
    and this transaction waits for a takeover in progress, so the check and the write cannot straddle it.
    """
    query = (
        select(Execution.execution_name, Execution.fencing_token, RunFence.fencing_token, RunFence.execution_name)
        .join(RunFence, (RunFence.workflow_name == Execution.workflow_name) & (RunFence.scope == Execution.scope))
        .where(Execution.id == uuid.UUID(execution_id))
    )
    if is_postgres(session):
        query = query.with_for_update(read=True, of=RunFence)
    row = session.execute(query).first()
    if row is None:
        return
    name, own, newest, newest_name = row
    if own is not None and newest is not None and newest > own:
        raise StaleRunError(
            f"run {name} holds fencing number {own} but {newest_name} took its lock over with {newest}: "
            "this run's write is refused"
        )
