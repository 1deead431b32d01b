"""The run watchdog: enforces each workflow's max_execution_time_seconds.

Why not a top-level `TimeoutSeconds` in the ASL: Step Functions would end the execution TIMED_OUT
without running any state, so FailRun would never write the status, the outbox event or release the
lock. Instead the every-minute housekeeping rule (the outbox drain) runs this first: every execution
still `running` past its workflow's limit is stopped in Step Functions, closed `failed` with the reason
(and its `workflow_failed` event in the outbox, in the same transaction), its run lock released and its
alert sent. The drain that follows publishes the event. The limit is read from the workflow row, so an
operator's change applies to the runs in flight.

A run is therefore stopped at most ~1 minute (the rule's rate) after its limit.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select

from chalicelib import store
from chalicelib.db.engine import session_scope
from chalicelib.db.models import Execution, Workflow
from chalicelib.observability import get_logger

FINAL_STEP = "send_daily_summary"
WATCHDOG_STEP = "watchdog"


def overdue_executions(now: datetime) -> list[tuple[str, int, float]]:
    """(execution id, limit in seconds, seconds running) of each running execution past its limit."""
    with session_scope() as session:
        rows = session.execute(
            select(Execution.id, Execution.started_at, Workflow.max_execution_time_seconds)
            .join(Workflow, Workflow.name == Execution.workflow_name)
            .where(Execution.status.in_(("pending", "running")))
        ).all()
    overdue = []
    for execution_id, started_at, limit in rows:
        started = started_at if started_at.tzinfo else started_at.replace(tzinfo=UTC)
        running_for = (now - started).total_seconds()
        if running_for > limit:
            overdue.append((str(execution_id), int(limit), running_for))
    return overdue


def expire_overdue(now: datetime | None = None) -> list[dict[str, Any]]:
    """Stop and fail every overdue run; returns one summary per run it closed."""
    now = now or datetime.now(UTC)
    closed = []
    for execution_id, limit, running_for in overdue_executions(now):
        outcome = _expire(execution_id, limit, running_for, now)
        if outcome is not None:
            closed.append(outcome)
    return closed


def _expire(execution_id: str, limit: int, running_for: float, now: datetime) -> dict[str, Any] | None:
    with session_scope() as session:
        execution = session.get(Execution, uuid.UUID(execution_id))
        if execution is None or execution.status in store.TERMINAL_STATUSES:
            return None
        arn, name, workflow, scope = (execution.execution_arn, execution.execution_name,
                                      execution.workflow_name, execution.scope)
    reason = (f"run exceeded max_execution_time_seconds ({limit} s): stopped by the watchdog after "
              f"{running_for:.0f} s")
    stopped = _stop_state_machine(arn, reason)
    with session_scope() as session:
        execution = session.get(Execution, uuid.UUID(execution_id))
        if execution is None:
            return None
        counters = store.progress(session, execution_id, final_step=FINAL_STEP)
        failures = store.failed_tenants(session, execution_id)
        payload = {
            "event_type": "workflow_failed",
            "workflow_name": workflow,
            "execution_id": execution_id,
            "tenants_processed": counters["tenants_processed"],
            "steps_completed": counters["steps_completed"],
            "steps_failed": counters["steps_failed"],
            "error_message": reason,
            "tenants_affected": sorted({f["tenant_id"] for f in failures}),
            "timestamp": now.isoformat(),
        }
        if not store.close_execution(session, execution, status="failed", counters=counters,
                                     error_message=reason, event_type="workflow_failed",
                                     event_payload=payload, now=now):
            return None  # FinishRun or FailRun closed it meanwhile
        store.add_logs(session, execution_id, [{
            "tenant_id": None, "step_name": WATCHDOG_STEP, "step_index": 0, "level": "ERROR",
            "message": f"run failed: {reason}", "data": {"limit_seconds": limit, "stopped": stopped},
            "duration_ms": None,
        }])
    released = _release_lock(workflow, scope, name)
    get_logger().warning("run expired", extra={"execution_name": name, "limit_seconds": limit})
    from chalicelib.alerts import notify_run_closed

    try:
        notify_run_closed(execution_id)
    except Exception as exc:  # noqa: BLE001 - the run is closed; alerts are best effort
        get_logger().error("alerts not sent", extra={"execution_id": execution_id, "error": str(exc)})
    return {"execution_id": execution_id, "execution_name": name, "status": "failed", "reason": reason,
            "state_machine_stopped": stopped, "lock_released": released}


def _stop_state_machine(execution_arn: str | None, reason: str) -> bool:
    if not execution_arn:
        return False
    from chalicelib.adapters.stepfunctions import get_sfn_client

    try:
        get_sfn_client().stop_execution(executionArn=execution_arn, error="MaxExecutionTimeExceeded",
                                        cause=reason[:32000])
        return True
    except Exception as exc:  # noqa: BLE001 - already ended or unknown: the row is closed regardless
        get_logger().warning("execution not stopped", extra={"execution_arn": execution_arn, "error": str(exc)})
        return False


def _release_lock(workflow: str, scope: str, token: str) -> bool:
    from chalicelib.adapters.redis_store import RunLocks
    from chalicelib.errors import LockUnavailableError

    try:
        locks = RunLocks()
        return locks.release(locks.key(workflow, scope), token)
    except LockUnavailableError as exc:
        get_logger().warning("run lock not released", extra={"execution_name": token, "error": str(exc)})
        return False
