"""Which alerts a closed run calls for (pure: no I/O). Sending them is `services.alerts`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Alert:
    type: str
    severity: str
    title: str
    message: str
    data: dict[str, Any]


def alerts_for(
    execution: Any, *, consecutive_failures: int, threshold: int, tenants_affected: list[str]
) -> list[Alert]:
    """The alerts a closed execution calls for (pure: no I/O)."""
    if execution.status != "failed":
        return []
    data = {
        "workflow_name": execution.workflow_name,
        "execution_id": str(execution.id),
        "execution_name": execution.execution_name,
        "status": execution.status,
        "error_message": execution.error_message,
        "tenants_affected": tenants_affected[:100],
        "consecutive_failures": consecutive_failures,
    }
    affected = f" Tenants affected: {len(tenants_affected)}." if tenants_affected else ""
    alerts = [
        Alert(
            type="workflow_failed",
            severity="critical",
            title=f"Workflow {execution.workflow_name} failed",
            message=f"Run {execution.execution_name} of workflow {execution.workflow_name} failed: "
            f"{execution.error_message or 'no reason recorded'}.{affected}",
            data=data,
        )
    ]
    if consecutive_failures == threshold:  # crossed just now: one escalation, not one per failure
        alerts.append(
            Alert(
                type="workflow_consecutive_failures",
                severity="critical",
                title=f"Workflow {execution.workflow_name} failed {consecutive_failures} times in a row",
                message=f"Workflow {execution.workflow_name} has failed {consecutive_failures} consecutive runs "
                f"(alert threshold {threshold}); last run {execution.execution_name}: "
                f"{execution.error_message or 'no reason recorded'}",
                data={**data, "threshold": threshold},
            )
        )
    return alerts
