"""Request and response models of the REST API (pydantic v2). The OpenAPI document is generated from them.

Bodies forbid unknown fields; queries ignore unknown parameters (cache-busters, tracing). Optional body fields
that may not be null are declared without `| None` and a `None` default: absent is fine, `null` is a 400.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints

# The same values as the tables' CHECK constraints (chalicelib.domain.constants; a unit test compares them).
ExecutionStatus = Literal["pending", "running", "completed", "completed_with_failures", "failed", "cancelled"]
LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR"]
WorkflowType = Literal["daily", "weekly", "monthly", "on_demand"]
# Calendar and catch-up policies: their meaning belongs to the scheduler (chalicelib.domain).
HolidayPolicy = Literal["run", "skip", "next_business_day"]
CatchupPolicy = Literal["skip", "latest", "all"]
RunOutcomeName = Literal["started", "already_done", "already_running", "locked"]

_TZ_SHAPE = re.compile(r"^[A-Za-z0-9_+\-]+(/[A-Za-z0-9_+\-]+){0,2}$")


def _cron(value: str) -> str:
    from chalicelib.domain.schedule import ScheduleError, validate_cron

    try:
        return validate_cron(value)
    except ScheduleError as exc:
        raise ValueError(str(exc).removeprefix("cron_expression: ")) from None


def _timezone(value: str) -> str:
    from chalicelib.domain.schedule import zone

    if not _TZ_SHAPE.match(value):
        raise ValueError(f"unknown timezone {value!r}")
    try:
        zone(value)
    except Exception:  # noqa: BLE001 - any failure to load the zone means "unknown"
        raise ValueError(f"unknown timezone {value!r}") from None
    return value


def _weekend_cron(value: str) -> str:
    return value if value == "skip" else _cron(value)


Cron = Annotated[str, StringConstraints(min_length=9, max_length=100), AfterValidator(_cron)]
WeekendCron = Annotated[str, StringConstraints(min_length=4, max_length=100), AfterValidator(_weekend_cron)]
Timezone = Annotated[str, StringConstraints(min_length=1, max_length=64), AfterValidator(_timezone)]
WorkflowName = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,39}$")]
StepName = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,63}$")]
TenantId = Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]
Cursor = Annotated[str, StringConstraints(min_length=1, max_length=400)]


def _unique_steps(steps: list[str]) -> list[str]:
    if len(set(steps)) != len(steps):
        raise ValueError("steps must not repeat a step")
    return steps


Steps = Annotated[list[StepName], Field(min_length=1, max_length=50), AfterValidator(_unique_steps)]


def _absent() -> Any:
    """An optional field that may be left out but not sent as null."""
    return Field(default=None)


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Query(BaseModel):
    model_config = ConfigDict(extra="ignore")


# --- errors -------------------------------------------------------------------------------------------------
class ErrorBody(BaseModel):
    error: str = Field(description="machine-readable code, e.g. validation_error, not_found, unauthorized")
    message: str
    field: str | None = Field(description="the offending field or parameter, when there is one")


# --- health and monitoring ----------------------------------------------------------------------------------
class Check(BaseModel):
    status: Literal["up", "down", "disabled"]
    required: bool
    latency_ms: float
    error: str | None = None
    detail: str | None = None


class Health(BaseModel):
    status: Literal["healthy", "unhealthy"]
    stage: str
    checks: dict[str, Check]


class DispatchLock(BaseModel):
    lock_name: str
    holder: str = Field(description="the instance (Lambda sandbox log stream or INSTANCE_ID) holding the lock")
    lock_token: str | None = Field(default=None, description="the lease's own token (one per dispatch)")
    fencing_token: int
    acquired_at: datetime
    heartbeat_at: datetime
    ttl_seconds: int
    held: bool = Field(description="the Redis lock still holds this lease: the instance is the leader now")
    expires_at: datetime | None


class RunLockView(BaseModel):
    key: str
    workflow_name: str
    scope: str
    holder: str
    ttl_ms: int | None
    fencing_token: int | None


class LeaderView(BaseModel):
    instance_id: str = Field(description="this deployment's instance id")
    enabled: bool = Field(description="leader election (the dispatch lock) is on")
    leader: DispatchLock | None = Field(description="the dispatch lock held right now, if any")
    locks: list[DispatchLock] = Field(description="every dispatch lock recorded, held or not")
    run_locks: list[RunLockView] = Field(description="run locks held in Redis right now")


class StatsBlock(BaseModel):
    executions: int
    completed: int
    completed_with_failures: int
    failed: int
    running: int
    success_rate: float | None = Field(description="percent of finished executions not failed")
    duration_p50: float | None
    duration_p95: float | None
    duration_max: float | None
    retries: int
    cost_eur: float = Field(description="estimated AWS cost of these executions (EUR)")
    cost_eur_per_tenant: float | None = Field(description="estimated AWS cost per tenant and run (EUR)")


class DayStats(StatsBlock):
    date: date


class WorkflowStats(StatsBlock):
    workflow_name: str
    days: list[DayStats]


class StatisticsView(BaseModel):
    since: date
    until: date
    workflows: list[WorkflowStats]


class AuditQuery(Query):
    limit: int = Field(default=50, ge=1, le=500)
    after: int | None = Field(default=None, ge=1, le=2**62, description="continue below this entry id")
    target: str | None = Field(
        default=None, min_length=1, max_length=200, description="a workflow name or an execution id"
    )
    action: Literal["create", "update", "enable", "disable", "schedule", "execute", "retry", "cancel"] | None = None


class AuditEntryView(BaseModel):
    id: int
    at: datetime
    actor: str = Field(description="the caller's subject")
    action: str
    target_type: str = Field(description="workflow or execution")
    target: str
    before: dict[str, Any] | None = Field(description="the changed fields' values before (updates)")
    after: dict[str, Any] | None = Field(description="the new values, or what the action started")


class AuditPage(BaseModel):
    entries: list[AuditEntryView]
    count: int
    next_cursor: int | None


class StatisticsQuery(Query):
    workflow: WorkflowName | None = None
    days: int = Field(default=30, ge=1, le=366)


# --- executions ---------------------------------------------------------------------------------------------
class ExecutionView(BaseModel):
    id: str
    workflow_name: str
    execution_name: str
    scope: str
    trigger: str = Field(description="the run's execution_type: scheduled, manual, retry or catch_up")
    triggered_by: str | None = Field(default=None, description="the caller's subject for manual runs and retries")
    tenant_id: str | None = Field(default=None, description="set when the run covers exactly one tenant")
    executed_by_instance: str | None = Field(default=None, description="what dispatched the run")
    slow: bool | None = Field(
        default=None, description="ran slower than SLOW_RUN_FACTOR x the p95 of its workflow and scope's last 30 runs"
    )
    run_date: date | None
    status: str = Field(description="the execution's status; for a tenant caller, that tenant's status")
    started_at: datetime
    completed_at: datetime | None
    duration_seconds: float | None
    error_message: str | None
    retry_of: str | None
    tenants_total: int
    tenants_processed: int
    tenants_failed: int
    tenants_skipped: int
    steps_total: int
    steps_completed: int
    steps_failed: int
    execution_arn: str | None = Field(default=None, description="the Step Functions execution")
    cost_eur: float | None = Field(default=None, description="estimated AWS cost of the run (EUR), once closed")


class ExecutionPage(BaseModel):
    executions: list[ExecutionView]
    count: int
    next_cursor: str | None


class StepProgress(BaseModel):
    step_name: str
    completed: int
    failed: int


class TenantProgress(BaseModel):
    tenant_id: str
    status: Literal["running", "completed", "failed"]
    steps_completed: int
    steps_failed: int
    failed_step: str | None
    steps: dict[str, str]


class FailedTenant(BaseModel):
    tenant_id: str
    step_name: str
    error_type: str | None
    error_message: str | None


class ExecutionDetail(BaseModel):
    execution: ExecutionView
    steps: list[StepProgress] = Field(description="per step: how many tenants completed or failed it")
    tenants: list[TenantProgress] = Field(description="per tenant progress, paged by tenant_after")
    tenants_next_cursor: str | None
    failed_tenants: list[FailedTenant]
    retries: list[str] = Field(description="names of the executions that retried this one")


class ExecutionsQuery(Query):
    workflow: WorkflowName | None = None
    status: ExecutionStatus | None = None
    tenant_id: TenantId | None = None
    date_from: date | None = Field(default=None, description="run dates on or after")
    date_to: date | None = Field(default=None, description="run dates on or before")
    limit: int = Field(default=50, ge=1, le=500)
    cursor: Cursor | None = None


class FailedQuery(Query):
    workflow: WorkflowName | None = None
    tenant_id: TenantId | None = None
    date_from: date | None = None
    date_to: date | None = None
    limit: int = Field(default=50, ge=1, le=500)
    cursor: Cursor | None = None


class DetailQuery(Query):
    tenant_limit: int = Field(default=100, ge=1, le=1000)
    tenant_after: TenantId | None = None


class LogEntry(BaseModel):
    id: int
    tenant_id: str | None
    step_name: str
    step_index: int
    level: str
    message: str
    data: dict[str, Any] | None
    duration_ms: float | None
    created_at: datetime


class LogPage(BaseModel):
    logs: list[LogEntry]
    count: int
    total: int
    next_cursor: int | None


class LogsQuery(Query):
    tenant_id: TenantId | None = None
    step_name: StepName | None = None
    level: LogLevel | None = None
    limit: int = Field(default=200, ge=1, le=1000)
    after: int = Field(default=0, ge=0, le=2**62)


class RetryRequest(Body):
    """Optional: narrow the retry to some of the failed tenants."""

    tenant_ids: list[TenantId] | None = Field(default=None, min_length=1, max_length=1000)


class RetryResult(BaseModel):
    retry_of: str
    execution_name: str
    outcome: RunOutcomeName
    execution_arn: str | None
    tenant_ids: list[str] | None = Field(description="the tenants re-run (null: all of the run's tenants)")


# --- workflows ----------------------------------------------------------------------------------------------
class WorkflowView(BaseModel):
    id: str
    name: str
    description: str | None
    workflow_type: str
    cron_expression: str
    timezone: str
    enabled: bool
    steps: list[str]
    max_execution_time_seconds: int
    max_retries: int
    retry_delay_seconds: int
    holiday_policy: str
    weekend_cron: str | None
    catchup_policy: str
    catchup_window_seconds: int
    deployed: bool = Field(description="a state machine runs this workflow (it can be executed)")
    last_execution_id: str | None
    last_execution_at: datetime | None
    last_status: str | None
    last_duration_seconds: float | None
    consecutive_failures: int
    total_executions: int
    successful_executions: int
    failed_executions: int
    last_success_at: datetime | None = None
    last_failure_at: datetime | None = None
    next_execution_at: datetime | None = Field(default=None, description="the earliest next run over its scopes")
    created_at: datetime
    updated_at: datetime
    retry_policy: dict[str, Any] | None = Field(
        default=None, description="after a change of max_retries/retry_delay_seconds: whether its state machine took it"
    )


class WorkflowList(BaseModel):
    workflows: list[WorkflowView]
    count: int


class WorkflowSettings(Body):
    description: str | None = Field(default=None, max_length=2000)
    workflow_type: WorkflowType = _absent()
    cron_expression: Cron = _absent()
    timezone: Timezone = _absent()
    enabled: bool = _absent()
    steps: Steps = _absent()
    max_execution_time_seconds: int = Field(default=None, ge=1, le=86_400)  # type: ignore[assignment]
    max_retries: int = Field(default=None, ge=0, le=10)  # type: ignore[assignment]
    retry_delay_seconds: int = Field(default=None, ge=1, le=3600)  # type: ignore[assignment]
    holiday_policy: HolidayPolicy = _absent()
    weekend_cron: WeekendCron | None = Field(
        default=None,
        description='a cron for Saturdays and Sundays, "skip" (no weekend runs) or null (the weekday cron)',
    )
    catchup_policy: CatchupPolicy = _absent()
    catchup_window_seconds: int = Field(default=None, ge=0, le=7 * 86_400)  # type: ignore[assignment]


class WorkflowUpdate(WorkflowSettings):
    """PUT: change any of these; fields left out keep their value. `weekend_cron: null` clears it."""


class WorkflowCreate(WorkflowSettings):
    name: WorkflowName
    cron_expression: Cron
    timezone: Timezone = "Europe/Madrid"
    steps: Steps


class ExecuteRequest(Body):
    tenant_ids: list[TenantId] | None = Field(default=None, min_length=1, max_length=1000)
    run_date: date | None = Field(default=None, description="local date of the run (default: today in the scope)")
    scope: Timezone = Field(
        default=None,
        description="timezone scope (default: the tenants' timezones, "  # type: ignore[assignment]
        "else the workflow's)",
    )


class RunOutcome(BaseModel):
    scope: str
    execution_name: str
    outcome: RunOutcomeName
    execution_arn: str | None = None
    held_by: str | None = None


class ExecuteResult(BaseModel):
    workflow_name: str
    runs: list[RunOutcome]


# --- schedule -----------------------------------------------------------------------------------------------
class SkippedInstant(BaseModel):
    instant: datetime
    local_date: date
    reason: str
    holiday: str | None


class NextRun(BaseModel):
    workflow_name: str
    scope: str
    next_run_at: datetime | None = Field(description="the instant in UTC (null: disabled or none soon)")
    local_time: str | None
    run_date: date | None
    reason: str = Field(description="scheduled | holiday_run | shifted | disabled | none_within_horizon")
    shifted_from: date | None
    holiday: str | None
    skipped: list[SkippedInstant] = Field(description="instants passed over by the calendar policy")
    calendars: list[dict[str, Any]] = Field(description="per holiday calendar of the scope's tenants")


class NextRunView(BaseModel):
    next_runs: list[NextRun]


class NextRunQuery(Query):
    workflow: WorkflowName | None = None
    scope: Timezone | None = None
    after: AwareDatetime | None = None


class ScheduleEntry(BaseModel):
    workflow_name: str
    cron_expression: str
    timezone: str
    enabled: bool
    holiday_policy: str
    weekend_cron: str | None
    catchup_policy: str
    deployed: bool
    scopes: list[str]
    next_runs: list[NextRun]


class ScheduleView(BaseModel):
    workflows: list[ScheduleEntry]
    rules: dict[str, Any] | None = Field(default=None, description="EventBridge reconciliation, after a PUT")


class ScheduleChange(Body):
    workflow_name: WorkflowName
    cron_expression: Cron = _absent()
    timezone: Timezone = _absent()
    enabled: bool = _absent()
    holiday_policy: HolidayPolicy = _absent()
    weekend_cron: WeekendCron | None = None
    catchup_policy: CatchupPolicy = _absent()


class ScheduleUpdate(Body):
    workflows: list[ScheduleChange] = Field(min_length=1, max_length=100)
