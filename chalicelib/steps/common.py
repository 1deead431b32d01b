"""What every step shares: input parsing with clear errors, timing, recording the outcome."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from chalicelib import store
from chalicelib.db.engine import session_scope
from chalicelib.domain.models import DAILY_STEPS, TenantStepInput
from chalicelib.errors import InvalidInputError
from chalicelib.idempotency import StepKey, run_once

ModelT = TypeVar("ModelT", bound=BaseModel)


def parse(model: type[ModelT], event: Any) -> ModelT:
    """Validate a step's input; the error names every offending field."""
    if not isinstance(event, dict):
        raise InvalidInputError(f"{model.__name__}: expected a JSON object, got {type(event).__name__}")
    try:
        return model.model_validate(event)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or '<root>'}: {err['msg']}" for err in exc.errors()
        )
        raise InvalidInputError(f"{model.__name__}: invalid input: {problems}") from None


def log_row(step_name: str, message: str, *, tenant_id: str | None = None, level: str = "INFO",
            data: dict[str, Any] | None = None, duration_ms: float | None = None) -> dict[str, Any]:
    step_index = DAILY_STEPS.index(step_name) if step_name in DAILY_STEPS else 0
    return {
        "tenant_id": tenant_id,
        "step_name": step_name,
        "step_index": step_index,
        "level": level,
        "message": message,
        "data": data,
        "duration_ms": duration_ms,
    }


# SQLSTATE classes of a database that is restarting or unreachable: 57P0x (shutting down, starting up),
# 08xxx (connection exception).
def run_tenant_step(
    step_name: str,
    event: Any,
    work: Callable[[TenantStepInput], tuple[dict[str, Any], str]],
) -> dict[str, Any]:
    """Run one tenant's step and record it: completed with its summary, or failed with the error.

    The error is re-raised so the state machine's Retry and Catch see its class name.
    """
    request = parse(TenantStepInput, event)
    run, tenant = request.run, request.tenant
    if run.retry_of:  # retry from failure (issue 6): what the original completed is reused, not re-run
        reused = _reuse_from_original(step_name, request)
        if reused is not None:
            return reused
    started = time.perf_counter()
    try:
        summary, message = _run_once(step_name, request, work)
    except Exception as exc:
        elapsed = (time.perf_counter() - started) * 1000
        with session_scope() as session:
            store.record_step(
                session, run.execution_id, tenant.id, step_name,
                status="failed", duration_ms=elapsed,
                error_type=type(exc).__name__, error_message=str(exc)[:2000],
                logs=[log_row(step_name, f"{step_name} failed for {tenant.name or tenant.id}: {exc}",
                              tenant_id=tenant.id, level="ERROR", duration_ms=elapsed,
                              data={"error_type": type(exc).__name__})],
            )
        raise
    elapsed = (time.perf_counter() - started) * 1000
    with session_scope() as session:
        store.record_step(
            session, run.execution_id, tenant.id, step_name,
            status="completed", duration_ms=elapsed, result=summary,
            logs=[log_row(step_name, message, tenant_id=tenant.id, data=summary, duration_ms=elapsed)],
        )
    return summary


def _run_once(
    step_name: str,
    request: TenantStepInput,
    work: Callable[[TenantStepInput], tuple[dict[str, Any], str]],
) -> tuple[dict[str, Any], str]:
    """The step's work at most once per (execution, tenant, step): a redelivery gets the cached result.

    (A "retry from failure" run may look up the original execution's result before this.)
    """
    key = StepKey(request.run.execution_id, request.tenant.id, step_name)
    result, _replayed = run_once(key, lambda: work(request))
    return result.summary, result.message


# --- retry from failure (issue 6) -----------------------------------------------------------------------
def _reuse_from_original(step_name: str, request: TenantStepInput) -> dict[str, Any] | None:
    """If the tenant completed this step in the retried execution, record it completed here with the
    original's result (and a log saying so) and return that result; None means: run the step."""
    run, tenant = request.run, request.tenant
    assert run.retry_of is not None
    with session_scope() as session:
        result = store.completed_step_result(session, run.retry_of, tenant.id, step_name)
        if result is None:
            return None
        store.record_step(
            session, run.execution_id, tenant.id, step_name, status="completed", duration_ms=0.0, result=result,
            logs=[log_row(step_name, f"{step_name} reused from execution {run.retry_of} (completed there)",
                          tenant_id=tenant.id, data={"reused_from": run.retry_of, **result})],
        )
    return result


def parse_cause(cause: str | None) -> tuple[str | None, str]:
    """A Catch's Cause is the Lambda error envelope as JSON text (or plain text from the service)."""
    if not cause:
        return None, "no cause given"
    try:
        envelope = json.loads(cause)
    except ValueError:
        return None, cause[:2000]
    if isinstance(envelope, dict):
        return envelope.get("errorType"), str(envelope.get("errorMessage", cause))[:2000]
    return None, cause[:2000]
