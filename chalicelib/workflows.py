"""The built-in workflow definitions, seeded into `orchestrator_workflows` from settings."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from chalicelib import store
from chalicelib.db.models import Workflow
from chalicelib.domain.models import DAILY_STEPS
from chalicelib.settings import Settings, get_settings


def default_workflows(settings: Settings | None = None) -> list[dict[str, Any]]:
    settings = settings or get_settings()
    return [
        {
            "name": "daily_operations",
            "description": "Forecasts, production plan, procurement, inventory projection, "
            "yesterday's accuracy and a daily summary for every active tenant.",
            "workflow_type": "daily",
            "cron_expression": settings.daily_workflow_cron,
            "timezone": settings.default_timezone,
            "steps": list(DAILY_STEPS),
            "max_execution_time_seconds": settings.max_workflow_duration_seconds,
            "enabled": True,
        },
    ]


def ensure_default_workflows(session: Session, settings: Settings | None = None) -> list[str]:
    """Insert the built-in workflows that are missing; never overwrite an operator's changes."""
    created = []
    for spec in default_workflows(settings):
        if store.get_workflow(session, spec["name"]) is None:
            session.add(Workflow(**spec))
            created.append(spec["name"])
    session.flush()
    return created
