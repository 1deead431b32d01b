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

from chalicelib.adapters.locks import RunLocks
from chalicelib.adapters.stepfunctions import Executions
from chalicelib.db.engine import session_scope
from chalicelib.db.models import Execution
from chalicelib.db.runs import running_with_limits
from chalicelib.domain.constants import TERMINAL_STATUSES
from chalicelib.errors import LockUnavailableError
from chalicelib.observability import get_logger
from chalicelib.services.runs import after_close, fail_run

WATCHDOG_STEP = "watchdog"


def overdue_executions(now: datetime) -> list[tuple[str, int, float]]:
    """(execution id, limit in seconds, seconds running) of each running execution past its limit."""
    with session_scope() as session:
        rows = running_with_limits(session)
    overdue = []
    for execution_id, started, limit in rows:
        running_for = (now - started).total_seconds()
        if running_for > limit:
            overdue.append((execution_id, limit, running_for))
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
        if execution is None or execution.status in TERMINAL_STATUSES:
            return None
        arn, name, workflow, scope = (
            execution.execution_arn,
            execution.execution_name,
            execution.workflow_name,
            execution.scope,
        )
    reason = f"run exceeded max_execution_time_seconds ({limit} s): stopped by the watchdog after {running_for:.0f} s"
    stopped = _stop_state_machine(arn, reason)
    with session_scope() as session:
        execution = session.get(Execution, uuid.UUID(execution_id))
        if execution is None or not fail_run(
            session,
            execution,
            error_message=reason,
            now=now,
            log_step=WATCHDOG_STEP,
            log_data={"limit_seconds": limit, "stopped": stopped},
        ):
            return None  # FinishRun or FailRun closed it meanwhile
    try:
        lock_key: str | None = RunLocks().key(workflow, scope)
    except LockUnavailableError:
        lock_key = None
    released = after_close(lock_key, name, execution_id, workflow)
    get_logger().warning("run expired", extra={"execution_name": name, "limit_seconds": limit})
    return {
        "execution_id": execution_id,
        "execution_name": name,
        "status": "failed",
        "reason": reason,
        "state_machine_stopped": stopped,
        "lock_released": released,
    }


def _stop_state_machine(execution_arn: str | None, reason: str) -> bool:
    if not execution_arn:
        return False
    try:
        Executions().stop(execution_arn, error="MaxExecutionTimeExceeded", cause=reason)
        return True
    except Exception as exc:  # noqa: BLE001 - already ended or unknown: the row is closed regardless
        get_logger().warning("execution not stopped", extra={"execution_arn": execution_arn, "error": str(exc)})
        return False
