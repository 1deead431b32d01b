"""The daily workflow on the local cloud: the real ASL executed by moto, the real handlers, the simulator
over HTTP, the embedded SQLite database and Redis. Each test uses its own local date (its own name)."""

from __future__ import annotations

import json
import uuid
from collections import Counter
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import func, select

from chalicelib.db.engine import session_scope
from chalicelib.db.models import Execution, ExecutionLog, OutboxEvent, StepRun

ACTIVE_MADRID = 10  # demo tenants: 13, of which 1 suspended, 1 cancelled, 1 in Atlantic/Canary


def madrid_eight(day: int, month: int = 12) -> datetime:
    """08:00 Europe/Madrid in winter is 07:00 UTC."""
    return datetime(2026, month, day, 7, 0, tzinfo=UTC)


def run_once(stack: Any, at: datetime) -> tuple[dict[str, Any], Any]:
    dispatch = stack.dispatches(stack.fire(at))
    assert len(dispatch) == 1, dispatch
    runs = dispatch[0]["runs"]
    assert [r["outcome"] for r in runs] == ["started"], runs
    result = stack.wait(runs[0]["execution_name"], timeout=180)
    return dispatch[0], result


def history(stack: Any, execution_name: str) -> list[dict[str, Any]]:
    """Parent and Distributed Map child histories, read through the Step Functions API."""
    return stack.history(execution_name)


def test_daily_run_processes_every_active_madrid_tenant(stack: Any) -> None:
    # GIVEN the demo tenants and the deployed daily workflow
    # WHEN the clock fires at 08:00 Madrid time
    dispatch, result = run_once(stack, madrid_eight(1))
    # THEN only the Madrid scope was due and its execution succeeded
    assert dispatch["not_due"] == ["Atlantic/Canary"]
    assert result.sfn_status == "SUCCEEDED"
    summary = result.summary
    assert summary["execution_name"] == "daily_operations-europe-madrid-2026-12-01"
    assert summary["status"] == "completed"
    assert (summary["tenants_total"], summary["tenants_processed"], summary["tenants_failed"]) == (
        ACTIVE_MADRID,
        ACTIVE_MADRID,
        0,
    )
    assert summary["tenants_skipped"] == 2
    assert summary["steps_completed"] == summary["steps_total"] == ACTIVE_MADRID * 6
    # AND the history shows one map run with one child execution per tenant, six Lambda tasks each
    events = Counter(e["type"] for e in history(stack, summary["execution_name"]))
    assert events["MapRunStarted"] == events["MapRunSucceeded"] == 1
    assert events["ExecutionStarted"] == 1 + ACTIVE_MADRID
    assert events["ExecutionSucceeded"] == 1 + ACTIVE_MADRID
    assert events["LambdaFunctionSucceeded"] >= ACTIVE_MADRID * 6
    # AND every tenant's steps and logs are recorded, and the completion event waits in the outbox or is sent
    with session_scope() as session:
        execution_id = uuid.UUID(summary["execution_id"])
        steps = session.scalar(select(func.count()).where(StepRun.execution_id == execution_id))
        logs = session.scalars(select(ExecutionLog).where(ExecutionLog.execution_id == execution_id)).all()
        event = session.scalar(select(OutboxEvent).where(OutboxEvent.aggregate_id == summary["execution_id"]))
    assert steps == ACTIVE_MADRID * 6
    # AND the run's estimated AWS cost is stored with it: one EXPRESS child per tenant, a Lambda request
    # per step plus the run-level ones
    with session_scope() as session:
        cost = session.get(Execution, execution_id).result_summary["cost"]
    assert cost["billed"]["express_requests"] == ACTIVE_MADRID
    assert cost["billed"]["lambda_requests"] == ACTIVE_MADRID * 6 + 4
    assert cost["eur_per_tenant"] > 0 and cost["eur_total"] == pytest.approx(cost["eur_per_tenant"] * ACTIVE_MADRID)
    assert {log.step_name for log in logs} >= {"start_run", "list_tenants", "generate_forecasts", "finish_run"}
    assert event is not None and event.event_type == "orchestrator_workflow_completed"
    assert event.published_at is not None  # the run's PublishEvents step sent it to the local event log
    assert event.payload["tenants_processed"] == ACTIVE_MADRID
    # AND each tenant got its daily summary from the notification service
    sent = [
        n
        for n in stack.simulator.state.list_notifications()
        if n.get("type") == "daily_summary" and n.get("data", {}).get("execution_name") == summary["execution_name"]
    ]
    assert len(sent) == ACTIVE_MADRID


def test_tenant_whose_service_keeps_failing_is_recorded_and_others_complete(stack: Any, simulator: Any) -> None:
    # GIVEN the forecasting service answers 503 to one tenant, every time
    victim = _first_active_madrid_tenant(stack)
    simulator.state.set_fault("forecasting", status_code=503, error_rate=1.0, tenant_ids=[victim["id"]])
    # WHEN the daily run fires
    _, result = run_once(stack, madrid_eight(2))
    # THEN the run completes with failures: the victim failed, everyone else was processed
    summary = result.summary
    assert result.sfn_status == "SUCCEEDED"
    assert summary["status"] == "completed_with_failures"
    assert (summary["tenants_processed"], summary["tenants_failed"]) == (ACTIVE_MADRID - 1, 1)
    with session_scope() as session:
        failed = session.scalars(
            select(StepRun).where(
                StepRun.execution_id == uuid.UUID(summary["execution_id"]), StepRun.status == "failed"
            )
        ).all()
    # (the accuracy check calls the same forecasting service, so it may fail too)
    assert {f.tenant_id for f in failed} == {victim["id"]}
    by_step = {f.step_name: f for f in failed}
    assert set(by_step) <= {"generate_forecasts", "validate_forecasts"}
    assert by_step["generate_forecasts"].error_type == "TransientServiceError"
    assert "503" in (by_step["generate_forecasts"].error_message or "")
    # AND the history shows the retries (1 attempt + 2 retries per task), then the Catch
    events = history(stack, summary["execution_name"])
    failures = [
        e
        for e in events
        if e["type"] == "LambdaFunctionFailed"
        and e["lambdaFunctionFailedEventDetails"]["error"] == "TransientServiceError"
    ]
    assert len(failures) >= 3
    assert simulator.state.calls_for("forecasting", victim["id"]) >= 3
    recorded = [
        e
        for e in events
        if e["type"] == "TaskStateEntered" and e["stateEnteredEventDetails"]["name"] == "Record tenant failure"
    ]
    assert len(recorded) == 1


def test_same_instant_twice_starts_one_execution(stack: Any) -> None:
    # GIVEN a run fired and finished for one instant
    _, result = run_once(stack, madrid_eight(3))
    name = result.summary["execution_name"]
    # WHEN EventBridge delivers the same instant again
    again = stack.dispatches(stack.fire(madrid_eight(3)))
    # THEN the dispatcher reports it done and Step Functions holds one execution of that name
    assert [r["outcome"] for r in again[0]["runs"]] == ["already_done"]
    sfn = stack.cloud.client("stepfunctions")
    machine = stack.deployment.state_machine_arns["daily_operations"]
    names = [e["name"] for e in sfn.list_executions(stateMachineArn=machine)["executions"]]
    assert names.count(name) == 1
    with session_scope() as session:
        assert session.scalar(select(func.count()).where(Execution.execution_name == name)) == 1


@pytest.mark.parametrize(
    ("function", "payload", "field"),
    [
        ("generate_forecasts", {"run": {"execution_id": "x"}, "tenant": {"id": "t"}}, "run.execution_name"),
        ("generate_forecasts", {"tenant": {"id": "t"}}, "run"),
        (
            "start_run",
            {
                "request": {"workflow_name": "daily_operations", "scope": "Europe/Madrid", "run_date": "not-a-date"},
                "execution_name": "n",
            },
            "request.run_date",
        ),
        ("dispatch", {"workflow_name": "daily_operations", "time": "2026-12-01T07:00:00"}, "time"),
        ("dispatch", [1, 2], "expected a JSON object"),
    ],
)
def test_bad_input_to_a_step_names_the_field_and_writes_nothing(
    stack: Any, function: str, payload: Any, field: str
) -> None:
    # GIVEN the number of rows before
    with session_scope() as session:
        before = (
            session.scalar(select(func.count()).select_from(Execution)),
            session.scalar(select(func.count()).select_from(ExecutionLog)),
        )
    # WHEN a step is invoked with bad input
    response = stack.cloud.client("lambda").invoke(
        FunctionName=stack.deployment.function_arns[function], Payload=json.dumps(payload).encode()
    )
    body = json.loads(response["Payload"].read())
    # THEN it fails with InvalidInputError naming the field, and no row was written
    assert response.get("FunctionError")
    assert body["errorType"] == "InvalidInputError"
    assert field in body["errorMessage"]
    with session_scope() as session:
        after = (
            session.scalar(select(func.count()).select_from(Execution)),
            session.scalar(select(func.count()).select_from(ExecutionLog)),
        )
    assert after == before


def _first_active_madrid_tenant(stack: Any) -> dict[str, Any]:
    from bakery_sim.tenants import demo_tenants

    return next(
        t
        for t in demo_tenants()
        if t["status"] == "active" and t["timezone"] == "Europe/Madrid" and t["subscription_tier"] == "starter"
    )


def test_a_validation_outage_is_a_warning_and_the_plans_and_summary_still_go_out(stack: Any, simulator: Any) -> None:
    # GIVEN the forecasting service cannot validate yesterday's forecasts for one tenant (every attempt
    # fails), while forecasts themselves work
    victim = _first_active_madrid_tenant(stack)
    simulator.state.set_fault(
        "forecasting", status_code=503, error_rate=1.0, tenant_ids=[victim["id"]], path="/api/v1/forecasting/validate"
    )
    # WHEN the daily run fires
    _, result = run_once(stack, madrid_eight(4))
    # THEN every tenant got its plans: the run completed, nobody failed
    summary = result.summary
    assert (summary["status"], summary["tenants_failed"], summary["tenants_processed"]) == (
        "completed",
        0,
        ACTIVE_MADRID,
    )
    # AND the victim's accuracy check is recorded as a warning (not a failure), with the service's error
    with session_scope() as session:
        rows = {
            (r.tenant_id, r.step_name): r
            for r in session.scalars(select(StepRun).where(StepRun.execution_id == uuid.UUID(summary["execution_id"])))
        }
        warnings = session.scalars(
            select(ExecutionLog).where(
                ExecutionLog.execution_id == uuid.UUID(summary["execution_id"]), ExecutionLog.level == "WARNING"
            )
        ).all()
        execution = session.get(Execution, uuid.UUID(summary["execution_id"]))
        counted = execution.result_summary["warnings"]
    check = rows[(victim["id"], "validate_forecasts")]
    assert check.status == "skipped" and "503" in (check.error_message or "")
    assert rows[(victim["id"], "send_daily_summary")].status == "completed"
    assert [w.tenant_id for w in warnings if w.step_name == "validate_forecasts"] == [victim["id"]]
    assert counted == 1
    # AND the victim's daily summary went out, saying the accuracy is unavailable
    [sent] = [
        n
        for n in simulator.state.list_notifications()
        if n.get("type") == "daily_summary"
        and n.get("tenant_id") == victim["id"]
        and n.get("data", {}).get("execution_name") == summary["execution_name"]
    ]
    assert "Yesterday's forecast accuracy: unavailable" in sent["message"]
