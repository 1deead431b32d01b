"""The events a run announces on the `orchestrator` exchange (built here only, published by the bridge)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

WORKFLOW_COMPLETED = "workflow_completed"
WORKFLOW_FAILED = "workflow_failed"


def completed_event(
    *, workflow_name: str, execution_id: str, counters: Mapping[str, int], timestamp: datetime
) -> dict[str, Any]:
    """A run that finished (some tenants may have failed). `duration_seconds` is added when it closes."""
    return {
        "event_type": WORKFLOW_COMPLETED,
        "workflow_name": workflow_name,
        "execution_id": execution_id,
        "tenants_processed": counters["tenants_processed"],
        "steps_completed": counters["steps_completed"],
        "steps_failed": counters["steps_failed"],
        "timestamp": timestamp.isoformat(),
    }


def failed_event(
    *,
    workflow_name: str,
    execution_id: str,
    counters: Mapping[str, int],
    error_message: str,
    tenants_affected: Iterable[str],
    timestamp: datetime,
) -> dict[str, Any]:
    """A run that failed: every tenant failed, the run itself broke, or it ran past its time limit."""
    return {
        **completed_event(
            workflow_name=workflow_name, execution_id=execution_id, counters=counters, timestamp=timestamp
        ),
        "event_type": WORKFLOW_FAILED,
        "error_message": error_message,
        "tenants_affected": sorted(set(tenants_affected)),
    }
