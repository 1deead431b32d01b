"""Which alerts a closed run calls for (pure: no I/O). Sending them is `services.alerts`.

- `workflow_failed` (critical): the run ended failed (all tenants failed, the run broke, it ran past its
  time limit);
- `workflow_consecutive_failures` (critical): the workflow's consecutive failures just reached the
  threshold (one escalation, not one per failure);
- `tenant_failures` (warning): the run completed with more than the allowed percentage of its tenants
  failed;
- `run_slow` (warning): the run took more than SLOW_RUN_FACTOR times the p95 of the workflow and scope's
  recent runs;
- `run_cost_over_budget` (warning): its estimated AWS cost passed RUN_COST_BUDGET_EUR.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

# A run is judged slow only against at least this many earlier runs of its workflow and scope.
MIN_RUNS_FOR_P95 = 5


@dataclass(frozen=True)
class Alert:
    type: str
    severity: str
    title: str
    message: str
    data: dict[str, Any]


@dataclass(frozen=True)
class AlertPolicy:
    consecutive_failures_threshold: int = 3
    tenant_failure_percent: float = 10.0
    slow_run_factor: float = 1.5
    cost_budget_eur: float = 5.0


def p95(durations: Sequence[float]) -> float | None:
    """Nearest-rank 95th percentile; None for no durations."""
    if not durations:
        return None
    return sorted(durations)[max(1, math.ceil(0.95 * len(durations))) - 1]


def slow_run(duration: float | None, recent: Sequence[float], factor: float) -> dict[str, Any] | None:
    """The run's performance against the recent runs of its workflow and scope, when there are enough of
    them to judge: {"p95_seconds", "factor", "slow"}."""
    if duration is None or len(recent) < MIN_RUNS_FOR_P95:
        return None
    reference = p95(recent) or 0.0  # recent is not empty here
    return {"p95_seconds": round(reference, 3), "factor": factor, "slow": duration > factor * reference}


def alerts_for(
    execution: Any, *, consecutive_failures: int, tenants_affected: list[str], policy: AlertPolicy
) -> list[Alert]:
    """The alerts a closed execution calls for. `execution` has the row's fields (status, tenants,
    duration, result_summary with its cost and performance)."""
    data = {
        "workflow_name": execution.workflow_name,
        "execution_id": str(execution.id),
        "execution_name": execution.execution_name,
        "status": execution.status,
        "error_message": execution.error_message,
        "tenants_affected": tenants_affected[:100],
        "consecutive_failures": consecutive_failures,
    }
    run = f"Run {execution.execution_name} of workflow {execution.workflow_name}"
    alerts: list[Alert] = []
    if execution.status == "failed":
        affected = f" Tenants affected: {len(tenants_affected)}." if tenants_affected else ""
        alerts.append(
            Alert(
                type="workflow_failed",
                severity="critical",
                title=f"Workflow {execution.workflow_name} failed",
                message=f"{run} failed: {execution.error_message or 'no reason recorded'}.{affected}",
                data=data,
            )
        )
        if consecutive_failures == policy.consecutive_failures_threshold:
            alerts.append(
                Alert(
                    type="workflow_consecutive_failures",
                    severity="critical",
                    title=f"Workflow {execution.workflow_name} failed {consecutive_failures} times in a row",
                    message=f"Workflow {execution.workflow_name} has failed {consecutive_failures} consecutive runs "
                    f"(alert threshold {policy.consecutive_failures_threshold}); last run "
                    f"{execution.execution_name}: {execution.error_message or 'no reason recorded'}",
                    data={**data, "threshold": policy.consecutive_failures_threshold},
                )
            )
    total = execution.tenants_total or 0
    failed_share = 100.0 * (execution.tenants_failed or 0) / total if total else 0.0
    if execution.status == "completed_with_failures" and failed_share > policy.tenant_failure_percent:
        alerts.append(
            Alert(
                type="tenant_failures",
                severity="warning",
                title=f"Workflow {execution.workflow_name}: {failed_share:.1f}% of tenants failed",
                message=f"{run} completed with {execution.tenants_failed} of {total} tenants failed "
                f"({failed_share:.1f}%, alert above {policy.tenant_failure_percent:g}%).",
                data={**data, "failed_percent": round(failed_share, 2), "limit_percent": policy.tenant_failure_percent},
            )
        )
    summary = execution.result_summary or {}
    performance = summary.get("performance") or {}
    if performance.get("slow"):
        alerts.append(
            Alert(
                type="run_slow",
                severity="warning",
                title=f"Workflow {execution.workflow_name} ran slower than usual",
                message=f"{run} took {execution.duration_seconds:.0f} s, more than {performance['factor']:g} x the "
                f"p95 of its recent runs ({performance['p95_seconds']:.0f} s).",
                data={**data, **performance, "duration_seconds": execution.duration_seconds},
            )
        )
    cost = (summary.get("cost") or {}).get("eur_total")
    if cost is not None and cost > policy.cost_budget_eur:
        alerts.append(
            Alert(
                type="run_cost_over_budget",
                severity="warning",
                title=f"Workflow {execution.workflow_name}: run cost over budget",
                message=f"{run} is estimated at {cost:.4f} EUR on AWS, over the budget of "
                f"{policy.cost_budget_eur:g} EUR per run.",
                data={**data, "cost_eur": cost, "budget_eur": policy.cost_budget_eur},
            )
        )
    return alerts
