"""The Chalice app: wiring only. Routes come from blueprints; each Lambda step hands its event to one
function in chalicelib (imported lazily so each function's cold start loads only what it needs), with its
log lines carrying the invocation's context (`lambda_handler`)."""

from __future__ import annotations

from typing import Any

from chalice import Chalice

from chalicelib.adapters import secrets
from chalicelib.api import api, docs
from chalicelib.api.console import console_api, console_page
from chalicelib.api.enterprise import ENTERPRISE_PREFIX, enterprise
from chalicelib.domain.constants import APP_NAME
from chalicelib.observability import lambda_handler
from chalicelib.settings import add_source

# Secrets named by the environment (`*_SECRET_ARN`) are read when the settings are first read (cold start).
add_source(secrets.resolve)

app = Chalice(app_name=APP_NAME)
app.register_blueprint(api, url_prefix="/api/v1/orchestrator")
app.register_blueprint(docs)  # GET /openapi.json
app.register_blueprint(enterprise, url_prefix=ENTERPRISE_PREFIX)  # the enterprise network views
app.register_blueprint(console_api, url_prefix="/api/v1/orchestrator")  # graph, history, tenants, cancel
app.register_blueprint(console_page)  # GET /console and its static files


# --- dispatch (EventBridge rule target) ---------------------------------------------------------------
@app.lambda_function(name="dispatch")
@lambda_handler
def dispatch(event: Any, context: Any) -> Any:
    from chalicelib.steps.dispatch import dispatch as run

    return run(event)


# --- run-level steps ----------------------------------------------------------------------------------
@app.lambda_function(name="start_run")
@lambda_handler
def start_run(event: Any, context: Any) -> Any:
    from chalicelib.steps.run_steps import start_run as run

    return run(event)


@app.lambda_function(name="list_tenants")
@lambda_handler
def list_tenants(event: Any, context: Any) -> Any:
    from chalicelib.steps.run_steps import list_tenants as run

    return run(event)


@app.lambda_function(name="record_tenant_failure")
@lambda_handler
def record_tenant_failure(event: Any, context: Any) -> Any:
    from chalicelib.steps.run_steps import record_tenant_failure as run

    return run(event)


@app.lambda_function(name="finish_run")
@lambda_handler
def finish_run(event: Any, context: Any) -> Any:
    from chalicelib.steps.run_steps import finish_run as run

    return run(event)


@app.lambda_function(name="fail_run")
@lambda_handler
def fail_run(event: Any, context: Any) -> Any:
    from chalicelib.steps.run_steps import fail_run as run

    return run(event)


@app.lambda_function(name="publish_events")
@lambda_handler
def publish_events(event: Any, context: Any) -> Any:
    from chalicelib.steps.publish import publish_events as run

    return run(event)


# --- per-tenant steps ---------------------------------------------------------------------------------
@app.lambda_function(name="generate_forecasts")
@lambda_handler
def generate_forecasts(event: Any, context: Any) -> Any:
    from chalicelib.steps.tenant_steps import generate_forecasts as run

    return run(event)


@app.lambda_function(name="plan_production")
@lambda_handler
def plan_production(event: Any, context: Any) -> Any:
    from chalicelib.steps.tenant_steps import plan_production as run

    return run(event)


@app.lambda_function(name="calculate_procurement")
@lambda_handler
def calculate_procurement(event: Any, context: Any) -> Any:
    from chalicelib.steps.tenant_steps import calculate_procurement as run

    return run(event)


@app.lambda_function(name="project_inventory")
@lambda_handler
def project_inventory(event: Any, context: Any) -> Any:
    from chalicelib.steps.tenant_steps import project_inventory as run

    return run(event)


@app.lambda_function(name="validate_forecasts")
@lambda_handler
def validate_forecasts(event: Any, context: Any) -> Any:
    from chalicelib.steps.tenant_steps import validate_forecasts as run

    return run(event)


@app.lambda_function(name="send_daily_summary")
@lambda_handler
def send_daily_summary(event: Any, context: Any) -> Any:
    from chalicelib.steps.tenant_steps import send_daily_summary as run

    return run(event)


# --- deploy hook (CloudFormation custom resources: migrations and seeds, then the schedule rules) ------
@app.lambda_function(name="migrate")
@lambda_handler
def migrate(event: Any, context: Any) -> Any:
    from chalicelib.steps.deploy_hooks import deploy_hook as run

    return run(event)
