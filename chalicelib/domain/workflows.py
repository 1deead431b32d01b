"""Built-in workflow definitions and the one reading of a workflow's schedule (pure: settings come in)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from chalicelib.domain.calendar import CalendarError
from chalicelib.domain.constants import WORKFLOW_TYPES
from chalicelib.domain.models import DAILY_STEPS
from chalicelib.domain.schedule import CATCHUP_POLICIES, ScheduleError, WorkflowSchedule, zone

if TYPE_CHECKING:
    from chalicelib.settings import Settings

WEEKLY_STEPS = ("evaluate_model_retraining", "send_weekly_digest", "cleanup_alerts")


MONTHLY_STEPS = ("rollup_metrics", "archive_executions")


def default_workflows(settings: Settings) -> list[dict[str, Any]]:
    """The built-ins. Only `daily_operations` has a state machine so far: the weekly and monthly rows are
    seeded disabled (an operator who enables them gets a clear "no state machine" skip, never a run)."""
    common = {
        "timezone": settings.default_timezone,
        "max_execution_time_seconds": settings.max_workflow_duration_seconds,
        "catchup_window_seconds": settings.catchup_window_seconds,
        "max_retries": settings.workflow_max_retries,
        "retry_delay_seconds": settings.workflow_retry_delay_seconds,
    }
    return [
        {
            "name": "daily_operations",
            "description": "Forecasts, production plan, procurement, inventory projection, "
            "yesterday's accuracy and a daily summary for every active tenant.",
            "workflow_type": "daily",
            "cron_expression": settings.daily_workflow_cron,
            "steps": list(DAILY_STEPS),
            "enabled": True,
            # Bakeries bake on public holidays too: the daily plan runs every day unless an operator says skip.
            "holiday_policy": "run",
            "catchup_policy": "latest",
            **common,
        },
        {
            "name": "weekly_maintenance",
            "description": "Model-retraining evaluation, weekly digest and alert cleanup.",
            "workflow_type": "weekly",
            "cron_expression": settings.weekly_workflow_cron,
            "steps": list(WEEKLY_STEPS),
            "enabled": False,
            "holiday_policy": "next_business_day",
            "catchup_policy": "latest",
            **common,
        },
        {
            "name": "monthly_rollup",
            "description": "Monthly metrics roll-up and archive.",
            "workflow_type": "monthly",
            "cron_expression": settings.monthly_workflow_cron,
            "steps": list(MONTHLY_STEPS),
            "enabled": False,
            "holiday_policy": "next_business_day",
            "catchup_policy": "all",
            **common,
        },
    ]


def schedule_of(workflow: Any) -> WorkflowSchedule:
    """A workflow row's local-time schedule and calendar policy (ScheduleError names a bad field)."""
    return WorkflowSchedule(workflow.cron_expression, workflow.holiday_policy or "run", workflow.weekend_cron)


def validate_definition(values: dict[str, Any]) -> dict[str, Any]:
    """Check the scheduling fields of a workflow definition (create or update); ValueError names the field.

    Accepts any subset of: cron_expression, timezone, workflow_type, holiday_policy, weekend_cron
    (a 5-field cron, "skip", or null), catchup_policy, catchup_window_seconds, max_execution_time_seconds,
    max_retries, retry_delay_seconds.
    """
    try:
        if "timezone" in values:
            zone(values["timezone"])
        if "workflow_type" in values and values["workflow_type"] not in WORKFLOW_TYPES:
            raise ScheduleError(
                f"workflow_type: expected one of {', '.join(WORKFLOW_TYPES)}, got {values['workflow_type']!r}"
            )
        if "catchup_policy" in values and values["catchup_policy"] not in CATCHUP_POLICIES:
            raise ScheduleError(
                f"catchup_policy: expected one of {', '.join(CATCHUP_POLICIES)}, got {values['catchup_policy']!r}"
            )
        for field, low in (
            ("catchup_window_seconds", 0),
            ("max_execution_time_seconds", 1),
            ("max_retries", 0),
            ("retry_delay_seconds", 1),
        ):
            if field in values and (not isinstance(values[field], int) or values[field] < low):
                raise ScheduleError(f"{field}: expected an integer >= {low}, got {values[field]!r}")
        if {"cron_expression", "holiday_policy", "weekend_cron"} & values.keys():
            WorkflowSchedule(
                values.get("cron_expression", "0 8 * * *"),
                values.get("holiday_policy", "run"),
                values.get("weekend_cron"),
            )
    except CalendarError as exc:
        raise ScheduleError(str(exc)) from None
    return values
