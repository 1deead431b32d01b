"""Scheduling use cases: the EventBridge rules that match the workflows table, the next run of a workflow,
the scopes (timezones) and calendars of the tenants, and the dispatch locks as `GET /leader` shows them.

The pure rules live in `chalicelib.domain.schedule` (when is a local cron due, what do holidays and
weekends do) and `chalicelib.domain.calendar`; this module reads the tables, the tenant service and
EventBridge around them.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from chalicelib.adapters.eventbridge import ScheduleRule, apply_rules
from chalicelib.db.engine import session_scope
from chalicelib.db.schedule import leader_rows
from chalicelib.db.sql import aware_required
from chalicelib.db.workflows import all_workflows, enabled_workflows, get_workflow
from chalicelib.domain.calendar import Calendar, calendar_for
from chalicelib.domain.constants import APP_NAME
from chalicelib.domain.models import DAILY_STEPS, Tenant
from chalicelib.domain.schedule import (
    WorkflowSchedule,
    next_occurrence,
    rule_expressions,
    utc_rule_times,
    zone,
)
from chalicelib.domain.workflows import schedule_of
from chalicelib.errors import InvalidInputError
from chalicelib.observability import get_logger
from chalicelib.settings import Settings, get_settings

if TYPE_CHECKING:
    from mypy_boto3_events import EventBridgeClient

SWEEP_TARGET_ID = "catchup"
DISPATCH_TARGET_ID = "dispatch"
MAX_RULE_NAME = 64


# --- scopes and their calendars -------------------------------------------------------------------------------
def default_calendar(settings: Settings | None = None) -> Calendar:
    settings = settings or get_settings()
    return calendar_for(settings.default_country, settings.default_subdivision)


def configured_zones(settings: Settings | None = None) -> list[str]:
    settings = settings or get_settings()
    return [z.strip() for z in settings.scope_timezones.split(",") if z.strip()]


@dataclass
class Scope:
    """One timezone's active tenants, grouped by holiday calendar (country, subdivision)."""

    timezone: str
    calendars: dict[Calendar, list[str]] = field(default_factory=dict)  # calendar -> tenant ids

    @property
    def tenant_ids(self) -> list[str]:
        return sorted(tid for ids in self.calendars.values() for tid in ids)


def calendar_of(tenant: Tenant, settings: Settings | None = None) -> Calendar:
    """The tenant's holiday calendar (its country and subdivision); the default one when unknown."""
    try:
        return calendar_for(tenant.country, tenant.subdivision)
    except ValueError as exc:
        get_logger().warning(
            "tenant calendar unknown, using the default", extra={"tenant_id": tenant.id, "error": str(exc)}
        )
        return default_calendar(settings)


def scopes_of(tenants: Iterable[Tenant], *, fallback_zone: str, settings: Settings | None = None) -> dict[str, Scope]:
    """Active tenants grouped by timezone, then by calendar. No active tenant: the workflow's own zone
    with the default calendar (so a fresh install still has a scope to run)."""
    scopes: dict[str, Scope] = {}
    for tenant in tenants:
        if tenant.status != "active":
            continue
        scope = scopes.setdefault(tenant.timezone, Scope(tenant.timezone))
        scope.calendars.setdefault(calendar_of(tenant, settings), []).append(tenant.id)
    if not scopes:
        scopes[fallback_zone] = Scope(fallback_zone, {default_calendar(settings): []})
    return dict(sorted(scopes.items()))


def _tenants_best_effort() -> list[Tenant] | None:
    from chalicelib.adapters.platform import get_platform_client

    try:
        return get_platform_client().list_tenants()
    except Exception as exc:  # noqa: BLE001 - the tenant service is optional for these reads
        get_logger().warning("tenant service unavailable; using configured scopes", extra={"error": str(exc)})
        return None


# --- which state machine runs a workflow ----------------------------------------------------------------------
def state_machine_for(
    workflow_name: str, steps: Iterable[str] | None = None, machines: dict[str, str] | None = None
) -> str | None:
    """The ARN of the state machine that runs `workflow_name`, or None when none is deployed.

    Its own (`<NAME>_STATE_MACHINE_ARN`, or `machines[name]`), else the daily pipeline's when the
    workflow's steps are exactly the daily pipeline (an operator's variant of the daily run).
    """

    def lookup(name: str) -> str:
        if machines is not None:
            return machines.get(name, "")
        return os.environ.get(f"{name.upper()}_STATE_MACHINE_ARN", "")

    own = lookup(workflow_name)
    if own:
        return own
    if steps is not None and list(steps) == list(DAILY_STEPS):
        return lookup("daily_operations") or None
    return None


# --- rules ----------------------------------------------------------------------------------------------------
def rule_prefix(stage: str) -> str:
    """Every rule `reconcile_rules` manages starts with this; nothing else does."""
    return f"{APP_NAME}-{stage}-sched-"


def _rule_name(stage: str, workflow: str, index: int) -> str:
    digest = hashlib.sha1(workflow.encode(), usedforsecurity=False).hexdigest()[:6]
    slug = re.sub(r"[^a-z0-9]+", "-", workflow.lower()).strip("-")
    fixed = f"{rule_prefix(stage)}-{digest}-{index}"
    room = MAX_RULE_NAME - len(fixed)
    return f"{rule_prefix(stage)}{slug[: max(room, 0)]}-{digest}-{index}"


def desired_rules(
    workflows: Iterable[tuple[str, WorkflowSchedule, str]],
    zones: Iterable[str],
    *,
    stage: str,
    now: datetime | None = None,
    sweep_minutes: int | None = None,
) -> list[ScheduleRule]:
    """The rules for (name, schedule, timezone) workflows in `zones` (each workflow's own zone added).

    Each workflow gets the fewest rules that fire at every UTC minute its local times take in any zone
    (every day: the dispatcher decides by the local calendar), with the workflow and its scopes as input;
    plus one catch-up sweep rule every `sweep_minutes`.
    """
    now = now or datetime.now(UTC)
    sweep_minutes = sweep_minutes or get_settings().catchup_sweep_minutes
    extra = sorted(set(zones))
    rules: list[ScheduleRule] = []
    for name, schedule, tz in sorted(workflows, key=lambda w: w[0]):
        scopes = sorted({tz, *extra})
        times = utc_rule_times(schedule.crons, scopes, start=now)
        template = json.dumps({"workflow_name": name, "scopes": scopes})[:-1] + ', "time": <time>, "event_id": <id>}'
        for index, expression in enumerate(rule_expressions(times)):
            rules.append(
                ScheduleRule(
                    name=_rule_name(stage, name, index),
                    schedule_expression=expression,
                    description=f"{name}: {' / '.join(schedule.crons)} local in {', '.join(scopes)}"[:512],
                    target_id=DISPATCH_TARGET_ID,
                    input_template=template,
                )
            )
    unit = "minute" if sweep_minutes == 1 else "minutes"
    rules.append(
        ScheduleRule(
            name=f"{rule_prefix(stage)}catchup-sweep",
            schedule_expression=f"rate({sweep_minutes} {unit})",
            description="Catch-up: runs a workflow's missed instants per its catch-up policy",
            target_id=SWEEP_TARGET_ID,
            input_template='{"sweep": true, "time": <time>, "event_id": <id>}',
        )
    )
    return rules


def reconcile_rules(
    *,
    stage: str | None = None,
    dispatch_arn: str | None = None,
    events: EventBridgeClient | None = None,
    machines: dict[str, str] | None = None,
    tenant_zones: Iterable[str] | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Make the stage's schedule rules in EventBridge match the enabled workflows in the table.

    Idempotent: creates missing rules, updates changed ones (expression, description, target input),
    deletes rules of disabled/removed workflows, leaves equal ones alone. Only rules named
    `bakery-orchestrator-<stage>-sched-*` are touched.

    How to call it: after every create/update/delete/enable/disable of a workflow (the API does this
    after committing the row), with no arguments inside a Lambda — the stage comes from `STAGE`, the
    target from `DISPATCH_FUNCTION_ARN`, the EventBridge client from the environment (`AWS_ENDPOINT_URL`
    on the local cloud), the deployed state machines from `<WORKFLOW>_STATE_MACHINE_ARN`, the scopes
    from the workflows' timezones, `SCOPE_TIMEZONES` and the active tenants' timezones (the tenant
    service, when it answers). Workflows without a state machine get no rule and are listed under
    "skipped". Returns {"created", "updated", "deleted", "unchanged", "skipped"} (rule names).
    Raises InvalidInputError when no dispatch function ARN is known.
    """
    settings = get_settings()
    stage = stage or settings.stage
    dispatch_arn = dispatch_arn or settings.dispatch_function_arn
    if not dispatch_arn:
        raise InvalidInputError("DISPATCH_FUNCTION_ARN: not set, the schedule rules would have no target")
    if events is None:
        import boto3

        events = boto3.client("events")
    with session_scope() as session:
        rows = [(w.name, schedule_of(w), w.timezone, list(w.steps or [])) for w in enabled_workflows(session)]
    skipped = [
        {"workflow_name": name, "reason": "no state machine deployed"}
        for name, _, _, steps in rows
        if state_machine_for(name, steps, machines) is None
    ]
    runnable = [
        (name, schedule, tz)
        for name, schedule, tz, steps in rows
        if state_machine_for(name, steps, machines) is not None
    ]
    tenants: list[Tenant] | None = None
    if tenant_zones is None:
        tenants = _tenants_best_effort() or []
        tenant_zones = {t.timezone for t in tenants if t.status == "active"}
    wanted = desired_rules(runnable, {*configured_zones(settings), *tenant_zones}, stage=stage, now=now)
    result = apply_rules(events, wanted, prefix=rule_prefix(stage), dispatch_arn=dispatch_arn)
    result["skipped"] = skipped
    refresh_next_execution(tenants=list(tenants) if tenants is not None else None)
    get_logger().info("schedule rules reconciled", extra={f"rules_{k}": len(v) for k, v in result.items()})
    return result


def refresh_next_execution(workflow_name: str | None = None, *, tenants: list[Tenant] | None = None) -> None:
    """Keep `next_execution_at` current: the earliest next run over the workflow's scopes (holidays and
    weekends applied; None when disabled). For one workflow, or every one; after each run and change."""
    with session_scope() as session:
        names = [workflow_name] if workflow_name else [w.name for w in all_workflows(session)]
    if tenants is None:
        tenants = _tenants_best_effort()
    for name in names:
        found = next_run(name, tenants=tenants or [])
        at = datetime.fromisoformat(found["next_run_at"]) if found["next_run_at"] else None
        with session_scope() as session:
            row = get_workflow(session, name)
            if row is not None:
                row.next_execution_at = at


# --- next run -------------------------------------------------------------------------------------------------
def next_run(
    workflow_name: str, scope: str | None = None, after: datetime | None = None, *, tenants: list[Tenant] | None = None
) -> dict[str, Any]:
    """The next run of a workflow, holidays and weekends applied, as a JSON-able dict.

    `scope` (a timezone) narrows it to one scope, else every scope of the workflow (its active tenants'
    timezones; the configured ones when the tenant service does not answer) and the top-level fields
    are the earliest. Within a scope, tenants with different holiday calendars may run on different
    days: the scope's next run is the earliest of its calendars, each listed under "calendars".
    Keys: workflow_name, enabled, cron_expression, weekend_cron, timezone, holiday_policy, after,
    next_run_at (UTC ISO or None), local_time, run_date, scope, reason ("scheduled" | "holiday_run" |
    "shifted" | "disabled" | "none_within_horizon"), shifted_from, holiday, skipped, scopes[].
    Raises InvalidInputError (naming the field) for an unknown workflow, a bad scope or a naive `after`.
    """
    after = after or datetime.now(UTC)
    if after.tzinfo is None:
        raise InvalidInputError("after: needs a UTC offset")
    if scope is not None:
        try:
            zone(scope)
        except ValueError:
            raise InvalidInputError(f"scope: unknown timezone {scope!r}") from None
    with session_scope() as session:
        workflow = get_workflow(session, workflow_name)
        if workflow is None:
            raise InvalidInputError(f"workflow_name: unknown workflow {workflow_name!r}")
        schedule, tz, enabled = schedule_of(workflow), workflow.timezone, workflow.enabled
        definition = {
            "workflow_name": workflow.name,
            "enabled": enabled,
            "cron_expression": workflow.cron_expression,
            "weekend_cron": workflow.weekend_cron,
            "timezone": tz,
            "holiday_policy": workflow.holiday_policy,
            "after": after.astimezone(UTC).isoformat(),
        }
    if tenants is None:
        tenants = _tenants_best_effort()
    if tenants:
        scopes = scopes_of(tenants, fallback_zone=tz)
    else:
        scopes = {z: Scope(z, {default_calendar(): []}) for z in sorted({tz, *configured_zones()})}
    if scope is not None:
        scopes = {scope: scopes.get(scope) or Scope(scope, {default_calendar(): []})}
    per_scope = []
    for name, group in scopes.items():
        calendars = []
        for calendar, ids in sorted(group.calendars.items()):
            occurrence, skipped = next_occurrence(schedule, name, after, calendar) if enabled else (None, [])
            calendars.append(
                {
                    "calendar": calendar.key,
                    "tenants": len(ids),
                    **_occurrence_view(occurrence, enabled),
                    "skipped": [s.as_dict() for s in skipped],
                }
            )
        calendars.sort(key=lambda c: (c["next_run_at"] is None, c["next_run_at"] or ""))
        first = calendars[0]
        per_scope.append(
            {"scope": name, **{k: first[k] for k in _VIEW_KEYS}, "skipped": first["skipped"], "calendars": calendars}
        )
    per_scope.sort(key=lambda s: (s["next_run_at"] is None, s["next_run_at"] or "", s["scope"]))
    best = per_scope[0]
    return {
        **definition,
        **{k: best[k] for k in _VIEW_KEYS},
        "scope": best["scope"],
        "skipped": best["skipped"],
        "scopes": per_scope,
    }


_VIEW_KEYS = ("next_run_at", "local_time", "run_date", "reason", "shifted_from", "holiday")


def _occurrence_view(occurrence: Any, enabled: bool) -> dict[str, Any]:
    if occurrence is None:
        return {
            "next_run_at": None,
            "local_time": None,
            "run_date": None,
            "reason": "none_within_horizon" if enabled else "disabled",
            "shifted_from": None,
            "holiday": None,
        }
    view = occurrence.as_dict()
    return {
        "next_run_at": view["instant"],
        "local_time": view["local_time"],
        "run_date": view["run_date"],
        "reason": view["reason"],
        "shifted_from": view["shifted_from"],
        "holiday": view["holiday"],
    }


# --- the dispatch lock ("leader") -----------------------------------------------------------------------------
def leader_status(*, now: datetime | None = None) -> dict[str, Any]:
    """The dispatch locks as GET /leader shows them: each lock's last holder, heartbeat, TTL and whether
    it is held right now (the Redis key still names that holder). JSON-able."""
    from chalicelib.adapters.locks import DispatchLocks

    settings = get_settings()
    now = now or datetime.now(UTC)
    with session_scope() as session:
        views: list[dict[str, Any]] = [
            {
                "lock_name": r.lock_name,
                "holder": r.instance_id,
                "lock_token": r.lock_token,
                "fencing_token": r.fencing_token,
                "acquired_at": aware_required(r.acquired_at).isoformat(),
                "heartbeat_at": aware_required(r.heartbeat_at).isoformat(),
                "ttl_seconds": r.ttl_seconds,
            }
            for r in leader_rows(session)
        ]
    locks = DispatchLocks()
    for view in views:
        token, remaining_ms = locks.holder(view["lock_name"])
        view["held"] = token is not None and token == view["lock_token"]
        view["expires_at"] = (now + timedelta(milliseconds=remaining_ms)).isoformat() if view["held"] else None
    return {
        "enabled": settings.enable_leader_election,
        "instance_id": settings.instance,
        "ttl_seconds": settings.leader_lock_ttl_seconds,
        "heartbeat_seconds": settings.leader_heartbeat_seconds,
        "locks": views,
    }
