"""Per-(execution, tenant, step) rows: what each tenant's steps did. Progress is counted from these rows,
so concurrent tenants never update a shared execution row."""

from __future__ import annotations

import json
import uuid
from functools import lru_cache
from typing import Any, cast

from sqlalchemy import CursorResult, case, func, select, text
from sqlalchemy.orm import Session

from chalicelib.db.fences import check_fence
from chalicelib.db.logs import add_logs
from chalicelib.db.models import StepRun
from chalicelib.db.sql import dialect_insert, is_postgres
from chalicelib.domain.models import FINAL_STEP


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
    if is_postgres(session):
        _record_step_postgres(
            session,
            execution_id,
            tenant_id,
            step_name,
            status=status,
            duration_ms=duration_ms,
            result=result,
            error_type=error_type,
            error_message=error_message,
            logs=logs or [],
        )
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
    stmt = dialect_insert(session, StepRun).values(**values)
    stmt = stmt.on_conflict_do_update(
        index_elements=["execution_id", "tenant_id", "step_name"],
        set_={k: stmt.excluded[k] for k in ("status", "duration_ms", "result", "error_type", "error_message")},
        where=StepRun.status != "completed",
    )
    written = cast(CursorResult[Any], session.execute(stmt)).rowcount
    if written == 0 and status == "completed":
        return  # already recorded as completed: nothing new to audit
    add_logs(session, execution_id, logs or [])


_STEP_COLUMNS = ("status", "duration_ms", "result", "error_type", "error_message")


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
    # Only numbered placeholders and fixed SQL are interpolated; every value is a bound parameter.
    logs = (
        f"""
        , logs AS (
            INSERT INTO orchestrator_execution_logs
                (execution_id, tenant_id, step_name, step_index, level, message, data, duration_ms, created_at)
            SELECT CAST(:execution_id AS UUID), v.*, clock_timestamp()
            FROM (VALUES {values}) AS v (tenant_id, step_name, step_index, level, message, data, duration_ms)
            WHERE (SELECT ok FROM fence) AND (EXISTS (SELECT 1 FROM up) OR :status <> 'completed')
        )"""  # noqa: S608
        if log_rows
        else ""
    )
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
        SELECT (SELECT ok FROM fence)""")  # noqa: S608


def _record_step_postgres(
    session: Session,
    execution_id: str,
    tenant_id: str,
    step_name: str,
    *,
    status: str,
    duration_ms: float | None,
    result: dict[str, Any] | None,
    error_type: str | None,
    error_message: str | None,
    logs: list[dict[str, Any]],
) -> None:
    params: dict[str, Any] = {
        "execution_id": execution_id,
        "tenant_id": tenant_id,
        "step_name": step_name,
        "status": status,
        "duration_ms": duration_ms,
        "result": None if result is None else json.dumps(result, default=str),
        "error_type": error_type,
        "error_message": error_message,
    }
    for i, row in enumerate(logs):
        params.update(
            {
                f"t{i}": row.get("tenant_id"),
                f"s{i}": row["step_name"],
                f"i{i}": row.get("step_index", 0),
                f"l{i}": row.get("level", "INFO"),
                f"m{i}": row["message"],
                f"d{i}": None if row.get("data") is None else json.dumps(row["data"], default=str),
                f"u{i}": row.get("duration_ms"),
            }
        )
    fence_ok = session.execute(_record_step_sql(len(logs)), params).scalar()
    if not fence_ok:
        check_fence(session, execution_id)  # raises StaleRunError with the names and numbers


def completed_step_result(session: Session, execution_id: str, tenant_id: str, step_name: str) -> dict[str, Any] | None:
    """The recorded result of a step the tenant completed in that execution, else None (retry from failure)."""
    row = session.execute(
        select(StepRun.result).where(
            StepRun.execution_id == uuid.UUID(execution_id),
            StepRun.tenant_id == tenant_id,
            StepRun.step_name == step_name,
            StepRun.status == "completed",
        )
    ).first()
    return None if row is None else (row[0] or {})


def completed_results(session: Session, execution_id: str, tenant_id: str) -> dict[str, Any]:
    """Summaries of the steps a tenant completed in an execution, by step name (for the daily summary:
    results live in the database, not in the state machine's state)."""
    rows = session.execute(
        select(StepRun.step_name, StepRun.result).where(
            StepRun.execution_id == uuid.UUID(execution_id),
            StepRun.tenant_id == tenant_id,
            StepRun.status == "completed",
        )
    )
    return {name: result or {} for name, result in rows}


def step_error(session: Session, execution_id: str, tenant_id: str, step_name: str) -> str | None:
    """The error recorded for a tenant's step in an execution, if any."""
    return session.scalar(
        select(StepRun.error_message).where(
            StepRun.execution_id == uuid.UUID(execution_id),
            StepRun.tenant_id == tenant_id,
            StepRun.step_name == step_name,
        )
    )


def warnings_count(session: Session, execution_id: str) -> int:
    """Tenants' steps recorded as warnings (`skipped`: an accuracy check that could not run)."""
    return int(
        session.scalar(
            select(func.count()).where(StepRun.execution_id == uuid.UUID(execution_id), StepRun.status == "skipped")
        )
        or 0
    )


def step_statuses(session: Session, execution_id: str, tenant_id: str) -> dict[str, str]:
    rows = session.execute(
        select(StepRun.step_name, StepRun.status).where(
            StepRun.execution_id == uuid.UUID(execution_id), StepRun.tenant_id == tenant_id
        )
    )
    return {name: status for name, status in rows}


def progress(session: Session, execution_id: str) -> dict[str, int]:
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
            StepRun.execution_id == exec_uuid, StepRun.step_name == FINAL_STEP, StepRun.status == "completed"
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
    return [{"tenant_id": t, "step_name": s, "error_type": et, "error_message": em} for t, s, et, em in rows]


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
