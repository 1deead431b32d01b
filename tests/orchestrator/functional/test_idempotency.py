"""Step idempotency on the local cloud (SQLite, embedded Redis): a step delivered again for the same
(execution, tenant, step) returns the cached result without calling its service again; failures are
never cached."""

from __future__ import annotations

import json
import uuid
from typing import Any

from sqlalchemy import func, select

from chalicelib.db.engine import session_scope
from chalicelib.db.models import ExecutionLog, StepRun


def _invoke(stack: Any, function: str, payload: dict[str, Any]) -> tuple[dict[str, Any], bool]:
    response = stack.cloud.client("lambda").invoke(
        FunctionName=stack.deployment.function_arns[function], Payload=json.dumps(payload).encode()
    )
    return json.loads(response["Payload"].read()), bool(response.get("FunctionError"))


def _open_run(stack: Any) -> dict[str, Any]:
    request = {
        "workflow_name": "daily_operations",
        "scope": "Europe/Madrid",
        "run_date": "2027-02-01",
        "trigger": "manual",
    }
    run, failed = _invoke(stack, "start_run", {"request": request, "execution_name": f"idem-{uuid.uuid4().hex[:10]}"})
    assert not failed, run
    return run


def _tenant() -> dict[str, Any]:
    from bakery_sim.tenants import demo_tenants

    tenant = next(t for t in demo_tenants() if t["status"] == "active")
    return {"id": tenant["id"], "name": tenant["name"]}


def test_redelivered_step_returns_cached_result_without_calling_the_service(stack: Any, simulator: Any) -> None:
    # GIVEN a step that completed once for a tenant of an open run
    run, tenant = _open_run(stack), _tenant()
    event = {"run": run, "tenant": tenant}
    first, failed = _invoke(stack, "plan_production", event)
    assert not failed, first
    # WHEN the same step is delivered again
    again, failed = _invoke(stack, "plan_production", event)
    # THEN it answers the same result and the production service was called once
    assert not failed and again == first
    assert simulator.state.calls_for("production", tenant["id"]) == 1
    # AND one step row and one log entry record it
    with session_scope() as session:
        rows = session.scalar(select(func.count()).where(StepRun.execution_id == uuid.UUID(run["execution_id"])))
        logs = session.scalar(
            select(func.count()).where(
                ExecutionLog.execution_id == uuid.UUID(run["execution_id"]), ExecutionLog.step_name == "plan_production"
            )
        )
    assert (rows, logs) == (1, 1)


def test_a_failed_step_is_not_cached_and_its_retry_calls_again(stack: Any, simulator: Any) -> None:
    # GIVEN the inventory service fails the tenant's first call
    run, tenant = _open_run(stack), _tenant()
    simulator.state.set_fault("inventory", fail_first_n=1, status_code=503, tenant_ids=[tenant["id"]])
    event = {"run": run, "tenant": tenant}
    # WHEN the step is delivered, fails, and is retried
    error, failed = _invoke(stack, "project_inventory", event)
    assert failed and error["errorType"] == "TransientServiceError"
    result, failed = _invoke(stack, "project_inventory", event)
    # THEN the retry called the service again and succeeded; the step row ends completed
    assert not failed and "projection_id" in result
    assert simulator.state.calls_for("inventory", tenant["id"]) == 2
    with session_scope() as session:
        status = session.scalar(select(StepRun.status).where(StepRun.execution_id == uuid.UUID(run["execution_id"])))
    assert status == "completed"


def test_the_same_step_of_another_execution_is_not_served_from_the_cache(stack: Any, simulator: Any) -> None:
    # GIVEN a step completed in one execution
    tenant = _tenant()
    _invoke(stack, "calculate_procurement", {"run": _open_run(stack), "tenant": tenant})
    # WHEN the same step runs for the same tenant in another execution
    _, failed = _invoke(stack, "calculate_procurement", {"run": _open_run(stack), "tenant": tenant})
    # THEN the service is called for each execution
    assert not failed
    assert simulator.state.calls_for("procurement", tenant["id"]) == 2
