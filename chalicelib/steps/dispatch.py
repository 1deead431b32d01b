"""The dispatch Lambda: an EventBridge firing -> the runs that are due, each started exactly once.

EventBridge rules fire in UTC and deliver at least once. For every timezone scope (the active tenants
grouped by timezone) this decides by the scope's local clock and holiday calendar whether the workflow is
due, applies the catch-up policy to instants missed since the scope's watermark, then starts each run
under its deterministic name (`<workflow>-<scope>-<local date>`) while holding the scope's Redis run lock.
Duplicate or concurrent dispatches of one instant are harmless: the dispatch lock lets one dispatcher
evaluate a workflow at a time, the run lock refuses a second holder, Step Functions refuses the same name
(`ExecutionAlreadyExists` = already done), and a run already recorded as finished is done.
"""

from __future__ import annotations

import json
import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from chalicelib import scheduling, store
from chalicelib.adapters.platform import get_platform_client
from chalicelib.adapters.redis_store import DispatchLease, DispatchLocks, RunLocks
from chalicelib.adapters.stepfunctions import Executions, get_sfn_client
from chalicelib.db.engine import session_scope
from chalicelib.domain.calendar import Calendar
from chalicelib.domain.models import RunRequest, Tenant, Trigger
from chalicelib.domain.runs import execution_name
from chalicelib.domain.schedule import Occurrence, Skipped, WorkflowSchedule, candidate_instants, evaluate_at
from chalicelib.errors import InvalidInputError
from chalicelib.observability import get_logger
from chalicelib.settings import get_settings
from chalicelib.steps.common import parse
from chalicelib.workflows import schedule_of

_MINUTE = timedelta(minutes=1)
OUTCOMES = ("started", "already_done", "already_running", "locked")


class DispatchInput(BaseModel):
    model_config = ConfigDict(extra="ignore")

    workflow_name: str | None = Field(default=None, min_length=1, max_length=100)
    time: AwareDatetime
    event_id: str | None = None
    trigger: Trigger = "scheduled"
    scopes: list[str] | None = None  # the zones the firing rule covers (informational)
    sweep: bool = False  # the catch-up sweep rule: every enabled workflow, missed instants only

    @model_validator(mode="after")
    def _workflow_unless_sweep(self) -> DispatchInput:
        if not self.sweep and not self.workflow_name:
            raise ValueError("workflow_name is required (or sweep: true)")
        return self


def state_machine_arn(workflow_name: str, steps: list[str] | None = None) -> str:
    """The workflow's state machine (see `scheduling.state_machine_for`); InvalidInputError when none."""
    arn = scheduling.state_machine_for(workflow_name, steps)
    if not arn:
        key = f"{workflow_name.upper()}_STATE_MACHINE_ARN"
        raise InvalidInputError(f"workflow_name: no state machine deployed for {workflow_name!r} ({key} unset)")
    return arn


def _execution_arn(machine_arn: str, name: str) -> str:
    return machine_arn.replace(":stateMachine:", ":execution:", 1) + f":{name}"


def start_run(
    workflow_name: str,
    scope: str,
    run_date: date,
    *,
    trigger: Trigger = "scheduled",
    tenant_ids: list[str] | None = None,
    name_suffix: str | None = None,
    locks: RunLocks | None = None,
    executions: Executions | None = None,
    state_machine: str | None = None,
    retry_of: str | None = None,
) -> dict[str, Any]:
    """Start one run of `workflow_name` for `scope` (a timezone) and local `run_date` under the scope's
    run lock. Used by the dispatcher and by the API's manual execute (`trigger="manual"`,
    `name_suffix=...` so a manual run never collides with the scheduled name).

    Returns {"scope", "execution_name", "outcome", ...}; outcome is one of
      started          this call created the execution (also "execution_arn", "fencing_token");
      already_done     an execution of that name finished before ("status");
      already_running  that execution exists and runs (a duplicate or redelivered dispatch);
      locked           another run of the workflow and scope holds the lock ("held_by", "message"):
                       the API maps this to HTTP 409.
    Raises LockUnavailableError when Redis cannot be reached (no run starts), InvalidInputError when the
    workflow has no state machine or the name is invalid.
    """
    name = execution_name(workflow_name, scope, run_date, name_suffix)
    machine = state_machine or state_machine_arn(workflow_name)
    with session_scope() as session:
        existing = store.get_execution_by_name(session, name)
        if existing is not None and existing.status in store.TERMINAL_STATUSES:
            return {"scope": scope, "execution_name": name, "outcome": "already_done", "status": existing.status}
    locks = locks or RunLocks()
    lock_key = locks.key(workflow_name, scope)
    lock = locks.acquire(lock_key, name, get_settings().run_lock_ttl_seconds)
    if lock is None:
        holder = locks.holder(lock_key)
        return {"scope": scope, "execution_name": name, "outcome": "locked", "held_by": holder,
                "message": f"{workflow_name} for {scope} is already running as {holder} (its run lock is held); "
                           f"{'this manual run was refused' if trigger == 'manual' else 'not started'} - "
                           "try again after that run finishes"}
    if lock.fresh:
        # Fence off any older run of this workflow and scope before the new one can write.
        with session_scope() as session:
            store.register_fence(session, workflow_name, scope, lock.fencing_token, name)
    extra: dict[str, Any] = {"retry_of": retry_of} if retry_of else {}
    request = RunRequest(
        workflow_name=workflow_name, scope=scope, run_date=run_date, trigger=trigger,
        tenant_ids=tenant_ids, fencing_token=lock.fencing_token, lock_key=lock_key, **extra,
    )
    # A redelivery (the lock already held under this name, same fencing number, same input) still calls
    # StartExecution, so a dispatcher that died after taking the lock cannot leave the run unstarted;
    # Step Functions treats the same name and input as the same execution. Only the fresh lock holder
    # reports "started", and only when the execution carries its fencing number: exactly one "started".
    result = (executions or Executions()).start(machine, name, request.model_dump(mode="json"))
    if result.already_existed:
        status, fence = _describe(machine, name)
    else:
        status, fence = "RUNNING", lock.fencing_token
    if lock.fresh and fence == lock.fencing_token:
        get_logger().info("run started", extra={"execution_name": name, "fencing_token": lock.fencing_token})
        return {"scope": scope, "execution_name": name, "outcome": "started",
                "execution_arn": result.execution_arn or _execution_arn(machine, name),
                "fencing_token": lock.fencing_token}
    if lock.fresh and status != "RUNNING":
        # We took a free lock for a run that already happened under an earlier lock: give it back.
        locks.release(lock_key, name)
    if status in ("SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"):
        return {"scope": scope, "execution_name": name, "outcome": "already_done", "status": status.lower()}
    return {"scope": scope, "execution_name": name, "outcome": "already_running"}


def _describe(machine: str, name: str) -> tuple[str | None, int | None]:
    try:
        found = get_sfn_client().describe_execution(executionArn=_execution_arn(machine, name))
    except Exception:  # noqa: BLE001 - an unreadable execution is reported as running, never as started
        return None, None
    try:
        fence = json.loads(found.get("input") or "{}").get("fencing_token")
    except json.JSONDecodeError:
        fence = None
    return found.get("status"), fence


# --- the decision per scope -----------------------------------------------------------------------------------
@dataclass
class _Due:
    instant: datetime
    occurrence: Occurrence
    tenant_ids: set[str] = field(default_factory=set)


def _decide(schedule: WorkflowSchedule, scope: scheduling.Scope, at: datetime
            ) -> tuple[_Due | None, list[tuple[Calendar, Skipped]]]:
    """The scope's decision at one instant: which calendar groups run (union of their tenants), which skip."""
    due: _Due | None = None
    skipped: list[tuple[Calendar, Skipped]] = []
    for calendar, ids in scope.calendars.items():
        decision = evaluate_at(schedule, scope.timezone, at, calendar)
        if isinstance(decision, Occurrence):
            if due is None:
                due = _Due(decision.instant, decision)
            due.tenant_ids.update(ids)
        elif isinstance(decision, Skipped):
            skipped.append((calendar, decision))
    return due, skipped


def _run_tenants(scope: scheduling.Scope, due: _Due) -> list[str] | None:
    """None = every tenant of the scope (the usual case); else the tenants whose calendar runs today."""
    everyone = set(scope.tenant_ids)
    return None if not everyone or due.tenant_ids >= everyone else sorted(due.tenant_ids)


@dataclass(frozen=True)
class _Workflow:
    name: str
    schedule: WorkflowSchedule
    timezone: str
    steps: list[str]
    catchup_policy: str
    catchup_window: timedelta


def _load(workflow_name: str) -> _Workflow | None:
    with session_scope() as session:
        row = store.get_workflow(session, workflow_name)
        if row is None:
            raise InvalidInputError(f"workflow_name: unknown workflow {workflow_name!r}")
        if not row.enabled:
            return None
        return _snapshot(row)


def _snapshot(row: Any) -> _Workflow:
    return _Workflow(row.name, schedule_of(row), row.timezone, list(row.steps or []), row.catchup_policy or "skip",
                     timedelta(seconds=row.catchup_window_seconds or 0))


def dispatch_workflow(workflow: _Workflow, at: datetime, tenants: list[Tenant], *, include_current: bool,
                      trigger: Trigger = "scheduled", lease: Any = None) -> dict[str, Any]:
    """Evaluate every scope of one workflow at `at`: catch-up of missed instants, then the instant itself."""
    at = at.astimezone(UTC).replace(second=0, microsecond=0)
    machine = scheduling.state_machine_for(workflow.name, workflow.steps)
    answer: dict[str, Any] = {"workflow_name": workflow.name, "time": at.isoformat(), "runs": [], "not_due": [],
                              "skipped": []}
    if machine is None:
        answer["skipped"].append({"scope": None, "reason": "no state machine deployed for this workflow"})
        return answer
    scopes = scheduling.scopes_of(tenants, fallback_zone=workflow.timezone)
    with session_scope() as session:
        marks = scheduling.watermarks(session, workflow.name)
    for scope in scopes.values():
        lease and lease.beat()
        ran_something, pending = False, None
        # 1. Catch-up: instants in [watermark, at) the dispatcher missed, within the window.
        missed: list[_Due] = []
        mark = marks.get(scope.timezone)
        if mark is not None and workflow.catchup_policy != "skip":
            start = max(mark, at - workflow.catchup_window)
            for instant in candidate_instants(workflow.schedule, scope.timezone, start, at):
                due, _ = _decide(workflow.schedule, scope, instant)
                if due is not None:
                    missed.append(due)
        current, holiday_skips = _decide(workflow.schedule, scope, at) if include_current else (None, [])
        if workflow.catchup_policy == "latest":
            missed = [] if current is not None else missed[-1:]
        for due in missed:
            run = _start(workflow, scope, due, "catchup", machine)
            answer["runs"].append(run)
            ran_something = True
            if run["outcome"] == "locked":
                pending = due.instant  # one run at a time: the rest wait for the next sweep
                break
        # 2. The firing's own instant.
        if current is not None and pending is None:
            run = _start(workflow, scope, current, trigger, machine)
            answer["runs"].append(run)
            ran_something = True
            if run["outcome"] == "locked":
                pending = current.instant
        elif include_current and current is None:
            for calendar, skip in holiday_skips:
                answer["skipped"].append({"scope": scope.timezone, "calendar": calendar.key, **skip.as_dict()})
        if not ran_something and include_current:
            answer["not_due"].append(scope.timezone)
        # 3. Everything before the new watermark is handled (started, done, or dropped by policy).
        handled_to = pending if pending is not None else (at + _MINUTE if include_current else at)
        with session_scope() as session:
            scheduling.advance_watermark(session, workflow.name, scope.timezone, handled_to)
    return answer


def _start(workflow: _Workflow, scope: scheduling.Scope, due: _Due, trigger: Trigger, machine: str) -> dict[str, Any]:
    occurrence = due.occurrence
    run = start_run(workflow.name, scope.timezone, occurrence.run_date, trigger=trigger,
                    tenant_ids=_run_tenants(scope, due), name_suffix=occurrence.name_suffix(workflow.schedule),
                    state_machine=machine)
    run.update({"trigger": trigger, "instant": occurrence.instant.isoformat(), "reason": occurrence.reason})
    if occurrence.shifted_from:
        run.update({"shifted_from": occurrence.shifted_from.isoformat(), "holiday": occurrence.holiday})
    return run


# --- the dispatch lock ----------------------------------------------------------------------------------------
class _Lease:
    """A held dispatch lock with its heartbeat (called between scopes) and its `orchestrator_leader` row."""

    def __init__(self, locks: DispatchLocks, lease: DispatchLease, name: str) -> None:
        self.locks, self.lease, self.name = locks, lease, name
        self.beat_every = get_settings().leader_heartbeat_seconds
        self.last = time.monotonic()

    def beat(self) -> None:
        if time.monotonic() - self.last < self.beat_every:
            return
        self.last = time.monotonic()
        if self.locks.heartbeat(self.lease):
            with session_scope() as session:
                scheduling.record_leader(session, self.name, self.lease.token, self.lease.fencing_token,
                                         self.lease.ttl_seconds, acquired=False)


@contextmanager
def dispatch_lock(name: str, token: str, enabled: bool):  # noqa: ANN201 - a context manager of _Lease | None
    """Hold the dispatch lock `name` (None when another dispatcher holds it); a no-op lease when disabled."""
    if not enabled:
        yield _NoLease()
        return
    settings = get_settings()
    locks = DispatchLocks()
    lease = locks.acquire(name, token, settings.leader_lock_ttl_seconds)
    if lease is None:
        yield None
        return
    with session_scope() as session:
        scheduling.record_leader(session, name, token, lease.fencing_token, lease.ttl_seconds, acquired=True)
    try:
        yield _Lease(locks, lease, name)
    finally:
        locks.release(lease)


class _NoLease:
    def beat(self) -> None:
        return None


def _lock_token(event_id: str | None) -> str:
    return f"{get_settings().instance_id}:{event_id or '-'}:{uuid.uuid4().hex[:12]}"


def dispatch(event: Any, *, leader_election: bool | None = None) -> dict[str, Any]:
    """The dispatch Lambda. `leader_election` overrides ENABLE_LEADER_ELECTION (explicit beats env)."""
    data = parse(DispatchInput, event)
    at = data.time.astimezone(UTC)
    enabled = get_settings().enable_leader_election if leader_election is None else leader_election
    if data.sweep:
        return sweep(at, event_id=data.event_id, leader_election=enabled)
    assert data.workflow_name is not None
    workflow = _load(data.workflow_name)
    if workflow is None:
        return {"workflow_name": data.workflow_name, "time": at.isoformat(), "disabled": True, "runs": [],
                "not_due": [], "skipped": []}
    with dispatch_lock(f"dispatch:{workflow.name}", _lock_token(data.event_id), enabled) as lease:
        if lease is None:
            holder, _ = DispatchLocks().holder(f"dispatch:{workflow.name}")
            return {"workflow_name": workflow.name, "time": at.isoformat(), "event_id": data.event_id, "runs": [],
                    "not_due": [], "skipped": [], "dispatch_locked": {"held_by": holder,
                    "message": "another dispatcher is evaluating this workflow; this delivery changes nothing"}}
        tenants = get_platform_client().list_tenants()
        answer = dispatch_workflow(workflow, at, tenants, include_current=True, trigger=data.trigger, lease=lease)
    return {**answer, "event_id": data.event_id}


def sweep(at: datetime, *, event_id: str | None = None, leader_election: bool = True) -> dict[str, Any]:
    """The catch-up sweep: for every enabled workflow, the instants missed since each scope's watermark.

    Reads the tenant service only when some scope has a candidate instant to look at."""
    at = at.astimezone(UTC).replace(second=0, microsecond=0)
    with session_scope() as session:
        rows = [_snapshot(w) for w in scheduling._enabled_workflows(session)]
        marks = {w.name: scheduling.watermarks(session, w.name) for w in rows}
    answer: dict[str, Any] = {"sweep": True, "time": at.isoformat(), "event_id": event_id, "runs": [], "not_due": [],
                              "workflows": []}
    tenants: list[Tenant] | None = None
    for workflow in rows:
        if workflow.catchup_policy == "skip" or not marks[workflow.name]:
            continue
        if not any(next(candidate_instants(workflow.schedule, tz, max(mark, at - workflow.catchup_window), at),
                        None) for tz, mark in marks[workflow.name].items()):
            continue
        with dispatch_lock(f"dispatch:{workflow.name}", _lock_token(event_id), leader_election) as lease:
            if lease is None:
                answer["workflows"].append({"workflow_name": workflow.name, "dispatch_locked": True})
                continue
            tenants = tenants if tenants is not None else get_platform_client().list_tenants()
            result = dispatch_workflow(workflow, at, tenants, include_current=False, lease=lease)
        answer["workflows"].append({"workflow_name": workflow.name, "runs": len(result["runs"])})
        answer["runs"].extend({**run, "workflow_name": workflow.name} for run in result["runs"])
    return answer
