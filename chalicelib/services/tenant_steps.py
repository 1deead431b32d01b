"""Running one tenant's step: at most once per (execution, tenant, step), recorded completed with its
summary or failed with its error, and reused from the original run in a retry from failure."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from chalicelib.adapters.step_cache import StepKey, run_once
from chalicelib.db.engine import session_scope
from chalicelib.db.logs import log_row
from chalicelib.db.steps import completed_step_result, record_step
from chalicelib.domain.models import TenantStepInput
from chalicelib.errors import recordable_message
from chalicelib.observability import get_logger

StepWork = Callable[[TenantStepInput], tuple[dict[str, Any], str]]


def run_tenant_step(step_name: str, request: TenantStepInput, work: StepWork) -> dict[str, Any]:
    """Run one tenant's step and record it: completed with its summary, or failed with the error.

    The error is re-raised so the state machine's Retry and Catch see its class name.
    """
    run, tenant = request.run, request.tenant
    if run.retry_of:  # retry from failure: what the original completed is reused, not re-run
        reused = _reuse_from_original(step_name, request)
        if reused is not None:
            return reused
    started = time.perf_counter()
    try:
        summary, message = _run_once(step_name, request, work)
    except Exception as exc:
        elapsed = (time.perf_counter() - started) * 1000
        message = recordable_message(type(exc).__name__, str(exc))
        with session_scope() as session:
            record_step(
                session,
                run.execution_id,
                tenant.id,
                step_name,
                status="failed",
                duration_ms=elapsed,
                error_type=type(exc).__name__,
                error_message=message,
                logs=[
                    log_row(
                        step_name,
                        f"{step_name} failed for {tenant.name or tenant.id}: {message}",
                        tenant_id=tenant.id,
                        level="ERROR",
                        duration_ms=elapsed,
                        data={"error_type": type(exc).__name__},
                    )
                ],
            )
        get_logger().warning(
            "step failed", extra={"error_type": type(exc).__name__, "error": str(exc)[:500], "duration_ms": elapsed}
        )
        raise
    elapsed = (time.perf_counter() - started) * 1000
    get_logger().info("step completed", extra={"duration_ms": elapsed})
    with session_scope() as session:
        record_step(
            session,
            run.execution_id,
            tenant.id,
            step_name,
            status="completed",
            duration_ms=elapsed,
            result=summary,
            logs=[log_row(step_name, message, tenant_id=tenant.id, data=summary, duration_ms=elapsed)],
        )
    return summary


def _run_once(step_name: str, request: TenantStepInput, work: StepWork) -> tuple[dict[str, Any], str]:
    """The step's work at most once per (execution, tenant, step): a redelivery gets the cached result.

    (A "retry from failure" run may look up the original execution's result before this.)
    """
    key = StepKey(request.run.execution_id, request.tenant.id, step_name)
    result, _replayed = run_once(key, lambda: work(request))
    return result.summary, result.message


def _reuse_from_original(step_name: str, request: TenantStepInput) -> dict[str, Any] | None:
    """If the tenant completed this step in the retried execution, record it completed here with the
    original's result (and a log saying so) and return that result; None means: run the step."""
    run, tenant = request.run, request.tenant
    if run.retry_of is None:
        return None
    with session_scope() as session:
        result = completed_step_result(session, run.retry_of, tenant.id, step_name)
        if result is None:
            return None
        record_step(
            session,
            run.execution_id,
            tenant.id,
            step_name,
            status="completed",
            duration_ms=0.0,
            result=result,
            logs=[
                log_row(
                    step_name,
                    f"{step_name} reused from execution {run.retry_of} (completed there)",
                    tenant_id=tenant.id,
                    data={"reused_from": run.retry_of, **result},
                )
            ],
        )
    return result
