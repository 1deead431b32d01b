"""Runs as one tenant lived them: which runs a tenant was in, day by day, and how each went for it (read from
the per-(execution, tenant, step) rows; the execution row alone cannot say)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date

from sqlalchemy import and_, case, func, select
from sqlalchemy.orm import Session

from chalicelib.db.models import Execution, StepRun
from chalicelib.domain.models import FINAL_STEP

TENANT_CHUNK = 500  # tenant ids per IN list


def tenants_of_execution(session: Session, execution_id: str) -> list[str]:
    """The tenants with a step row in the execution (the run's tenants that started)."""
    rows = session.scalars(select(StepRun.tenant_id).where(StepRun.execution_id == uuid.UUID(execution_id)).distinct())
    return sorted(rows)


def tenant_executions(
    session: Session, tenant_ids: Sequence[str], first: date, last: date, *, workflow_name: str
) -> list[tuple[str, date, bool, bool, str]]:
    """For each execution of `workflow_name` with a run date in [first, last] and each of the tenants in it:
    (tenant id, run date, finished its last step, has a failed step, the execution's status)."""
    finished = func.max(case((and_(StepRun.step_name == FINAL_STEP, StepRun.status == "completed"), 1), else_=0))
    failed = func.max(case((StepRun.status == "failed", 1), else_=0))
    out: list[tuple[str, date, bool, bool, str]] = []
    ids = sorted(set(tenant_ids))
    for start in range(0, len(ids), TENANT_CHUNK):
        rows = session.execute(
            select(StepRun.tenant_id, Execution.run_date, finished, failed, Execution.status)
            .join(Execution, Execution.id == StepRun.execution_id)
            .where(
                Execution.workflow_name == workflow_name,
                Execution.run_date >= first,
                Execution.run_date <= last,
                StepRun.tenant_id.in_(ids[start : start + TENANT_CHUNK]),
            )
            .group_by(StepRun.tenant_id, Execution.id, Execution.run_date, Execution.status)
        )
        out.extend(
            (tenant, run_date, bool(done), bool(broke), status)
            for tenant, run_date, done, broke, status in rows
            if run_date is not None
        )
    return out
