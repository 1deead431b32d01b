"""Execution rows: open a run, count its tenants, close it (status, workflow totals and its outbox event in
one transaction). Each function takes the caller's Session: the caller owns the transaction."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from chalicelib.db.fences import check_fence, register_fence
from chalicelib.db.models import Execution, ExecutionRetry, Workflow
from chalicelib.db.outbox import add_event
from chalicelib.db.sql import aware
from chalicelib.db.workflows import get_workflow
from chalicelib.domain.constants import TERMINAL_STATUSES
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
        trigger=request.trigger,
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


def set_tenant_counts(session: Session, execution_id: str, *, total: int, skipped: int, steps_per_tenant: int) -> None:
    session.execute(
        update(Execution)
        .where(Execution.id == uuid.UUID(execution_id))
        .values(tenants_total=total, tenants_skipped=skipped, steps_total=total * steps_per_tenant)
    )


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
    superseded: bool = False,
) -> bool:
    """Final status, workflow's last_* fields and the outbox event, all in the caller's transaction.

    Returns False (and changes nothing) when the execution was already closed: FinishRun retried.
    `superseded`: the run's lock was taken over (StaleRunError). Only its own row and its own event are
    written; the workflow's last_* fields belong to the newer run and stay as they are.
    """
    # Lock the row and re-read it: FinishRun, FailRun and the watchdog may race to close one run.
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
    event_payload = {**event_payload, "duration_seconds": round(duration, 3)}
    execution.result = {"event_type": event_type, **{k: v for k, v in event_payload.items() if k != "timestamp"}}
    if execution.workflow_id is not None and not superseded:
        workflow = session.get(Workflow, execution.workflow_id)
        if workflow is not None:
            succeeded = status != "failed"  # a run with some failed tenants still ran
            workflow.last_execution_id = execution.id
            workflow.last_execution_at = now
            workflow.last_status = status
            workflow.last_duration_seconds = duration
            workflow.total_executions += 1
            if status != "cancelled":  # an operator's cancel is neither a success nor a failure of the run
                workflow.successful_executions += int(succeeded)
                workflow.failed_executions += int(not succeeded)
                workflow.consecutive_failures = 0 if succeeded else workflow.consecutive_failures + 1
    add_event(session, event_type=event_type, aggregate_id=str(execution.id), payload=event_payload)
    return True


def running_with_limits(session: Session) -> list[tuple[str, datetime, int]]:
    """(execution id, started at, its workflow's max_execution_time_seconds) of every unfinished run."""
    rows = session.execute(
        select(Execution.id, Execution.started_at, Workflow.max_execution_time_seconds)
        .join(Workflow, Workflow.name == Execution.workflow_name)
        .where(Execution.status.in_(("pending", "running")))
    ).all()
    return [(str(i), aware(started) or datetime.now(UTC), int(limit)) for i, started, limit in rows]
