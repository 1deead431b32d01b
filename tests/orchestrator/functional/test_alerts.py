"""Failure alerts: a failed run calls the notification service with a clear message and records the
alert in the execution's logs; reaching the consecutive-failures threshold adds an escalation."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select, update

from chalicelib.db.engine import session_scope
from chalicelib.db.models import Execution, ExecutionLog, Workflow
from chalicelib.domain.alerts import AlertPolicy, alerts_for, p95, slow_run

POLICY = AlertPolicy(
    consecutive_failures_threshold=3, tenant_failure_percent=10.0, slow_run_factor=1.5, cost_budget_eur=5.0
)


def test_failed_run_alerts_operators_and_escalates_at_the_threshold(stack: Any, simulator: Any) -> None:
    # GIVEN a workflow that already failed twice in a row (threshold 3) and a forecasting service down
    with session_scope() as session:
        session.execute(update(Workflow).where(Workflow.name == "daily_operations").values(consecutive_failures=2))
    simulator.state.set_fault("forecasting", status_code=503, error_rate=1.0)
    try:
        # WHEN the daily run fires and every tenant fails
        runs = stack.dispatches(stack.fire(datetime(2027, 2, 2, 7, 0, tzinfo=UTC)))[0]["runs"]
        result = stack.wait(runs[0]["execution_name"], timeout=180)
    finally:
        with session_scope() as session:
            session.execute(update(Workflow).where(Workflow.name == "daily_operations").values(consecutive_failures=0))
    # THEN the run failed and the notification service got both alerts, naming the run and the reason
    assert result.summary["status"] == "failed"
    execution_id = result.summary["execution_id"]
    sent = [n for n in simulator.state.list_notifications() if n["data"].get("execution_id") == execution_id]
    assert sorted(n["type"] for n in sent) == ["workflow_consecutive_failures", "workflow_failed"]
    failed = next(n for n in sent if n["type"] == "workflow_failed")
    assert failed["severity"] == "critical" and failed["tenant_id"] is None
    assert result.summary["execution_name"] in failed["message"] and "tenants failed" in failed["message"]
    assert len(failed["data"]["tenants_affected"]) == result.summary["tenants_total"]
    escalation = next(n for n in sent if n["type"] == "workflow_consecutive_failures")
    assert "3 consecutive runs" in escalation["message"]
    # AND both alerts are in the execution's logs
    with session_scope() as session:
        logged = session.scalars(
            select(ExecutionLog.message).where(
                ExecutionLog.execution_id == uuid.UUID(execution_id), ExecutionLog.step_name == "alert"
            )
        ).all()
    assert len(logged) == 2 and all(m.startswith("alert sent:") for m in logged)


def test_alerts_only_for_failed_runs_and_escalation_only_when_crossing() -> None:
    # GIVEN executions in various final states
    def execution(status: str) -> Execution:
        return Execution(
            id=uuid.uuid4(),
            workflow_name="daily_operations",
            execution_name="x",
            status=status,
            error_message="boom" if status == "failed" else None,
            tenants_total=20,
            tenants_failed=1,
        )

    # WHEN / THEN a completed run with few failed tenants (1 of 20, under 10 %) raises no alert
    assert (
        alerts_for(execution("completed_with_failures"), consecutive_failures=0, tenants_affected=["t1"], policy=POLICY)
        == []
    )
    # AND a failure below or beyond the threshold alerts once, at the threshold twice
    assert [
        a.type for a in alerts_for(execution("failed"), consecutive_failures=2, tenants_affected=[], policy=POLICY)
    ] == ["workflow_failed"]
    assert [
        a.type for a in alerts_for(execution("failed"), consecutive_failures=3, tenants_affected=[], policy=POLICY)
    ] == ["workflow_failed", "workflow_consecutive_failures"]
    assert [
        a.type for a in alerts_for(execution("failed"), consecutive_failures=4, tenants_affected=[], policy=POLICY)
    ] == ["workflow_failed"]


def test_more_than_the_allowed_share_of_failed_tenants_alerts_even_when_the_run_completed() -> None:
    # GIVEN a run that completed with 3 of 20 tenants failed (15 %, over the 10 % limit)
    run = Execution(
        id=uuid.uuid4(),
        workflow_name="daily_operations",
        execution_name="x",
        status="completed_with_failures",
        tenants_total=20,
        tenants_failed=3,
    )
    # THEN one warning names the share; 2 of 20 (10 %, not over it) raises none
    [alert] = alerts_for(run, consecutive_failures=0, tenants_affected=["a", "b", "c"], policy=POLICY)
    assert (alert.type, alert.severity, alert.data["failed_percent"]) == ("tenant_failures", "warning", 15.0)
    run.tenants_failed = 2
    assert alerts_for(run, consecutive_failures=0, tenants_affected=["a", "b"], policy=POLICY) == []


def test_a_slow_run_and_a_run_over_its_cost_budget_alert() -> None:
    # GIVEN thirty earlier runs of 100..129 s: their p95 is 128 s
    recent = [100.0 + i for i in range(30)]
    assert p95(recent) == 128.0
    # WHEN a run takes 200 s (over 1.5 x 128 = 192) and costs 6 EUR (over the 5 EUR budget)
    performance = slow_run(200.0, recent, 1.5)
    run = Execution(
        id=uuid.uuid4(),
        workflow_name="daily_operations",
        execution_name="x",
        status="completed",
        tenants_total=10,
        tenants_failed=0,
        duration_seconds=200.0,
        result_summary={"performance": performance, "cost": {"eur_total": 6.0}},
    )
    # THEN both warnings go out
    alerts = alerts_for(run, consecutive_failures=0, tenants_affected=[], policy=POLICY)
    assert [a.type for a in alerts] == ["run_slow", "run_cost_over_budget"]
    # AND 190 s is not slow, and too few earlier runs judge nothing
    assert slow_run(190.0, recent, 1.5) == {"p95_seconds": 128.0, "factor": 1.5, "slow": False}
    assert slow_run(1000.0, recent[:4], 1.5) is None
