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


def tenant_summaries(session: Session, execution_id: str, *, tenant_id: str | None = None) -> dict[str, dict[str, Any]]:
    """Per tenant with at least one step row: steps completed and failed, whether its last step
    completed, the time spent in its steps and when its last step was recorded."""
    only = [StepRun.tenant_id == tenant_id] if tenant_id is not None else []
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


def failures(session: Session, execution_id: str, *, tenant_id: str | None = None) -> dict[str, dict[str, Any]]:
    """Per failed tenant: its first failed step (pipeline order is the caller's) and the error."""
    only = [StepRun.tenant_id == tenant_id] if tenant_id is not None else []
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
