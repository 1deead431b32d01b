"""Alerts to operators through the platform's notification service (which ones: `domain.alerts`).

Called once a run has been closed (by FinishRun, FailRun or the watchdog), outside the transaction that
closed it: an HTTP call never holds a database transaction open.

Every alert, sent or not, is recorded in the execution's logs (step_name "alert"). A notification
service that is down never fails the run: the run's outcome is already committed and its event is in
the outbox; the log row says the alert could not be sent.
"""

from __future__ import annotations

import uuid
from typing import Any

from chalicelib.adapters.platform import get_platform_client
from chalicelib.db.engine import session_scope
from chalicelib.db.logs import add_logs, log_row
from chalicelib.db.models import Execution
from chalicelib.db.steps import failed_tenants
from chalicelib.db.workflows import get_workflow
from chalicelib.domain.alerts import AlertPolicy, alerts_for
from chalicelib.observability import get_logger
from chalicelib.settings import get_settings

ALERT_STEP = "alert"


def policy() -> AlertPolicy:
    settings = get_settings()
    return AlertPolicy(
        consecutive_failures_threshold=settings.alert_consecutive_failures_threshold,
        tenant_failure_percent=settings.alert_tenant_failure_percent,
        slow_run_factor=settings.slow_run_factor,
        cost_budget_eur=settings.run_cost_budget_eur,
    )


def notify_run_closed(execution_id: str) -> list[dict[str, Any]]:
    """Send the alerts a just-closed run calls for and record each in its logs; returns what happened."""
    with session_scope() as session:
        execution = session.get(Execution, uuid.UUID(execution_id))
        if execution is None:
            return []
        workflow = get_workflow(session, execution.workflow_name)
        consecutive = workflow.consecutive_failures if workflow is not None else 0
        affected = sorted({f["tenant_id"] for f in failed_tenants(session, execution_id)})
        pending = alerts_for(execution, consecutive_failures=consecutive, tenants_affected=affected, policy=policy())
    if not pending:
        return []
    outcomes, logs = [], []
    for alert in pending:
        outcome: dict[str, Any] = {"type": alert.type, "severity": alert.severity}
        try:
            body = get_platform_client().send_notification(
                tenant_id=None,
                type_=alert.type,
                severity=alert.severity,
                title=alert.title,
                message=alert.message,
                data=alert.data,
            )
            outcome.update(sent=True, notification_id=body.get("notification_id"))
            logs.append(_log(f"alert sent: {alert.message}", "WARNING", {**outcome, **alert.data}))
        except Exception as exc:  # noqa: BLE001 - the run is closed; record that the alert failed
            outcome.update(sent=False, error=f"{type(exc).__name__}: {exc}"[:500])
            logs.append(
                _log(f"alert NOT sent ({outcome['error']}): {alert.message}", "ERROR", {**outcome, **alert.data})
            )
            get_logger().error("alert not sent", extra={"alert": alert.type, "error": outcome["error"]})
        outcomes.append(outcome)
    with session_scope() as session:
        add_logs(session, execution_id, logs)
    return outcomes


def _log(message: str, level: str, data: dict[str, Any]) -> dict[str, Any]:
    return log_row(ALERT_STEP, message[:4000], level=level, data=data)
