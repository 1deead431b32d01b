"""Read model of the console: per-step and per-tenant aggregates of one execution's step rows, computed by
the database (one GROUP BY each), so an execution of 10,000 tenants costs two small result sets."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from chalicelib.db.models import StepRun
from chalicelib.db.sql import aware
from chalicelib.domain.models import FINAL_STEP


def step_counts(session: Session, execution_id: str, *, tenant_id: str | None = None) -> dict[str, tuple[int, int]]:
    """Per step: (tenants that completed it, tenants that failed it)."""
    only = [StepRun.tenant_id == tenant_id] if tenant_id is not None else []
    rows = session.execute(
        select(
            StepRun.step_name,
            func.sum(case((StepRun.status == "completed", 1), else_=0)),
            func.sum(case((StepRun.status == "failed", 1), else_=0)),
        )
        .where(StepRun.execution_id == uuid.UUID(execution_id), *only)
        .group_by(StepRun.step_name)
    )
    return {name: (int(done or 0), int(failed or 0)) for name, done, failed in rows}


def tenant_summaries(
    session: Session, execution_id: str, *, tenant_id: str | None = None, tenant_ids: list[str] | None = None
) -> dict[str, dict[str, Any]]:
    """Per tenant with at least one step row (all, one, or those listed): steps completed and failed,
    whether its last step completed, the time spent in its steps and when its last step was recorded."""
    only = [StepRun.tenant_id == tenant_id] if tenant_id is not None else []
    if tenant_ids is not None:
        only.append(StepRun.tenant_id.in_(tenant_ids))
    rows = session.execute(
        select(
            StepRun.tenant_id,
            func.sum(case((StepRun.status == "completed", 1), else_=0)),
            func.sum(case((StepRun.status == "failed", 1), else_=0)),
            func.sum(case(((StepRun.step_name == FINAL_STEP) & (StepRun.status == "completed"), 1), else_=0)),
            func.sum(StepRun.duration_ms),
            func.max(StepRun.created_at),
        )
        .where(StepRun.execution_id == uuid.UUID(execution_id), *only)
        .group_by(StepRun.tenant_id)
    )
    return {
        tenant: {
            "steps_completed": int(done or 0),
            "steps_failed": int(failed or 0),
            "finished": bool(final),
            "duration_ms": round(float(duration), 1) if duration is not None else None,
            "last_step_at": aware(last),
        }
        for tenant, done, failed, final, duration, last in rows
    }


def failures(
    session: Session, execution_id: str, *, tenant_id: str | None = None, tenant_ids: list[str] | None = None
) -> dict[str, dict[str, Any]]:
    """Per failed tenant (all, one, or those listed): its first failed step and the error."""
    only = [StepRun.tenant_id == tenant_id] if tenant_id is not None else []
    if tenant_ids is not None:
        only.append(StepRun.tenant_id.in_(tenant_ids))
    rows = session.execute(
        select(StepRun.tenant_id, StepRun.step_name, StepRun.error_type, StepRun.error_message)
        .where(StepRun.execution_id == uuid.UUID(execution_id), StepRun.status == "failed", *only)
        .order_by(StepRun.tenant_id, StepRun.created_at)
    )
    found: dict[str, dict[str, Any]] = {}
    for tenant, step, error_type, message in rows:
        found.setdefault(tenant, {"failed_step": step, "error_type": error_type, "error_message": message})
    return found


def tenant_steps(session: Session, execution_id: str, tenant_id: str) -> dict[str, dict[str, Any]]:
    """One tenant's step rows, by step name."""
    rows = session.scalars(
        select(StepRun).where(StepRun.execution_id == uuid.UUID(execution_id), StepRun.tenant_id == tenant_id)
    )
    return {
        r.step_name: {
            "status": r.status,
            "duration_ms": r.duration_ms,
            "error_type": r.error_type,
            "error_message": r.error_message,
            "result": r.result,
            "recorded_at": aware(r.created_at),
        }
        for r in rows
    }


def _per_tenant(execution_id: str) -> Any:
    """Subquery: one row per tenant with step rows (failed steps, final step completed)."""
    return (
        select(
            StepRun.tenant_id.label("tenant_id"),
            func.sum(case((StepRun.status == "failed", 1), else_=0)).label("failed"),
            func.sum(case(((StepRun.step_name == FINAL_STEP) & (StepRun.status == "completed"), 1), else_=0)).label(
                "final"
            ),
        )
        .where(StepRun.execution_id == uuid.UUID(execution_id))
        .group_by(StepRun.tenant_id)
        .subquery()
    )


def tenant_state_counts(session: Session, execution_id: str) -> dict[str, int]:
    """Tenants with step rows: how many failed, finished (last step completed, none failed), and in all —
    counted by the database, one row back whatever the number of tenants."""
    per = _per_tenant(execution_id)
    failed, finished, started = session.execute(
        select(
            func.coalesce(func.sum(case((per.c.failed > 0, 1), else_=0)), 0),
            func.coalesce(func.sum(case(((per.c.failed == 0) & (per.c.final > 0), 1), else_=0)), 0),
            func.count(),
        )
    ).one()
    return {"failed": int(failed), "completed": int(finished), "started": int(started)}


def tenants_in_state(session: Session, execution_id: str, state: str) -> set[str]:
    """Ids of the tenants with step rows in `state`: failed, completed (finished, none failed), running
    (started, neither) or started (any)."""
    per = _per_tenant(execution_id)
    condition = {
        "failed": per.c.failed > 0,
        "completed": (per.c.failed == 0) & (per.c.final > 0),
        "running": (per.c.failed == 0) & (per.c.final == 0),
        "started": per.c.failed >= 0,
    }[state]
    return set(session.scalars(select(per.c.tenant_id).where(condition)))
