"""Dispatch: an EventBridge firing -> the runs that are due, each started exactly once.

EventBridge rules fire in UTC and deliver at least once. For every timezone scope (the active tenants
grouped by timezone) this decides by the scope's local clock and holiday calendar whether the workflow is
due, applies the catch-up policy to instants missed since the scope's watermark, then starts each run
under its deterministic name (`<workflow>-<scope>-<local date>`) while holding the scope's Redis run lock.
Duplicate or concurrent dispatches of one instant are harmless: the dispatch lock lets one dispatcher
evaluate a workflow at a time, the run lock refuses a second holder, Step Functions refuses the same name
(`ExecutionAlreadyExists` = already done), and a run already recorded as finished is done.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from chalicelib.adapters.locks import DispatchLease, DispatchLocks
from chalicelib.adapters.platform import get_platform_client
from chalicelib.db import schedule as schedule_rows
from chalicelib.db.engine import session_scope
from chalicelib.db.workflows import enabled_workflows, get_workflow
from chalicelib.domain.calendar import Calendar
from chalicelib.domain.models import Tenant, Trigger
from chalicelib.domain.schedule import Occurrence, Skipped, WorkflowSchedule, candidate_instants, evaluate_at
from chalicelib.domain.workflows import schedule_of
from chalicelib.errors import InvalidInputError
from chalicelib.services import scheduling
from chalicelib.services.runs import start_run
from chalicelib.settings import get_settings

_MINUTE = timedelta(minutes=1)


# --- the decision per scope -----------------------------------------------------------------------------------
@dataclass
class Due:
    instant: datetime
    occurrence: Occurrence
    calendars: set[str] = field(default_factory=set)  # keys of the calendars whose tenants run


def decide(
    schedule: WorkflowSchedule, scope: scheduling.Scope, at: datetime
) -> tuple[Due | None, list[tuple[Calendar, Skipped]]]:
    """The scope's decision at one instant: which calendar groups run, which skip (and why)."""
    due: Due | None = None
    skipped: list[tuple[Calendar, Skipped]] = []
    for calendar in scope.calendars:
        decision = evaluate_at(schedule, scope.timezone, at, calendar)
        if isinstance(decision, Occurrence):
            if due is None:
                due = Due(decision.instant, decision)
            due.calendars.add(calendar.key)
        elif isinstance(decision, Skipped):
            skipped.append((calendar, decision))
    return due, skipped


def run_calendars(scope: scheduling.Scope, due: Due) -> list[str] | None:
    """None = every calendar of the scope (the usual case); else the calendars that run at this instant
    (ListTenants keeps their tenants). Never a list of tenants: the execution input must stay small."""
    return None if due.calendars >= {c.key for c in scope.calendars} else sorted(due.calendars)


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
        row = get_workflow(session, workflow_name)
        if row is None:
            raise InvalidInputError(f"workflow_name: unknown workflow {workflow_name!r}")
        if not row.enabled:
            return None
        return _snapshot(row)


def _snapshot(row: Any) -> _Workflow:
    return _Workflow(
        row.name,
        schedule_of(row),
        row.timezone,
        list(row.steps or []),
        row.catchup_policy or "skip",
        timedelta(seconds=row.catchup_window_seconds or 0),
    )


def dispatch_workflow(
    workflow: _Workflow,
    at: datetime,
    tenants: list[Tenant],
    *,
    include_current: bool,
    trigger: Trigger = "scheduled",
    lease: Any = None,
) -> dict[str, Any]:
    """Evaluate every scope of one workflow at `at`: catch-up of missed instants, then the instant itself."""
    at = at.astimezone(UTC).replace(second=0, microsecond=0)
    machine = scheduling.state_machine_for(workflow.name, workflow.steps)
    answer: dict[str, Any] = {
        "workflow_name": workflow.name,
        "time": at.isoformat(),
        "runs": [],
        "not_due": [],
        "skipped": [],
    }
    if machine is None:
        answer["skipped"].append({"scope": None, "reason": "no state machine deployed for this workflow"})
        return answer
    scopes = scheduling.scopes_of(tenants, fallback_zone=workflow.timezone)
    with session_scope() as session:
        marks = schedule_rows.watermarks(session, workflow.name)
    for scope in scopes.values():
        lease and lease.beat()
        ran_something, pending = False, None
        # 1. Catch-up: instants in [watermark, at) the dispatcher missed, within the window.
        missed: list[Due] = []
        mark = marks.get(scope.timezone)
        if mark is not None and workflow.catchup_policy != "skip":
            start = max(mark, at - workflow.catchup_window)
            for instant in candidate_instants(workflow.schedule, scope.timezone, start, at):
                due, _ = decide(workflow.schedule, scope, instant)
                if due is not None:
                    missed.append(due)
        current, holiday_skips = decide(workflow.schedule, scope, at) if include_current else (None, [])
        if workflow.catchup_policy == "latest":
            missed = [] if current is not None else missed[-1:]
        for due in missed:
            run = _start(workflow, scope, due, "catch_up", machine)
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
        if include_current:  # a calendar's holiday, whether or not the scope's other calendars run
            for calendar, skip in holiday_skips:
                answer["skipped"].append(
                    {
                        "scope": scope.timezone,
                        "calendar": calendar.key,
                        "tenants": len(scope.calendars[calendar]),
                        **skip.as_dict(),
                    }
                )
        if not ran_something and include_current:
            answer["not_due"].append(scope.timezone)
        # 3. Everything before the new watermark is handled (started, done, or dropped by policy).
        handled_to = pending if pending is not None else (at + _MINUTE if include_current else at)
        with session_scope() as session:
            schedule_rows.advance_watermark(session, workflow.name, scope.timezone, handled_to)
    return answer


def _start(workflow: _Workflow, scope: scheduling.Scope, due: Due, trigger: Trigger, machine: str) -> dict[str, Any]:
    occurrence = due.occurrence
    run = start_run(
        workflow.name,
        scope.timezone,
        occurrence.run_date,
        trigger=trigger,
        calendars=run_calendars(scope, due),
        name_suffix=occurrence.name_suffix(workflow.schedule),
        state_machine=machine,
    )
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
                schedule_rows.record_leader(
                    session,
                    self.name,
                    instance=get_settings().instance,
                    token=self.lease.token,
                    fencing_token=self.lease.fencing_token,
                    ttl_seconds=self.lease.ttl_seconds,
                    acquired=False,
                )


@contextmanager
def dispatch_lock(name: str, token: str, enabled: bool) -> Iterator[_Lease | _NoLease | None]:
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
        schedule_rows.record_leader(
            session,
            name,
            instance=settings.instance,
            token=token,
            fencing_token=lease.fencing_token,
            ttl_seconds=lease.ttl_seconds,
            acquired=True,
        )
    try:
        yield _Lease(locks, lease, name)
    finally:
        locks.release(lease)


class _NoLease:
    def beat(self) -> None:
        return None


def _lock_token(event_id: str | None) -> str:
    return f"{get_settings().instance}:{event_id or '-'}:{uuid.uuid4().hex[:12]}"


def dispatch(
    workflow_name: str,
    at: datetime,
    *,
    event_id: str | None = None,
    trigger: Trigger = "scheduled",
    leader_election: bool | None = None,
) -> dict[str, Any]:
    """One firing of a workflow's rule. `leader_election` overrides ENABLE_LEADER_ELECTION (explicit beats env)."""
    at = at.astimezone(UTC)
    enabled = get_settings().enable_leader_election if leader_election is None else leader_election
    workflow = _load(workflow_name)
    if workflow is None:
        return {
            "workflow_name": workflow_name,
            "time": at.isoformat(),
            "disabled": True,
            "runs": [],
            "not_due": [],
            "skipped": [],
        }
    with dispatch_lock(f"dispatch:{workflow.name}", _lock_token(event_id), enabled) as lease:
        if lease is None:
            holder, _ = DispatchLocks().holder(f"dispatch:{workflow.name}")
            return {
                "workflow_name": workflow.name,
                "time": at.isoformat(),
                "event_id": event_id,
                "runs": [],
                "not_due": [],
                "skipped": [],
                "dispatch_locked": {
                    "held_by": holder,
                    "message": "another dispatcher is evaluating this workflow; this delivery changes nothing",
                },
            }
        tenants = get_platform_client().list_tenants()
        answer = dispatch_workflow(workflow, at, tenants, include_current=True, trigger=trigger, lease=lease)
    return {**answer, "event_id": event_id}


def sweep(at: datetime, *, event_id: str | None = None, leader_election: bool | None = None) -> dict[str, Any]:
    """The catch-up sweep: for every enabled workflow, the instants missed since each scope's watermark.

    Reads the tenant service only when some scope has a candidate instant to look at."""
    at = at.astimezone(UTC).replace(second=0, microsecond=0)
    if leader_election is None:
        leader_election = get_settings().enable_leader_election
    with session_scope() as session:
        rows = [_snapshot(w) for w in enabled_workflows(session)]
        marks = {w.name: schedule_rows.watermarks(session, w.name) for w in rows}
    answer: dict[str, Any] = {
        "sweep": True,
        "time": at.isoformat(),
        "event_id": event_id,
        "runs": [],
        "not_due": [],
        "workflows": [],
    }
    tenants: list[Tenant] | None = None
    for workflow in rows:
        if workflow.catchup_policy == "skip" or not marks[workflow.name]:
            continue
        if not any(
            next(candidate_instants(workflow.schedule, tz, max(mark, at - workflow.catchup_window), at), None)
            for tz, mark in marks[workflow.name].items()
        ):
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
