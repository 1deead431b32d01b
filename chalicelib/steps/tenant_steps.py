"""The six per-tenant steps of the daily workflow: parse the input, run the step's work once, record it."""

from __future__ import annotations

from typing import Any

from chalicelib.domain.models import TenantStepInput
from chalicelib.observability import step_keys
from chalicelib.services import daily
from chalicelib.services.tenant_steps import StepWork, run_tenant_step
from chalicelib.steps.common import parse


def _step(name: str, work: StepWork, event: Any) -> dict[str, Any]:
    request = parse(TenantStepInput, event)
    step_keys(execution_name=request.run.execution_name, tenant_id=request.tenant.id, step=name)
    return run_tenant_step(name, request, work)


def generate_forecasts(event: Any) -> dict[str, Any]:
    return _step("generate_forecasts", daily.generate_forecasts, event)


def plan_production(event: Any) -> dict[str, Any]:
    return _step("plan_production", daily.plan_production, event)


def calculate_procurement(event: Any) -> dict[str, Any]:
    return _step("calculate_procurement", daily.calculate_procurement, event)


def project_inventory(event: Any) -> dict[str, Any]:
    return _step("project_inventory", daily.project_inventory, event)


def validate_forecasts(event: Any) -> dict[str, Any]:
    return _step("validate_forecasts", daily.validate_forecasts, event)


def send_daily_summary(event: Any) -> dict[str, Any]:
    return _step("send_daily_summary", daily.send_daily_summary, event)
