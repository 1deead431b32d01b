"""Execution rows: open a run, count its tenants, close it (status, workflow totals and its outbox event in
one transaction). Each function takes the caller's Session: the caller owns the transaction."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy import case, func, select, update
from sqlalchemy.orm import Session

from chalicelib.db.fences import check_fence, register_fence
from chalicelib.db.models import Execution, ExecutionRetry, Metric, Workflow
from chalicelib.db.outbox import add_event
from chalicelib.db.sql import aware, dialect_insert
from chalicelib.db.workflows import get_workflow
from chalicelib.domain.constants import SUCCEEDED_STATUSES, TERMINAL_STATUSES
from chalicelib.domain.events import completed_event, failed_event
from chalicelib.domain.models import RunRequest
from chalicelib.errors import RunNotFoundError


def execution_summary(execution: Execution) -> dict[str, Any]:
    """The run's outcome as FinishRun/FailRun return it and `make run` prints it."""
    return {
        "execution_id": str(execution.id),
        "execution_name": execution.execution_name,
        "workflow_name": execution.workflow_name,
        "scope": execution.scope,
        "run_date": execution.run_date.isoformat() if execution.run_date else None,
        "status": execution.status,
        "tenants_total": execution.tenants_total,
        "tenants_processed": execution.tenants_processed,
        "tenants_failed": execution.tenants_failed,
        "tenants_skipped": execution.tenants_skipped,
        "steps_total": execution.steps_total,
        "steps_completed": execution.steps_completed,
        "steps_failed": execution.steps_failed,
        "duration_seconds": round(execution.duration_seconds or 0.0, 3),
        "error_message": execution.error_message,
    }


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
    if request.fencing_token is not None:
        register_fence(session, request.workflow_name, request.scope, request.fencing_token, execution_name)
    workflow = get_workflow(session, request.workflow_name)
    execution = Execution(
        workflow_id=workflow.id if workflow else None,
        workflow_name=request.workflow_name,
        execution_name=execution_name,
        execution_arn=execution_arn,
        scope=request.scope,
        execution_type=request.trigger,
        triggered_by=request.triggered_by,
        tenant_id=request.tenant_ids[0] if request.tenant_ids and len(request.tenant_ids) == 1 else None,
        executed_by_instance=request.dispatched_by,
        run_date=request.run_date,
        status="running",
        fencing_token=request.fencing_token,
    )
    session.add(execution)
    session.flush()
    if request.retry_of:  # retry from failure: remember which execution this one retries
        session.add(ExecutionRetry(execution_id=execution.id, retry_of=uuid.UUID(request.retry_of)))
        session.flush()
    return execution


def set_tenant_counts(
    session: Session,
    execution_id: str,
    *,
    total: int,
    skipped: int,
    steps_per_tenant: int,
    only_tenant: str | None = None,
) -> None:
    """The run's tenant counts once ListTenants knows them; `only_tenant` when it covers exactly one."""
    session.execute(
        update(Execution)
        .where(Execution.id == uuid.UUID(execution_id))
        .values(
            tenants_total=total, tenants_skipped=skipped, steps_total=total * steps_per_tenant, tenant_id=only_tenant
        )
    )


def close_execution(
    session: Session,
    execution: Execution,
    *,
    status: str,
    counters: dict[str, int],
    error_message: str | None,
    now: datetime,
    tenants_affected: int = 0,
    superseded: bool = False,
) -> bool:
    """Final status, the workflow's last_* fields, the day's metrics row and the outbox event, all in the
    caller's transaction: `orchestrator_workflow_completed` for a run that finished (tenant failures
    included), `orchestrator_workflow_failed` for a failed or cancelled one.

    Returns False (and changes nothing) when the execution was already closed: FinishRun retried, or
    FinishRun, FailRun, the watchdog and a cancel raced. `superseded`: the run's lock was taken over
    (StaleRunError). Only its own row and its own event are written; the workflow's last_* fields belong
    to the newer run and stay as they are.
    """
    # Lock the row and re-read it: FinishRun, FailRun, the watchdog and a cancel may race to close one run.
    session.refresh(execution, with_for_update=True)
    if execution.status in TERMINAL_STATUSES:
        return False
    if not superseded:
        check_fence(session, str(execution.id))
    started = aware(execution.started_at) or now
    duration = max(0.0, (now - started).total_seconds())
    execution.status = status
    execution.completed_at = now
    execution.duration_seconds = duration
    execution.error_message = error_message
    for key, value in counters.items():
        setattr(execution, key, value)
    if status in ("failed", "cancelled"):
        event = failed_event(
            workflow_name=execution.workflow_name,
            execution_id=str(execution.id),
            error_message=error_message or status,
            tenants_affected=tenants_affected,
            at=now,
        )
    else:
        event = completed_event(
            workflow_name=execution.workflow_name,
            execution_id=str(execution.id),
            counters=counters,
            duration_seconds=duration,
            at=now,
        )
    execution.result_summary = {
        **(execution.result_summary or {}),
        **{k: v for k, v in event.items() if k != "timestamp"},
    }
    if execution.workflow_id is not None and not superseded:
        workflow = session.get(Workflow, execution.workflow_id)
        if workflow is not None:
            succeeded = status not in ("failed", "cancelled")  # a run with some failed tenants still ran
            workflow.last_execution_id = execution.id
            workflow.last_execution_at = now
            workflow.last_status = status
            workflow.last_duration_seconds = duration
            workflow.total_executions += 1
            workflow.successful_executions += int(succeeded)
            workflow.failed_executions += int(not succeeded)
            workflow.consecutive_failures = 0 if succeeded else workflow.consecutive_failures + 1
            if succeeded:
                workflow.last_success_at = now
            else:
                workflow.last_failure_at = now
    session.flush()
    upsert_daily_metrics(session, execution.workflow_name, started.date(), now=now)
    add_event(session, event_type=event["event_type"], aggregate_id=str(execution.id), payload=event)
    return True


def upsert_daily_metrics(session: Session, workflow_name: str, day: date, *, now: datetime) -> None:
    """Recompute `orchestrator_metrics` for one workflow and UTC day (by start time) from its closed
    executions: volume, success rate (runs that did not fail), durations in whole seconds and the average
    number of retries per original run. Upserted, so the row is current after every close."""
    since = datetime.combine(day, datetime.min.time(), UTC)
    closed = (
        Execution.workflow_name == workflow_name,
        Execution.started_at >= since,
        Execution.started_at < since + timedelta(days=1),
        Execution.status.in_(TERMINAL_STATUSES),
    )
    ok = func.sum(case((Execution.status.in_(SUCCEEDED_STATUSES), 1), else_=0))
    retries = func.sum(case((Execution.execution_type == "retry", 1), else_=0))
    row = session.execute(
        select(
            func.count(),
            ok,
            retries,
            func.avg(Execution.duration_seconds),
            func.min(Execution.duration_seconds),
            func.max(Execution.duration_seconds),
        ).where(*closed)
    ).one()
    total, succeeded, retried = int(row[0] or 0), int(row[1] or 0), int(row[2] or 0)
    if total == 0:
        return
    originals = total - retried
    values = {
        "total_executions": total,
        "successful_executions": succeeded,
        "failed_executions": total - succeeded,
        "avg_duration_seconds": _whole(row[3]),
        "min_duration_seconds": _whole(row[4]),
        "max_duration_seconds": _whole(row[5]),
        "success_rate_percentage": _percent(100 * succeeded / total),
        "avg_retry_count": _percent(retried / originals) if originals else None,
        "calculated_at": now,
    }
    stmt = dialect_insert(session, Metric).values(
        id=uuid.uuid4(), metric_date=day, workflow_name=workflow_name, **values
    )
    stmt = stmt.on_conflict_do_update(index_elements=["metric_date", "workflow_name"], set_=values)
    session.execute(stmt)


def _whole(seconds: float | None) -> int | None:
    return None if seconds is None else int(Decimal(str(seconds)).quantize(Decimal(1), ROUND_HALF_UP))


def _percent(value: float) -> Decimal:
    return Decimal(str(value)).quantize(Decimal("0.01"), ROUND_HALF_UP)


def recent_durations(
    session: Session, workflow_name: str, scope: str, *, before: Execution, limit: int = 30
) -> list[float]:
    """Durations of the workflow and scope's last `limit` finished runs (not failed) before this one."""
    rows = session.scalars(
        select(Execution.duration_seconds)
        .where(
            Execution.workflow_name == workflow_name,
            Execution.scope == scope,
            Execution.id != before.id,
            Execution.started_at < before.started_at,
            Execution.status.in_(SUCCEEDED_STATUSES),
            Execution.duration_seconds.is_not(None),
        )
        .order_by(Execution.started_at.desc())
        .limit(limit)
    )
    return [float(d) for d in rows if d is not None]


def running_with_limits(session: Session) -> list[tuple[str, datetime, int]]:
    """(execution id, started at, its workflow's max_execution_time_seconds) of every unfinished run."""
    rows = session.execute(
        select(Execution.id, Execution.started_at, Workflow.max_execution_time_seconds)
        .join(Workflow, Workflow.name == Execution.workflow_name)
        .where(Execution.status.in_(("pending", "running")))
    ).all()
    return [(str(i), aware(started) or datetime.now(UTC), int(limit)) for i, started, limit in rows]
