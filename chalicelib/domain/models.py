"""Payloads passed between the state machine's steps (pydantic v2; evolve by adding optional fields)."""

from __future__ import annotations

from datetime import date
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

Tier = Literal["starter", "professional", "enterprise"]
TenantStatus = Literal["active", "suspended", "cancelled"]
Trigger = Literal["scheduled", "manual", "catch_up", "retry"]  # the execution_type of the run

# Pipeline order per tenant; RecordTenantFailure blames the first step without a completed row.
DAILY_STEPS: tuple[str, ...] = (
    "generate_forecasts",
    "plan_production",
    "calculate_procurement",
    "project_inventory",
    "validate_forecasts",
    "send_daily_summary",
)
# Bounds of what an execution input may carry (its size stays small whatever the number of tenants).
MAX_NAMED_TENANTS = 1000
MAX_CALENDARS = 200
# A tenant counts as processed once its last step completed.
FINAL_STEP = DAILY_STEPS[-1]


def step_index(step_name: str) -> int:
    """The step's position in the daily pipeline (1-based); 0 for run-level steps (start, finish, alerts)."""
    return DAILY_STEPS.index(step_name) + 1 if step_name in DAILY_STEPS else 0


class Payload(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Tenant(BaseModel):
    """A bakery as the tenant service describes it (extra fields from the service are ignored)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    id: str = Field(min_length=1, max_length=64)
    name: str
    status: TenantStatus = "active"
    subscription_tier: Tier = "starter"
    timezone: str = "Europe/Madrid"
    parent_tenant_id: str | None = None
    country: str | None = "ES"
    subdivision: str | None = None


class RunRequest(Payload):
    """The state machine's input, written by the dispatcher (or an operator's manual trigger)."""

    workflow_name: str = Field(min_length=1, max_length=100)
    scope: str = Field(min_length=1, max_length=64)
    run_date: date
    trigger: Trigger = "scheduled"
    # Step Functions refuses an execution input over 256 KiB, so the input never lists a scope's tenants:
    # `calendars` names the holiday calendars whose tenants run (None: all of them) and ListTenants applies
    # it; only a manual run or a retry that names its tenants carries `tenant_ids` (bounded).
    calendars: list[str] | None = Field(default=None, max_length=MAX_CALENDARS)
    tenant_ids: list[str] | None = Field(default=None, max_length=MAX_NAMED_TENANTS)
    fencing_token: int | None = None
    lock_key: str | None = None
    # Who asked for it (a manual run or retry: the caller's subject) and what dispatched it.
    triggered_by: str | None = Field(default=None, max_length=200)
    dispatched_by: str | None = Field(default=None, max_length=255)
    # Retry from failure: the execution (id) whose completed steps this run reuses instead of re-running;
    # without `tenant_ids` the run covers the tenants that failed there (all, when none was recorded).
    retry_of: str | None = None


class RunRef(Payload):
    """What every step after StartRun receives to find its run."""

    execution_id: str
    execution_name: str
    workflow_name: str
    scope: str
    run_date: date
    fencing_token: int | None = None
    lock_key: str | None = None
    retry_of: str | None = None  # see RunRequest.retry_of


class TenantRef(Payload):
    model_config = ConfigDict(extra="ignore", frozen=True)

    id: str = Field(min_length=1, max_length=64)
    name: str = ""
    subscription_tier: Tier = "starter"
    timezone: str = "Europe/Madrid"


class TenantStepInput(Payload):
    model_config = ConfigDict(extra="ignore", frozen=True)

    run: RunRef
    tenant: TenantRef
    # Earlier steps' summaries by step name. After the Parallel state this arrives as one dict per
    # branch; they are merged here so a step reads `results["plan_production"]` either way.
    results: dict[str, Any] = Field(default_factory=dict)

    @field_validator("results", mode="before")
    @classmethod
    def _merge_branches(cls, value: Any) -> Any:
        if isinstance(value, list):
            merged: dict[str, Any] = {}
            for branch in value:
                if not isinstance(branch, dict):
                    raise ValueError("each parallel branch result must be an object")
                merged.update(branch)
            return merged
        return value


class TaskError(Payload):
    """What a Catch puts at ResultPath: the error name and its cause (the Lambda error envelope as JSON)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    Error: str = "States.TaskFailed"
    Cause: str | None = None


class TenantFailureInput(Payload):
    model_config = ConfigDict(extra="ignore", frozen=True)

    run: RunRef
    tenant: TenantRef
    error: TaskError


class FailRunInput(Payload):
    model_config = ConfigDict(extra="ignore", frozen=True)

    execution_name: str
    error: TaskError
    request: dict[str, Any] = Field(default_factory=dict)
