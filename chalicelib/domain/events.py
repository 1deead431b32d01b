"""The events a run announces on the `orchestrator` exchange (built here only, published by the bridge).

Their shape is the documented contract other services consume (`contracts/events.schema.json`):
  orchestrator_workflow_completed: event_type, workflow_name, execution_id, tenants_processed,
      steps_completed, steps_failed, duration_seconds, timestamp
  orchestrator_workflow_failed: event_type, workflow_name, execution_id, error_message,
      tenants_affected (a count), timestamp
Timestamps are ISO 8601 UTC with a `Z`. The routing keys are `orchestrator.workflow_completed` and
`orchestrator.workflow_failed`.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

EXCHANGE = "orchestrator"
WORKFLOW_COMPLETED = "orchestrator_workflow_completed"
WORKFLOW_FAILED = "orchestrator_workflow_failed"
ROUTING_KEYS = {
    WORKFLOW_COMPLETED: "orchestrator.workflow_completed",
    WORKFLOW_FAILED: "orchestrator.workflow_failed",
}


def utc_timestamp(at: datetime) -> str:
    """`2025-11-06T08:30:20Z`: ISO 8601 in UTC with a Z, to the second."""
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def completed_event(
    *, workflow_name: str, execution_id: str, counters: Mapping[str, int], duration_seconds: float, at: datetime
) -> dict[str, Any]:
    """A run that finished (some tenants may have failed)."""
    return {
        "event_type": WORKFLOW_COMPLETED,
        "workflow_name": workflow_name,
        "execution_id": execution_id,
        "tenants_processed": counters["tenants_processed"],
        "steps_completed": counters["steps_completed"],
        "steps_failed": counters["steps_failed"],
        "duration_seconds": round(duration_seconds, 3),
        "timestamp": utc_timestamp(at),
    }


def failed_event(
    *, workflow_name: str, execution_id: str, error_message: str, tenants_affected: int, at: datetime
) -> dict[str, Any]:
    """A run that failed: every tenant failed, the run itself broke, it ran past its time limit or it was
    cancelled. `tenants_affected` counts the tenants that failed in it."""
    return {
        "event_type": WORKFLOW_FAILED,
        "workflow_name": workflow_name,
        "execution_id": execution_id,
        "error_message": error_message,
        "tenants_affected": tenants_affected,
        "timestamp": utc_timestamp(at),
    }
