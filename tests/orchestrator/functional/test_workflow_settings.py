"""Workflow settings that take effect: max_retries and retry_delay_seconds drive the per-tenant steps'
Retry in the state machine (UpdateStateMachine), and a slow but healthy service completes instead of
timing out. Real ASL on the local cloud, real handlers, the simulator."""

from __future__ import annotations

from typing import Any

import pytest

from chalicelib.domain.retry import tenant_retry
from tests.orchestrator.functional.test_api_routes import Api, madrid_tenants


def attempts_at(stack: Any, execution_name: str, function: str) -> int:
    """How many times the run invoked a step's Lambda, read from the execution's history (children too)."""
    arn = stack.deployment.function_arns[function]
    return sum(
        1
        for event in stack.history(execution_name)
        if event["type"] == "LambdaFunctionScheduled"
        and event["lambdaFunctionScheduledEventDetails"]["resource"] == arn
    )


def daily_definition(stack: Any) -> str:
    machine = stack.deployment.state_machine_arns["daily_operations"]
    return stack.cloud.client("stepfunctions").describe_state_machine(stateMachineArn=machine)["definition"]


@pytest.mark.parametrize(("max_retries", "run_date"), [(0, "2028-06-01"), (1, "2028-06-02")])
def test_max_retries_changed_through_the_api_is_how_often_a_failing_step_runs(
    api: Api, stack: Any, simulator: Any, max_retries: int, run_date: str
) -> None:
    before = tenant_retry(daily_definition(stack))
    try:
        # GIVEN the operator sets the daily workflow's retry policy through the API
        status, body = api.put("/workflows/daily_operations", {"max_retries": max_retries, "retry_delay_seconds": 1})
        assert status == 200, body
        assert body["retry_policy"]["status"] == "updated" and body["max_retries"] == max_retries
        assert tenant_retry(daily_definition(stack)) == (max_retries, 1)
        # AND the production service fails for one tenant every time
        victim = madrid_tenants(stack)[0]["id"]
        simulator.state.set_fault("production", status_code=503, error_rate=1.0, tenant_ids=[victim])
        # WHEN that tenant's run executes
        status, body = api.post("/workflows/daily_operations/execute", {"tenant_ids": [victim], "run_date": run_date})
        assert status == 202, body
        name = body["runs"][0]["execution_name"]
        result = stack.wait(name, timeout=180).summary
        # THEN the step ran once plus max_retries times, as the history and the service both say
        assert result["status"] == "failed"
        assert attempts_at(stack, name, "plan_production") == max_retries + 1
        assert simulator.state.calls_for("production", victim) == max_retries + 1
    finally:
        status, _ = api.put("/workflows/daily_operations", {"max_retries": before[0], "retry_delay_seconds": before[1]})
        assert status == 200 and tenant_retry(daily_definition(stack)) == before


def test_an_unchanged_policy_leaves_the_state_machine_alone(api: Api, stack: Any) -> None:
    # GIVEN the daily workflow's current policy
    current = tenant_retry(daily_definition(stack))
    # WHEN the same values are written again
    status, body = api.put(
        "/workflows/daily_operations", {"max_retries": current[0], "retry_delay_seconds": current[1]}
    )
    # THEN nothing is updated
    assert status == 200 and body["retry_policy"]["status"] == "unchanged"


def test_steps_are_read_only_so_a_workflow_stays_on_its_state_machine(api: Api) -> None:
    # WHEN an operator tries to change the daily workflow's steps
    status, body = api.put("/workflows/daily_operations", {"steps": ["generate_forecasts"]})
    # THEN it is refused with the reason, and the next request still reads the workflow
    assert status == 422 and body["field"] == "steps" and "read-only" in body["message"]
    status, body = api.get("/workflows/daily_operations")
    assert status == 200 and body["steps"][0] == "generate_forecasts" and len(body["steps"]) == 6


def test_a_slow_but_healthy_forecast_completes(api: Api, stack: Any, simulator: Any) -> None:
    # GIVEN the forecasting service answers one tenant after 12 s: longer than the 10 s every call got
    # before, well inside the documented 300 s forecasting client timeout
    tenant = madrid_tenants(stack)[1]["id"]
    simulator.state.set_fault("forecasting", latency_ms=12_000, tenant_ids=[tenant])
    # WHEN that tenant's run executes
    status, body = api.post("/workflows/daily_operations/execute", {"tenant_ids": [tenant], "run_date": "2028-06-03"})
    assert status == 202, body
    name = body["runs"][0]["execution_name"]
    result = stack.wait(name, timeout=180).summary
    # THEN it completes, with the forecast made once (no timeout, no retry)
    assert result["status"] == "completed" and result["tenants_processed"] == 1
    assert simulator.state.calls_for("forecasting", tenant) >= 1
    assert attempts_at(stack, name, "generate_forecasts") == 1


def test_next_execution_at_is_kept_current_by_schedule_changes_and_runs(api: Api, stack: Any) -> None:
    from datetime import datetime

    from chalicelib.services.scheduling import next_run

    # GIVEN a workflow whose schedule an operator changes
    spec = {"name": "next_run_probe", "cron_expression": "0 7 * * *", "steps": ["generate_forecasts"]}
    assert api.post("/workflows", spec)[0] == 201
    status, body = api.put("/workflows/next_run_probe", {"cron_expression": "30 9 * * *"})
    # THEN its next_execution_at is the next 09:30 of its scopes (as next-run computes it)
    assert status == 200
    expected = next_run("next_run_probe")["next_run_at"]
    assert expected is not None
    assert datetime.fromisoformat(body["next_execution_at"]) == datetime.fromisoformat(expected)
    assert datetime.fromisoformat(expected).astimezone().minute == 30
    # AND disabling it clears it
    status, body = api.post("/workflows/next_run_probe/disable")
    assert status == 200
    status, body = api.get("/workflows/next_run_probe")
    assert body["next_execution_at"] is None
    # AND a run of the daily workflow leaves its next_execution_at at the next run after the run
    tenant = madrid_tenants(stack)[2]["id"]
    status, run = api.post("/workflows/daily_operations/execute", {"tenant_ids": [tenant], "run_date": "2028-06-04"})
    assert status == 202
    stack.wait(run["runs"][0]["execution_name"], timeout=180)
    status, daily = api.get("/workflows/daily_operations")
    assert daily["next_execution_at"] is not None
    assert datetime.fromisoformat(daily["next_execution_at"]) == datetime.fromisoformat(
        next_run("daily_operations")["next_run_at"]
    )
