"""Read models of the API: executions as an operator or a tenant sees them, logs, statistics and the
numbers behind the Prometheus metrics.

A tenant caller (`tenant_id` given) sees only executions that include a step row or a log row of its own,
and in them only its own progress and logs; anything else is "not found". Functions raise `LookupError`
for an unknown or invisible execution and `ValueError("<field>: ...")` for a bad cursor.
"""

from __future__ import annotations

import base64
import json
import math
import uuid
from collections import defaultdict
from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import and_, case, exists, func, or_, select
from sqlalchemy.orm import Session

from chalicelib.db.models import Execution, ExecutionLog, ExecutionRetry, Leader, StepRun
from chalicelib.db.sql import aware
from chalicelib.db.steps import failed_tenants, progress
from chalicelib.domain.constants import TERMINAL_STATUSES
from chalicelib.domain.models import DAILY_STEPS, FINAL_STEP

FAILED_STATUSES = ("failed", "completed_with_failures")


# --- cursors ------------------------------------------------------------------------------------------------
def encode_cursor(started_at: datetime, execution_id: uuid.UUID) -> str:
    raw = json.dumps([started_at.isoformat(), str(execution_id)]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, uuid.UUID]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        started, ident = json.loads(base64.urlsafe_b64decode(padded.encode()))
        return datetime.fromisoformat(started), uuid.UUID(ident)
    except (ValueError, TypeError, UnicodeDecodeError):
        raise ValueError("cursor: not a cursor this API returned") from None


# --- visibility ---------------------------------------------------------------------------------------------
def visible_to(tenant_id: str) -> Any:
    """SQL condition: the execution includes a step or a log of this tenant."""
    return or_(
        exists().where(StepRun.execution_id == Execution.id, StepRun.tenant_id == tenant_id),
        exists().where(ExecutionLog.execution_id == Execution.id, ExecutionLog.tenant_id == tenant_id),
    )


def _tenant_status_condition(tenant_id: str, status: str) -> Any:
    failed = exists().where(
        StepRun.execution_id == Execution.id, StepRun.tenant_id == tenant_id, StepRun.status == "failed"
    )
    done = exists().where(
        StepRun.execution_id == Execution.id,
        StepRun.tenant_id == tenant_id,
        StepRun.step_name == FINAL_STEP,
        StepRun.status == "completed",
    )
    if status == "failed":
        return failed
    if status == "completed":
        return and_(done, ~failed)
    if status == "running":
        return and_(Execution.status == "running", ~failed, ~done)
    return Execution.status == status


def _load_visible(session: Session, execution_id: str, tenant_id: str | None) -> Execution:
    execution = session.get(Execution, uuid.UUID(execution_id))
    if execution is None:
        raise LookupError(execution_id)
    if tenant_id is not None:
        seen = session.scalar(select(visible_to(tenant_id)).select_from(Execution).where(Execution.id == execution.id))
        if not seen:
            raise LookupError(execution_id)
    return execution


# --- views --------------------------------------------------------------------------------------------------
def _tenant_counts(session: Session, execution_ids: list[uuid.UUID], tenant_id: str) -> dict[uuid.UUID, dict[str, Any]]:
    rows = session.execute(
        select(StepRun.execution_id, StepRun.step_name, StepRun.status, StepRun.error_message).where(
            StepRun.execution_id.in_(execution_ids), StepRun.tenant_id == tenant_id
        )
    )
    out: dict[uuid.UUID, dict[str, Any]] = defaultdict(lambda: {"steps": {}, "error": None})
    for exec_id, step, status, message in rows:
        out[exec_id]["steps"][step] = status
        if status == "failed" and out[exec_id]["error"] is None:
            out[exec_id]["error"] = message
    return out


def _tenant_status(execution_status: str, steps: dict[str, str]) -> str:
    if "failed" in steps.values():
        return "failed"
    if steps.get(FINAL_STEP) == "completed":
        return "completed"
    return "running" if execution_status == "running" else "failed"


def execution_view(
    execution: Execution,
    *,
    live: dict[str, int] | None = None,
    tenant: dict[str, Any] | None = None,
    retry_of: str | None = None,
) -> dict[str, Any]:
    view = {
        "id": str(execution.id),
        "workflow_name": execution.workflow_name,
        "execution_name": execution.execution_name,
        "scope": execution.scope,
        "trigger": execution.execution_type,
        "triggered_by": execution.triggered_by,
        "tenant_id": execution.tenant_id,
        "executed_by_instance": execution.executed_by_instance,
        "slow": ((execution.result_summary or {}).get("performance") or {}).get("slow"),
        "run_date": execution.run_date,
        "status": execution.status,
        "started_at": aware(execution.started_at),
        "completed_at": aware(execution.completed_at),
        "duration_seconds": execution.duration_seconds,
        "error_message": execution.error_message,
        "retry_of": retry_of,
        "execution_arn": execution.execution_arn,
        "cost_eur": ((execution.result_summary or {}).get("cost") or {}).get("eur_total"),
        **{
            k: getattr(execution, k)
            for k in (
                "tenants_total",
                "tenants_processed",
                "tenants_failed",
                "tenants_skipped",
                "steps_total",
                "steps_completed",
                "steps_failed",
            )
        },
    }
    if live:
        view.update(live)
    if tenant is not None:  # one tenant's slice of the run
        steps: dict[str, str] = tenant["steps"]
        status = _tenant_status(execution.status, steps)
        completed = sum(1 for s in steps.values() if s == "completed")
        failed = sum(1 for s in steps.values() if s == "failed")
        view.update(
            status=status,
            error_message=tenant["error"],
            tenants_total=1,
            tenants_processed=int(status == "completed"),
            tenants_failed=int(status == "failed"),
            tenants_skipped=0,
            steps_total=len(DAILY_STEPS),
            steps_completed=completed,
            steps_failed=failed,
        )
    return view


def _retry_links(session: Session, execution_ids: list[uuid.UUID]) -> dict[uuid.UUID, str]:
    if not execution_ids:
        return {}
    rows = session.execute(
        select(ExecutionRetry.execution_id, ExecutionRetry.retry_of).where(
            ExecutionRetry.execution_id.in_(execution_ids)
        )
    )
    return {e: str(r) for e, r in rows}


def list_executions(
    session: Session,
    *,
    tenant_scope: str | None,
    workflow: str | None = None,
    status: str | None = None,
    tenant_id: str | None = None,
    date_from: date | None = None,
    date_to: date | None = None,
    failed_only: bool = False,
    limit: int = 50,
    cursor: str | None = None,
) -> dict[str, Any]:
    """Newest first, `limit` per page; `next_cursor` continues after the last item."""
    query = select(Execution).order_by(Execution.started_at.desc(), Execution.id.desc()).limit(limit + 1)
    if tenant_scope is not None:
        if tenant_id is not None and tenant_id != tenant_scope:
            return {"executions": [], "count": 0, "next_cursor": None}
        query = query.where(visible_to(tenant_scope))
        if status:
            query = query.where(_tenant_status_condition(tenant_scope, status))
        if failed_only:
            query = query.where(_tenant_status_condition(tenant_scope, "failed"))
    else:
        if tenant_id is not None:
            query = query.where(visible_to(tenant_id))
        if status:
            query = query.where(Execution.status == status)
        if failed_only:
            query = query.where(Execution.status.in_(FAILED_STATUSES))
    if workflow:
        query = query.where(Execution.workflow_name == workflow)
    if date_from:
        query = query.where(Execution.run_date >= date_from)
    if date_to:
        query = query.where(Execution.run_date <= date_to)
    if cursor:
        started, ident = decode_cursor(cursor)
        query = query.where(
            or_(Execution.started_at < started, and_(Execution.started_at == started, Execution.id < ident))
        )
    rows = list(session.scalars(query))
    more = len(rows) > limit
    rows = rows[:limit]
    ids = [e.id for e in rows]
    links = _retry_links(session, ids)
    slices = _tenant_counts(session, ids, tenant_scope) if tenant_scope is not None and ids else {}
    items = []
    for e in rows:
        live = progress(session, str(e.id)) if e.status == "running" else None
        items.append(
            execution_view(
                e,
                live=live,
                retry_of=links.get(e.id),
                tenant=slices.get(e.id, {"steps": {}, "error": None}) if tenant_scope is not None else None,
            )
        )
    next_cursor = encode_cursor(rows[-1].started_at, rows[-1].id) if more and rows else None
    return {"executions": items, "count": len(items), "next_cursor": next_cursor}


def execution_detail(
    session: Session,
    execution_id: str,
    *,
    tenant_scope: str | None,
    tenant_limit: int = 100,
    tenant_after: str | None = None,
) -> dict[str, Any]:
    execution = _load_visible(session, execution_id, tenant_scope)
    exec_id = execution.id
    only = [StepRun.tenant_id == tenant_scope] if tenant_scope is not None else []
    step_rows = session.execute(
        select(
            StepRun.step_name,
            func.sum(case((StepRun.status == "completed", 1), else_=0)),
            func.sum(case((StepRun.status == "failed", 1), else_=0)),
        )
        .where(StepRun.execution_id == exec_id, *only)
        .group_by(StepRun.step_name)
    ).all()
    order = {name: i for i, name in enumerate(DAILY_STEPS)}
    steps = sorted(
        ({"step_name": n, "completed": int(c or 0), "failed": int(f or 0)} for n, c, f in step_rows),
        key=lambda s: (order.get(s["step_name"], 99), s["step_name"]),
    )
    tenant_query = (
        select(StepRun.tenant_id)
        .where(StepRun.execution_id == exec_id, *only)
        .group_by(StepRun.tenant_id)
        .order_by(StepRun.tenant_id)
        .limit(tenant_limit + 1)
    )
    if tenant_after:
        tenant_query = tenant_query.where(StepRun.tenant_id > tenant_after)
    tenant_ids = list(session.scalars(tenant_query))
    more = len(tenant_ids) > tenant_limit
    tenant_ids = tenant_ids[:tenant_limit]
    per_tenant: dict[str, dict[str, str]] = defaultdict(dict)
    if tenant_ids:
        for tenant, step, status in session.execute(
            select(StepRun.tenant_id, StepRun.step_name, StepRun.status).where(
                StepRun.execution_id == exec_id, StepRun.tenant_id.in_(tenant_ids)
            )
        ):
            per_tenant[tenant][step] = status
    tenants = []
    for tenant in tenant_ids:
        st = per_tenant[tenant]
        failed_step = next(
            (s for s in DAILY_STEPS if st.get(s) == "failed"), next((s for s, v in st.items() if v == "failed"), None)
        )
        tenants.append(
            {
                "tenant_id": tenant,
                "status": _tenant_status(execution.status, st),
                "steps_completed": sum(1 for v in st.values() if v == "completed"),
                "steps_failed": sum(1 for v in st.values() if v == "failed"),
                "failed_step": failed_step,
                "steps": st,
            }
        )
    failed = [
        f for f in failed_tenants(session, str(exec_id)) if tenant_scope is None or f["tenant_id"] == tenant_scope
    ][:1000]
    retry_query = (
        select(Execution)
        .join(ExecutionRetry, ExecutionRetry.execution_id == Execution.id)
        .where(ExecutionRetry.retry_of == exec_id)
        .order_by(Execution.started_at)
    )
    if tenant_scope is not None:
        retry_query = retry_query.where(visible_to(tenant_scope))
    retries = [e.execution_name for e in session.scalars(retry_query)]
    live = progress(session, str(exec_id)) if execution.status == "running" else None
    tenant_slice = (
        _tenant_counts(session, [exec_id], tenant_scope).get(exec_id, {"steps": {}, "error": None})
        if tenant_scope is not None
        else None
    )
    view = execution_view(
        execution, live=live, tenant=tenant_slice, retry_of=_retry_links(session, [exec_id]).get(exec_id)
    )
    return {
        "execution": view,
        "steps": steps,
        "tenants": tenants,
        "tenants_next_cursor": tenant_ids[-1] if more and tenant_ids else None,
        "failed_tenants": failed,
        "retries": retries,
    }


def execution_logs(
    session: Session,
    execution_id: str,
    *,
    tenant_scope: str | None,
    tenant_id: str | None = None,
    step_name: str | None = None,
    level: str | None = None,
    limit: int = 200,
    after: int = 0,
) -> dict[str, Any]:
    execution = _load_visible(session, execution_id, tenant_scope)
    conditions = [ExecutionLog.execution_id == execution.id]
    if tenant_scope is not None:
        if tenant_id is not None and tenant_id != tenant_scope:
            return {"logs": [], "count": 0, "total": 0, "next_cursor": None}
        tenant_id = tenant_scope
    if tenant_id is not None:
        conditions.append(ExecutionLog.tenant_id == tenant_id)
    if step_name:
        conditions.append(ExecutionLog.step_name == step_name)
    if level:
        conditions.append(ExecutionLog.level == level)
    rows = list(
        session.scalars(
            select(ExecutionLog).where(*conditions, ExecutionLog.id > after).order_by(ExecutionLog.id).limit(limit)
        )
    )
    total = session.scalar(select(func.count()).select_from(ExecutionLog).where(*conditions)) or 0
    logs = [
        {
            "id": r.id,
            "tenant_id": r.tenant_id,
            "step_name": r.step_name,
            "step_index": r.step_index,
            "level": r.level,
            "message": r.message,
            "data": r.data if isinstance(r.data, dict) else None,
            "duration_ms": r.duration_ms,
            "created_at": aware(r.created_at),
        }
        for r in rows
    ]
    return {
        "logs": logs,
        "count": len(logs),
        "total": int(total),
        "next_cursor": logs[-1]["id"] if len(logs) == limit else None,
    }


def execution_for_retry(session: Session, execution_id: str, *, tenant_scope: str | None) -> dict[str, Any]:
    """What a retry needs from the original: its identity, status and the tenants that failed in it."""
    execution = _load_visible(session, execution_id, tenant_scope)
    failed = sorted({f["tenant_id"] for f in failed_tenants(session, str(execution.id))})
    return {
        "id": str(execution.id),
        "execution_name": execution.execution_name,
        "status": execution.status,
        "workflow_name": execution.workflow_name,
        "scope": execution.scope,
        "run_date": execution.run_date,
        "failed_tenants": failed,
        "tenants_total": execution.tenants_total,
    }


# --- statistics ---------------------------------------------------------------------------------------------
def percentile(values: list[float], pct: float) -> float | None:
    """Nearest-rank percentile."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(pct / 100 * len(ordered)))
    return round(ordered[rank - 1], 3)


def _block(rows: Iterable[Execution]) -> dict[str, Any]:
    rows = list(rows)
    by_status: dict[str, int] = defaultdict(int)
    for r in rows:
        by_status[r.status] += 1
    finished = sum(by_status[s] for s in TERMINAL_STATUSES)
    not_failed = by_status["completed"] + by_status["completed_with_failures"]
    durations = [r.duration_seconds for r in rows if r.duration_seconds is not None and r.status != "running"]
    return {
        "executions": len(rows),
        "completed": by_status["completed"],
        "completed_with_failures": by_status["completed_with_failures"],
        "failed": by_status["failed"],
        "running": by_status["running"],
        "success_rate": round(100.0 * not_failed / finished, 2) if finished else None,
        "duration_p50": percentile(durations, 50),
        "duration_p95": percentile(durations, 95),
        "duration_max": round(max(durations), 3) if durations else None,
        "retries": sum(1 for r in rows if r.execution_type == "retry"),
        **_cost(rows),
    }


def _cost(rows: list[Execution]) -> dict[str, Any]:
    """Sum of the cost estimates FinishRun stored with each execution (the seed's cost tracking)."""
    costs = [(r.result_summary or {}).get("cost") or {} for r in rows]
    total = sum(c.get("eur_total") or 0.0 for c in costs)
    tenants = sum((c.get("billed") or {}).get("express_requests") or 0 for c in costs)
    return {"cost_eur": round(total, 8), "cost_eur_per_tenant": round(total / tenants, 10) if tenants else None}


def statistics(session: Session, *, workflow: str | None, days: int, today: date | None = None) -> dict[str, Any]:
    until = today or datetime.now(UTC).date()
    since = until - timedelta(days=days - 1)
    query = select(Execution).where(Execution.started_at >= datetime.combine(since, datetime.min.time(), UTC))
    if workflow:
        query = query.where(Execution.workflow_name == workflow)
    grouped: dict[str, list[Execution]] = defaultdict(list)
    for row in session.scalars(query):
        grouped[row.workflow_name].append(row)
    workflows = []
    for name in sorted(grouped):
        per_day: dict[date, list[Execution]] = defaultdict(list)
        for row in grouped[name]:
            per_day[row.run_date or aware(row.started_at).date()].append(row)  # type: ignore[union-attr]
        workflows.append(
            {
                "workflow_name": name,
                **_block(grouped[name]),
                "days": [{"date": d, **_block(per_day[d])} for d in sorted(per_day)],
            }
        )
    return {"since": since, "until": until, "workflows": workflows}


# --- what the metrics expose (built into Prometheus families by the API at scrape time) --------------------------
def execution_counts(session: Session) -> list[tuple[str, str, int]]:
    """(workflow, status, executions)."""
    rows = session.execute(
        select(Execution.workflow_name, Execution.status, func.count())
        .group_by(Execution.workflow_name, Execution.status)
        .order_by(Execution.workflow_name, Execution.status)
    )
    return [(wf, status, int(count)) for wf, status, count in rows]


def duration_histograms(session: Session, buckets: tuple[float, ...]) -> list[tuple[str, list[int], int, float]]:
    """(workflow, cumulative count per bucket bound, count, sum of seconds) over finished executions."""
    bucket_cols = [func.sum(case((Execution.duration_seconds <= b, 1), else_=0)) for b in buckets]
    rows = session.execute(
        select(
            Execution.workflow_name,
            func.count(),
            func.coalesce(func.sum(Execution.duration_seconds), 0.0),
            *bucket_cols,
        )
        .where(Execution.duration_seconds.is_not(None))
        .group_by(Execution.workflow_name)
        .order_by(Execution.workflow_name)
    )
    return [(wf, [int(b or 0) for b in counts], int(count), float(total)) for wf, count, total, *counts in rows]


def success_rates(session: Session) -> list[tuple[str, float]]:
    """(workflow, percent of finished executions that did not fail)."""
    ok = func.sum(case((Execution.status.in_(("completed", "completed_with_failures")), 1), else_=0))
    rows = session.execute(
        select(Execution.workflow_name, func.count(), ok)
        .where(Execution.status.in_(TERMINAL_STATUSES))
        .group_by(Execution.workflow_name)
        .order_by(Execution.workflow_name)
    )
    return [(wf, round(100.0 * (good or 0) / count, 4) if count else 0.0) for wf, count, good in rows]


def tenants_processed(session: Session) -> list[tuple[str, int, int, int]]:
    """(workflow, tenants processed, failed, skipped) summed over finished executions."""
    rows = session.execute(
        select(
            Execution.workflow_name,
            func.coalesce(func.sum(Execution.tenants_processed), 0),
            func.coalesce(func.sum(Execution.tenants_failed), 0),
            func.coalesce(func.sum(Execution.tenants_skipped), 0),
        )
        .where(Execution.status.in_(TERMINAL_STATUSES))
        .group_by(Execution.workflow_name)
        .order_by(Execution.workflow_name)
    )
    return [(wf, int(p), int(f), int(s)) for wf, p, f, s in rows]


def leader_leases(session: Session, now: datetime) -> dict[str, bool]:
    """Instance id -> whether one of its dispatch-lock leases is current (heartbeat within its TTL)."""
    leases: dict[str, bool] = {}
    for instance_id, heartbeat, ttl in session.execute(
        select(Leader.instance_id, Leader.heartbeat_at, Leader.ttl_seconds).order_by(Leader.lock_name)
    ):
        current = (aware(heartbeat) or now) + timedelta(seconds=ttl) > now
        leases[instance_id] = leases.get(instance_id, False) or current
    return leases


def running_counts(session: Session) -> list[tuple[str, int]]:
    rows = session.execute(
        select(Execution.workflow_name, func.count())
        .where(Execution.status == "running")
        .group_by(Execution.workflow_name)
        .order_by(Execution.workflow_name)
    )
    return [(wf, int(count)) for wf, count in rows]


def visible_execution(session: Session, execution_id: str, *, tenant_scope: str | None) -> Execution:
    """The execution, or LookupError when unknown or (for a tenant caller) not visible to that tenant."""
    return _load_visible(session, execution_id, tenant_scope)
