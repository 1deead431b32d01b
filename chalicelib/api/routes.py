"""Read-only operator routes: health, executions, execution detail and logs.

Handlers parse the request, call one query function and map the result or error to a response.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

from chalice import Blueprint, Response
from sqlalchemy import func, select, text

from chalicelib import store
from chalicelib.db.engine import session_scope
from chalicelib.db.models import EXECUTION_STATUSES, Execution, ExecutionLog
from chalicelib.domain.models import DAILY_STEPS
from chalicelib.settings import get_settings

api = Blueprint(__name__)


def error(status: int, code: str, message: str, field: str | None = None) -> Response:
    return Response(status_code=status, body={"error": code, "message": message, "field": field},
                    headers={"Content-Type": "application/json"})


def _int_param(params: dict[str, str], name: str, default: int, lo: int, hi: int) -> int:
    raw = params.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ValueError(name) from None
    if not lo <= value <= hi:
        raise ValueError(name)
    return value


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def execution_view(execution: Execution, live: dict[str, int] | None = None) -> dict[str, Any]:
    counters = {k: getattr(execution, k) for k in (
        "tenants_total", "tenants_processed", "tenants_failed", "tenants_skipped",
        "steps_total", "steps_completed", "steps_failed")}
    if live:
        counters.update(live)
    return {
        "id": str(execution.id),
        "workflow_name": execution.workflow_name,
        "execution_name": execution.execution_name,
        "scope": execution.scope,
        "trigger": execution.trigger,
        "run_date": _iso(execution.run_date),
        "status": execution.status,
        "started_at": _iso(execution.started_at),
        "completed_at": _iso(execution.completed_at),
        "duration_seconds": execution.duration_seconds,
        "error_message": execution.error_message,
        **counters,
    }


@api.route("/health")
def health() -> Response:
    checks: dict[str, dict[str, Any]] = {}

    def check(name: str, required: bool, probe: Any) -> None:
        started = time.perf_counter()
        try:
            probe()
            checks[name] = {"status": "up", "required": required}
        except Exception as exc:  # noqa: BLE001 - a health check reports any failure
            checks[name] = {"status": "down", "required": required, "error": f"{type(exc).__name__}: {exc}"}
        checks[name]["latency_ms"] = round((time.perf_counter() - started) * 1000, 2)

    def db_probe() -> None:
        with session_scope() as session:
            session.execute(text("SELECT 1"))

    def redis_probe() -> None:
        from chalicelib.adapters.redis_store import get_redis

        get_redis().ping()

    check("database", True, db_probe)
    check("redis", True, redis_probe)
    healthy = all(c["status"] == "up" for c in checks.values() if c["required"])
    body = {"status": "healthy" if healthy else "unhealthy", "checks": checks, "stage": get_settings().stage}
    return Response(status_code=200 if healthy else 503, body=body)


@api.route("/executions")
def list_executions() -> Response:
    params = api.current_request.query_params or {}
    try:
        limit = _int_param(params, "limit", 50, 1, 500)
    except ValueError as exc:
        return error(400, "invalid_parameter", "limit must be an integer between 1 and 500", str(exc))
    status = params.get("status")
    if status is not None and status not in EXECUTION_STATUSES:
        return error(400, "invalid_parameter", f"status must be one of {', '.join(EXECUTION_STATUSES)}", "status")
    query = select(Execution).order_by(Execution.started_at.desc(), Execution.id).limit(limit)
    if status:
        query = query.where(Execution.status == status)
    if params.get("workflow"):
        query = query.where(Execution.workflow_name == params["workflow"])
    with session_scope() as session:
        items = [execution_view(e) for e in session.scalars(query)]
    return Response(status_code=200, body={"executions": items, "count": len(items)})


def _load(execution_id: str) -> tuple[Execution | None, Response | None]:
    try:
        exec_uuid = uuid.UUID(execution_id)
    except ValueError:
        return None, error(400, "invalid_parameter", "execution_id must be a UUID", "execution_id")
    with session_scope() as session:
        execution = session.get(Execution, exec_uuid)
        if execution is None:
            return None, error(404, "not_found", f"execution {execution_id} not found", "execution_id")
        live = None
        if execution.status == "running":
            live = store.progress(session, execution_id, final_step=DAILY_STEPS[-1])
        return execution, Response(status_code=200, body={"execution": execution_view(execution, live),
                                                         "failed_tenants": store.failed_tenants(session,
                                                                                                execution_id)})


@api.route("/executions/{execution_id}")
def get_execution(execution_id: str) -> Response:
    _, response = _load(execution_id)
    assert response is not None
    return response


@api.route("/executions/{execution_id}/logs")
def get_execution_logs(execution_id: str) -> Response:
    params = api.current_request.query_params or {}
    execution, response = _load(execution_id)
    if execution is None:
        assert response is not None
        return response
    try:
        limit = _int_param(params, "limit", 200, 1, 1000)
        after = _int_param(params, "after", 0, 0, 2**62)
    except ValueError as exc:
        return error(400, "invalid_parameter", f"{exc} must be a non-negative integer in range", str(exc))
    query = (select(ExecutionLog).where(ExecutionLog.execution_id == execution.id, ExecutionLog.id > after)
             .order_by(ExecutionLog.id).limit(limit))
    for name in ("tenant_id", "step_name", "level"):
        if params.get(name):
            query = query.where(getattr(ExecutionLog, name) == params[name])
    with session_scope() as session:
        rows = list(session.scalars(query))
        total = session.scalar(select(func.count()).where(ExecutionLog.execution_id == execution.id))
    logs = [{"id": r.id, "tenant_id": r.tenant_id, "step_name": r.step_name, "step_index": r.step_index,
             "level": r.level, "message": r.message, "data": r.data, "duration_ms": r.duration_ms,
             "created_at": _iso(r.created_at)} for r in rows]
    next_cursor = logs[-1]["id"] if len(logs) == limit else None
    return Response(status_code=200, body={"logs": logs, "count": len(logs), "total": total,
                                           "next_cursor": next_cursor})
