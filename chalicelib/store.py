"""Reads and writes of runs. Each function takes the caller's Session: the caller owns the transaction."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import case, func, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from chalicelib.db.models import Execution, ExecutionLog, OutboxEvent, StepRun, Workflow
from chalicelib.domain.models import RunRequest
from chalicelib.errors import RunNotFoundError

TERMINAL_STATUSES = ("completed", "completed_with_failures", "failed", "cancelled")


def _dialect_insert(session: Session, table: Any) -> Any:
    return (postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert)(table)


def _aware(value: datetime | None) -> datetime | None:
    """SQLite hands datetimes back naive; they were written in UTC."""
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


def get_workflow(session: Session, name: str) -> Workflow | None:
    return session.scalar(select(Workflow).where(Workflow.name == name))


def get_execution_by_name(session: Session, name: str) -> Execution | None:
    return session.scalar(select(Execution).where(Execution.execution_name == name))


def require_execution(session: Session, execution_id: str) -> Execution:
    execution = session.get(Execution, uuid.UUID(execution_id))
    if execution is None:
        raise RunNotFoundError(f"execution {execution_id} not found")
    return execution


def start_execution(
    session: Session, request: RunRequest, *, execution_name: str, execution_arn: str | None
) -> Execution:
    """The execution row for a run; a retried StartRun finds the row it wrote before."""
    execution = get_execution_by_name(session, execution_name)
    if execution is not None:
        return execution
    workflow = get_workflow(session, request.workflow_name)
    execution = Execution(
        workflow_id=workflow.id if workflow else None,
        workflow_name=request.workflow_name,
        execution_name=execution_name,
        execution_arn=execution_arn,
        scope=request.scope,
        trigger=request.trigger,
        run_date=request.run_date,
        status="running",
        fencing_token=request.fencing_token,
    )
    session.add(execution)
    session.flush()
    return execution


def set_tenant_counts(
    session: Session, execution_id: str, *, total: int, skipped: int, steps_per_tenant: int
) -> None:
    session.execute(
        update(Execution)
        .where(Execution.id == uuid.UUID(execution_id))
        .values(tenants_total=total, tenants_skipped=skipped, steps_total=total * steps_per_tenant)
    )


def add_logs(session: Session, execution_id: str, logs: list[dict[str, Any]]) -> None:
    """All of a step's log rows in one round trip."""
    if not logs:
        return
    exec_uuid = uuid.UUID(execution_id)
    session.execute(insert(ExecutionLog), [{"execution_id": exec_uuid, **row} for row in logs])


def record_step(
    session: Session,
    execution_id: str,
    tenant_id: str,
    step_name: str,
    *,
    status: str,
    duration_ms: float | None = None,
    result: dict[str, Any] | None = None,
    error_type: str | None = None,
    error_message: str | None = None,
    logs: list[dict[str, Any]] | None = None,
) -> None:
    """Upsert the step's row and append its logs in the same transaction.

    A completed step is never turned back into a failed one (a late, duplicate failure report).
    """
    values = {
        "execution_id": uuid.UUID(execution_id),
        "tenant_id": tenant_id,
        "step_name": step_name,
        "status": status,
        "duration_ms": duration_ms,
        "result": result,
        "error_type": error_type,
        "error_message": error_message,
    }
    stmt = _dialect_insert(session, StepRun).values(**values)
    stmt = stmt.on_conflict_do_update(
        index_elements=["execution_id", "tenant_id", "step_name"],
        set_={k: stmt.excluded[k] for k in ("status", "duration_ms", "result", "error_type", "error_message")},
        where=StepRun.status != "completed",
    )
    session.execute(stmt)
    add_logs(session, execution_id, logs or [])


def step_statuses(session: Session, execution_id: str, tenant_id: str) -> dict[str, str]:
    rows = session.execute(
        select(StepRun.step_name, StepRun.status).where(
            StepRun.execution_id == uuid.UUID(execution_id), StepRun.tenant_id == tenant_id
        )
    )
    return {name: status for name, status in rows}


def progress(session: Session, execution_id: str, *, final_step: str) -> dict[str, int]:
    """Counters aggregated from the per-tenant step rows (no hot execution row during the run)."""
    exec_uuid = uuid.UUID(execution_id)
    steps = session.execute(
        select(
            func.coalesce(func.sum(case((StepRun.status == "completed", 1), else_=0)), 0),
            func.coalesce(func.sum(case((StepRun.status == "failed", 1), else_=0)), 0),
        ).where(StepRun.execution_id == exec_uuid)
    ).one()
    failed_tenants = session.scalar(
        select(func.count(func.distinct(StepRun.tenant_id))).where(
            StepRun.execution_id == exec_uuid, StepRun.status == "failed"
        )
    )
    processed_tenants = session.scalar(
        select(func.count()).where(
            StepRun.execution_id == exec_uuid, StepRun.step_name == final_step, StepRun.status == "completed"
        )
    )
    return {
        "steps_completed": int(steps[0]),
        "steps_failed": int(steps[1]),
        "tenants_failed": int(failed_tenants or 0),
        "tenants_processed": int(processed_tenants or 0),
    }


def failed_tenants(session: Session, execution_id: str) -> list[dict[str, Any]]:
    rows = session.execute(
        select(StepRun.tenant_id, StepRun.step_name, StepRun.error_type, StepRun.error_message)
        .where(StepRun.execution_id == uuid.UUID(execution_id), StepRun.status == "failed")
        .order_by(StepRun.tenant_id, StepRun.step_name)
    )
    return [
        {"tenant_id": t, "step_name": s, "error_type": et, "error_message": em} for t, s, et, em in rows
    ]


def close_execution(
    session: Session,
    execution: Execution,
    *,
    status: str,
    counters: dict[str, int],
    error_message: str | None,
    event_type: str,
    event_payload: dict[str, Any],
    now: datetime,
) -> bool:
    """Final status, workflow's last_* fields and the outbox event, all in the caller's transaction.

    Returns False (and changes nothing) when the execution was already closed: FinishRun retried.
    """
    if execution.status in TERMINAL_STATUSES:
        return False
    started = _aware(execution.started_at) or now
    duration = max(0.0, (now - started).total_seconds())
    execution.status = status
    execution.completed_at = now
    execution.duration_seconds = duration
    execution.error_message = error_message
    for key, value in counters.items():
        setattr(execution, key, value)
    event_payload = {**event_payload, "duration_seconds": round(duration, 3)}
    execution.result = {"event_type": event_type, **{k: v for k, v in event_payload.items() if k != "timestamp"}}
    if execution.workflow_id is not None:
        workflow = session.get(Workflow, execution.workflow_id)
        if workflow is not None:
            succeeded = status != "failed"  # a run with some failed tenants still ran
            workflow.last_execution_id = execution.id
            workflow.last_execution_at = now
            workflow.last_status = status
            workflow.last_duration_seconds = duration
            workflow.total_executions += 1
            workflow.successful_executions += int(succeeded)
            workflow.failed_executions += int(not succeeded)
            workflow.consecutive_failures = 0 if succeeded else workflow.consecutive_failures + 1
    session.add(
        OutboxEvent(
            event_type=event_type,
            routing_key=f"orchestrator.{event_type}",
            aggregate_id=str(execution.id),
            payload=event_payload,
        )
    )
    return True
