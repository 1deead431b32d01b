"""Failure alerts: a failed run calls the notification service with a clear message and records the
alert in the execution's logs; reaching the consecutive-failures threshold adds an escalation."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select, update

from chalicelib.db.engine import session_scope
from chalicelib.db.models import Execution, ExecutionLog, Workflow
from chalicelib.domain.alerts import alerts_for


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
        )

    # WHEN / THEN a completed run (even with failed tenants) raises no alert
    assert (
        alerts_for(execution("completed_with_failures"), consecutive_failures=0, threshold=3, tenants_affected=["t1"])
        == []
    )
    # AND a failure below or beyond the threshold alerts once, at the threshold twice
    assert [
        a.type for a in alerts_for(execution("failed"), consecutive_failures=2, threshold=3, tenants_affected=[])
    ] == ["workflow_failed"]
    assert [
        a.type for a in alerts_for(execution("failed"), consecutive_failures=3, threshold=3, tenants_affected=[])
    ] == ["workflow_failed", "workflow_consecutive_failures"]
    assert [
        a.type for a in alerts_for(execution("failed"), consecutive_failures=4, threshold=3, tenants_affected=[])
    ] == ["workflow_failed"]
