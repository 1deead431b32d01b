"""Names and enumerations shared by the tables, the API schemas and the steps (no heavy imports: cold start)."""

from __future__ import annotations

APP_NAME = "bakery-orchestrator"  # the Chalice app, the rule and resource name prefix, the log service

WORKFLOW_TYPES = ("daily", "weekly", "monthly", "on_demand")
EXECUTION_STATUSES = ("pending", "running", "completed", "completed_with_failures", "failed", "cancelled")
TERMINAL_STATUSES = ("completed", "completed_with_failures", "failed", "cancelled")
# Runs that ran (some tenants may have failed): what success rates count as successful.
SUCCEEDED_STATUSES = ("completed", "completed_with_failures")
EXECUTION_TYPES = ("scheduled", "manual", "retry", "catch_up")
STEP_STATUSES = ("completed", "failed", "skipped")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
