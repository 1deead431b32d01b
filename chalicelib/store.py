"""Reads and writes of runs. Each function takes the caller's Session: the caller owns the transaction."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import case, func, insert, select, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from chalicelib.db.models import (
    Execution,
    ExecutionLog,
    ExecutionRetry,
    OutboxEvent,
    RunFence,
    StepRun,
    Workflow,
)
from chalicelib.domain.models import RunRequest
from chalicelib.errors import RunNotFoundError, StaleRunError

TERMINAL_STATUSES = ("completed", "completed_with_failures", "failed", "cancelled")


def _dialect_insert(session: Session, table: Any) -> Any:
    return (postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert)(table)


def _aware(value: datetime | None) -> datetime | None:
    """SQLite hands datetimes back naive; they were written in UTC."""
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


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


def set_tenant_counts(
    session: Session, execution_id: str, *, total: int, skipped: int, steps_per_tenant: int
) -> None:
    session.execute(
        update(Execution)
        .where(Execution.id == uuid.UUID(execution_id))
        .values(tenants_total=total, tenants_skipped=skipped, steps_total=total * steps_per_tenant)
    )


_INSERT_LOGS_POSTGRES = text("""
    INSERT INTO orchestrator_execution_logs
        (execution_id, tenant_id, step_name, step_index, level, message, data, duration_ms, created_at)
    SELECT CAST(:execution_id AS UUID), r.tenant_id, r.step_name, r.step_index, r.level, r.message, r.data,
           r.duration_ms, clock_timestamp()
    FROM jsonb_to_recordset(CAST(:rows AS JSONB)) AS r(tenant_id VARCHAR, step_name VARCHAR, step_index INTEGER,
         level VARCHAR, message TEXT, data JSONB, duration_ms DOUBLE PRECISION)
""")


def add_logs(session: Session, execution_id: str, logs: list[dict[str, Any]]) -> None:
    """All of a step's log rows in one round trip.

    On Postgres the rows travel as one JSON parameter unpacked by jsonb_to_recordset: one statement,
    compiled once, whatever the number of rows (a multi-row VALUES or executemany costs SQLAlchemy
    and pg8000 per-value work that caps ingestion at a few thousand rows/s).
    """
    if not logs:
        return
    rows = [{"tenant_id": row.get("tenant_id"), "step_name": row["step_name"],
             "step_index": row.get("step_index") or 0, "level": row.get("level") or "INFO",
             "message": row["message"], "data": row.get("data"), "duration_ms": row.get("duration_ms")}
            for row in logs]
    if session.get_bind().dialect.name == "postgresql":
        session.execute(_INSERT_LOGS_POSTGRES,
                        {"execution_id": execution_id, "rows": json.dumps(rows, default=str)})
        return
    exec_uuid = uuid.UUID(execution_id)
    session.execute(insert(ExecutionLog), [{"execution_id": exec_uuid, **row} for row in rows])


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

    A completed step is never turned back into a failed one (a late, duplicate failure report), and a
    step reported completed twice (a retried or redelivered step) keeps one row and one log entry.
    """
    if session.get_bind().dialect.name == "postgresql":
        _record_step_postgres(session, execution_id, tenant_id, step_name, status=status,
                              duration_ms=duration_ms, result=result, error_type=error_type,
                              error_message=error_message, logs=logs or [])
        return
    check_fence(session, execution_id)
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
    written = session.execute(stmt).rowcount
    if written == 0 and status == "completed":
        return  # already recorded as completed: nothing new to audit
    add_logs(session, execution_id, logs or [])


_STEP_COLUMNS = ("status", "duration_ms", "result", "error_type", "error_message")
_LOG_COLUMNS = ("tenant_id", "step_name", "step_index", "level", "message", "data", "duration_ms")


@lru_cache(maxsize=8)
def _record_step_sql(log_rows: int) -> Any:
    """Fence check, step upsert and log rows as one statement: one round trip per step on Postgres.

    The fence is checked in the same statement as the writes (a classic fenced write): a run whose lock
    was taken over by a greater fencing number writes nothing, and the caller raises StaleRunError.
    """
    values = ", ".join(
        f"(CAST(:t{i} AS VARCHAR), CAST(:s{i} AS VARCHAR), CAST(:i{i} AS INTEGER), CAST(:l{i} AS VARCHAR), "
        f"CAST(:m{i} AS TEXT), CAST(:d{i} AS JSONB), CAST(:u{i} AS DOUBLE PRECISION))"
        for i in range(log_rows)
    )
    logs = (f"""
        , logs AS (
            INSERT INTO orchestrator_execution_logs
                (execution_id, tenant_id, step_name, step_index, level, message, data, duration_ms, created_at)
            SELECT CAST(:execution_id AS UUID), v.*, clock_timestamp()
            FROM (VALUES {values}) AS v (tenant_id, step_name, step_index, level, message, data, duration_ms)
            WHERE (SELECT ok FROM fence) AND (EXISTS (SELECT 1 FROM up) OR :status <> 'completed')
        )""" if log_rows else "")
    return text(f"""
        WITH fence AS (
            SELECT NOT EXISTS (
                SELECT 1 FROM orchestrator_executions e
                JOIN orchestrator_run_fences f ON f.workflow_name = e.workflow_name AND f.scope = e.scope
                WHERE e.id = CAST(:execution_id AS UUID) AND e.fencing_token IS NOT NULL
                  AND f.fencing_token > e.fencing_token
            ) AS ok
        ), up AS (
            INSERT INTO orchestrator_step_runs
                (execution_id, tenant_id, step_name, status, duration_ms, result, error_type, error_message,
                 created_at)
            SELECT CAST(:execution_id AS UUID), :tenant_id, :step_name, :status,
                   CAST(:duration_ms AS DOUBLE PRECISION), CAST(:result AS JSONB), :error_type, :error_message,
                   clock_timestamp()
            FROM fence WHERE fence.ok
            ON CONFLICT (execution_id, tenant_id, step_name) DO UPDATE SET
                {", ".join(f"{c} = EXCLUDED.{c}" for c in _STEP_COLUMNS)}
            WHERE orchestrator_step_runs.status <> 'completed'
            RETURNING 1
        ){logs}
        SELECT (SELECT ok FROM fence)""")


def _record_step_postgres(session: Session, execution_id: str, tenant_id: str, step_name: str, *,
                          status: str, duration_ms: float | None, result: dict[str, Any] | None,
                          error_type: str | None, error_message: str | None,
                          logs: list[dict[str, Any]]) -> None:
    params: dict[str, Any] = {
        "execution_id": execution_id, "tenant_id": tenant_id, "step_name": step_name, "status": status,
        "duration_ms": duration_ms, "result": None if result is None else json.dumps(result, default=str),
        "error_type": error_type, "error_message": error_message,
    }
    for i, row in enumerate(logs):
        params.update({f"t{i}": row.get("tenant_id"), f"s{i}": row["step_name"], f"i{i}": row.get("step_index", 0),
                       f"l{i}": row.get("level", "INFO"), f"m{i}": row["message"],
                       f"d{i}": None if row.get("data") is None else json.dumps(row["data"], default=str),
                       f"u{i}": row.get("duration_ms")})
    fence_ok = session.execute(_record_step_sql(len(logs)), params).scalar()
    if not fence_ok:
        check_fence(session, execution_id)  # raises StaleRunError with the names and numbers


def completed_step_result(session: Session, execution_id: str, tenant_id: str, step_name: str
                          ) -> dict[str, Any] | None:
    """The recorded result of a step the tenant completed in that execution, else None (retry from failure)."""
    row = session.execute(
        select(StepRun.result).where(
            StepRun.execution_id == uuid.UUID(execution_id), StepRun.tenant_id == tenant_id,
            StepRun.step_name == step_name, StepRun.status == "completed",
        )
    ).first()
    return None if row is None else (row[0] or {})


# States of the parent execution outside the Map (Start run, List tenants, the Map itself, Finish run,
# Publish events, Run finished): billed STANDARD transitions, plus one per child execution started.
PARENT_STATE_TRANSITIONS = 6
RUN_LEVEL_INVOCATIONS = 4  # StartRun, ListTenants, FinishRun, PublishEvents
LAMBDA_MEMORY_MB = 256  # .chalice/config.json
RUN_LEVEL_DURATION_MS = 100.0


def cost_counts(session: Session, execution_id: str) -> dict[str, Any]:
    """What the cost model needs, from the step rows: one Lambda request per step row (its recorded
    duration), one EXPRESS child per tenant lasting the sum of its steps, the manifest's PUT and GET."""
    rows = session.execute(
        select(StepRun.tenant_id, StepRun.duration_ms).where(StepRun.execution_id == uuid.UUID(execution_id))
    ).all()
    per_tenant: dict[str, float] = {}
    invocations = [(LAMBDA_MEMORY_MB, RUN_LEVEL_DURATION_MS)] * RUN_LEVEL_INVOCATIONS
    for tenant_id, duration in rows:
        per_tenant[tenant_id] = per_tenant.get(tenant_id, 0.0) + (duration or 0.0)
        invocations.append((LAMBDA_MEMORY_MB, duration or 1.0))
    return {
        "tenants": len(per_tenant),
        "state_transitions": PARENT_STATE_TRANSITIONS + len(per_tenant),
        "express_durations_ms": list(per_tenant.values()),
        "lambda_invocations": invocations,
        "s3_put_requests": 1,
        "s3_get_requests": 1,
    }


def completed_results(session: Session, execution_id: str, tenant_id: str) -> dict[str, Any]:
    """Summaries of the steps a tenant completed in an execution, by step name (for the daily summary:
    results live in the database, not in the state machine's state)."""
    rows = session.execute(
        select(StepRun.step_name, StepRun.result).where(
            StepRun.execution_id == uuid.UUID(execution_id), StepRun.tenant_id == tenant_id,
            StepRun.status == "completed",
        )
    )
    return {name: result or {} for name, result in rows}


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
    if execution.workflow_id is not None and not superseded:
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


# --- fencing (issue 3): a run whose lock was taken over cannot write ------------------------------------------
def register_fence(session: Session, workflow_name: str, scope: str, fencing_token: int,
                   execution_name: str) -> None:
    """Record that `fencing_token` was handed out for (workflow, scope); the highest number wins.

    Called by the dispatcher as soon as it holds the run lock and again by StartRun (idempotent), so a
    stalled older run is fenced off before the newer one writes anything.
    """
    stmt = _dialect_insert(session, RunFence).values(
        workflow_name=workflow_name, scope=scope, fencing_token=fencing_token, execution_name=execution_name,
        updated_at=datetime.now(UTC),
    )
    stmt = stmt.on_conflict_do_update(
        index_elements=["workflow_name", "scope"],
        set_={"fencing_token": stmt.excluded.fencing_token, "execution_name": stmt.excluded.execution_name,
              "updated_at": stmt.excluded.updated_at},
        where=RunFence.fencing_token < stmt.excluded.fencing_token,
    )
    session.execute(stmt)


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
    if session.get_bind().dialect.name == "postgresql":
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
