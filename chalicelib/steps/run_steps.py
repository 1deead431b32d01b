"""Run-level steps: open the run, list its tenants, record a tenant's failure, close the run."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from chalicelib.domain.models import FailRunInput, RunRef, RunRequest, TenantFailureInput
from chalicelib.errors import recordable_message
from chalicelib.observability import step_keys
from chalicelib.services import runs
from chalicelib.steps.common import parse, parse_cause


class StartRunInput(BaseModel):
    model_config = ConfigDict(extra="ignore")

    request: RunRequest
    execution_name: str = Field(min_length=1, max_length=80)
    execution_arn: str | None = None


class RunOnlyInput(BaseModel):
    model_config = ConfigDict(extra="ignore")

    run: RunRef


class ListTenantsInput(RunOnlyInput):
    request: RunRequest


def start_run(event: Any) -> dict[str, Any]:
    data = parse(StartRunInput, event)
    step_keys(execution_name=data.execution_name, step="start_run")
    return runs.open_run(data.request, name=data.execution_name, arn=data.execution_arn).model_dump(mode="json")


def list_tenants(event: Any) -> dict[str, Any]:
    data = parse(ListTenantsInput, event)
    step_keys(execution_name=data.run.execution_name, step="list_tenants")
    return runs.list_run_tenants(data.run, data.request)


def record_tenant_failure(event: Any) -> dict[str, Any]:
    """Catch target: the tenant's pipeline failed after its retries."""
    data = parse(TenantFailureInput, event)
    step_keys(execution_name=data.run.execution_name, tenant_id=data.tenant.id, step="record_tenant_failure")
    error_type, message = parse_cause(data.error.Cause)
    return runs.record_tenant_failure(
        data.run,
        data.tenant.id,
        data.tenant.name,
        error=data.error.Error,
        error_type=error_type,
        message=recordable_message(error_type or data.error.Error, message),
    )


def finish_run(event: Any) -> dict[str, Any]:
    run = parse(RunOnlyInput, event).run
    step_keys(execution_name=run.execution_name, step="finish_run")
    return runs.finish_run(run)


def fail_run(event: Any) -> dict[str, Any]:
    """Catch-all: the run itself broke (not one tenant)."""
    data = parse(FailRunInput, event)
    step_keys(execution_name=data.execution_name, step="fail_run")
    error_type, message = parse_cause(data.error.Cause)
    request = RunRequest.model_validate(data.request) if data.request else None
    return runs.fail_run_named(
        data.execution_name,
        error=data.error.Error,
        error_message=f"{error_type or data.error.Error}: {message}",
        request=request,
    )
