"""The work of the daily workflow's six per-tenant steps: each calls one platform service and returns
(summary kept with the step row, log message)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from chalicelib.adapters.platform import get_platform_client
from chalicelib.db.engine import session_scope
from chalicelib.db.logs import log_row
from chalicelib.db.steps import completed_results, record_step, step_error
from chalicelib.domain.models import TenantStepInput
from chalicelib.settings import get_settings


def generate_forecasts(req: TenantStepInput) -> tuple[dict[str, Any], str]:
    days = get_settings().forecast_days_ahead
    body = get_platform_client().generate_forecasts(req.tenant.id, req.run.run_date, days)
    summary = {"forecast_id": body["forecast_id"], "products": body["products"], "total_units": body["total_units"]}
    return summary, f"{days}-day forecast for {body['products']} products ({body['total_units']:.0f} units)"


def plan_production(req: TenantStepInput) -> tuple[dict[str, Any], str]:
    forecast_id = (req.results.get("generate_forecasts") or {}).get("forecast_id")
    days = get_settings().forecast_days_ahead
    body = get_platform_client().generate_production_schedule(req.tenant.id, req.run.run_date, days, forecast_id)
    summary = {"schedule_id": body["schedule_id"], "batches": body["batches"], "total_units": body["total_units"]}
    return summary, f"production plan: {body['batches']} batches, {body['total_units']:.0f} units"


def calculate_procurement(req: TenantStepInput) -> tuple[dict[str, Any], str]:
    days = get_settings().procurement_days_ahead
    body = get_platform_client().calculate_procurement_needs(req.tenant.id, req.run.run_date, days)
    summary = {"plan_id": body["plan_id"], "total_items": body["total_items"], "estimated_cost": body["estimated_cost"]}
    return summary, f"procurement for {days} days: {body['total_items']} items, {body['estimated_cost']:.2f} EUR"


def project_inventory(req: TenantStepInput) -> tuple[dict[str, Any], str]:
    days = get_settings().inventory_days_ahead
    body = get_platform_client().project_inventory(req.tenant.id, req.run.run_date, days)
    risks = len(body.get("stockout_risks", []))
    summary = {"projection_id": body["projection_id"], "items": body["items"], "stockout_risks": risks}
    return summary, f"{days}-day inventory projection: {body['items']} items, {risks} stock-out risks"


def validate_forecasts(req: TenantStepInput) -> tuple[dict[str, Any], str]:
    yesterday = req.run.run_date - timedelta(days=1)
    body = get_platform_client().validate_forecasts(req.tenant.id, yesterday)
    summary = {k: body[k] for k in ("mape", "mae", "rmse", "r2", "accuracy")}
    summary["date"] = yesterday.isoformat()
    return summary, f"forecast accuracy for {yesterday}: {body['accuracy']:.1f}% (MAPE {body['mape']:.1f}%)"


def send_daily_summary(req: TenantStepInput) -> tuple[dict[str, Any], str]:
    # The state carries no step results (it stays small at any scale): read them back from the rows.
    with session_scope() as session:
        results = {**req.results, **completed_results(session, req.run.execution_id, req.tenant.id)}
    forecast = results.get("generate_forecasts") or {}
    production = results.get("plan_production") or {}
    procurement = results.get("calculate_procurement") or {}
    inventory = results.get("project_inventory") or {}
    validation = results.get("validate_forecasts")
    if validation is None:
        accuracy = f"unavailable ({_validation_unavailable(req)})"
    else:
        accuracy = f"{validation.get('accuracy', 0):.1f}%"
    lines = [
        f"Forecast: {forecast.get('products', 0)} products, {forecast.get('total_units', 0):.0f} units over "
        f"{get_settings().forecast_days_ahead} days",
        f"Production: {production.get('batches', 0)} batches",
        f"Procurement: {procurement.get('total_items', 0)} items, {procurement.get('estimated_cost', 0):.2f} EUR",
        f"Inventory: {inventory.get('stockout_risks', 0)} stock-out risks in 14 days",
        f"Yesterday's forecast accuracy: {accuracy}",
    ]
    body = get_platform_client().send_notification(
        tenant_id=req.tenant.id,
        type_="daily_summary",
        severity="info",
        title=f"Daily plan for {req.run.run_date.isoformat()}",
        message="\n".join(lines),
        data={"run_date": req.run.run_date.isoformat(), "execution_name": req.run.execution_name},
    )
    summary = {"notification_id": body["notification_id"], "validation": "ok" if validation else "unavailable"}
    return summary, "daily summary sent" + ("" if validation else " (yesterday's accuracy unavailable)")


def _validation_unavailable(req: TenantStepInput) -> str:
    """The accuracy check failed after its retries (the state machine caught it): record it as a warning
    for the tenant, not a failure, so today's plans still count as delivered. Returns the reason."""
    step = "validate_forecasts"
    with session_scope() as session:
        reason = step_error(session, req.run.execution_id, req.tenant.id, step) or "the check did not run"
        record_step(
            session,
            req.run.execution_id,
            req.tenant.id,
            step,
            status="skipped",
            error_type="ValidationUnavailable",
            error_message=reason,
            logs=[
                log_row(
                    step,
                    f"yesterday's forecast accuracy unavailable for {req.tenant.name or req.tenant.id}: {reason}",
                    tenant_id=req.tenant.id,
                    level="WARNING",
                )
            ],
        )
    return reason
