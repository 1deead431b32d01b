"""What the console shows that the executions routes do not: an execution's state machine graph with each
state's status, its Step Functions history, and the Map's tenants (paged, searchable, for 10,000 tenants).

Visibility is the executions routes' own: a tenant caller sees only executions with a step or log of its
own (LookupError otherwise), only its own row of the tenant table, and the parent states' statuses without
their input, output or cause (those may name other tenants).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from chalicelib.adapters.manifests import manifest_key, read_manifest
from chalicelib.adapters.stepfunctions import Executions
from chalicelib.db import console as console_db
from chalicelib.db.engine import session_scope
from chalicelib.db.readmodels import visible_execution
from chalicelib.domain.console import (
    MAX_DATA_CHARS,
    STATUSES,
    execution_status,
    map_item_states,
    state_runs,
    tenant_item_states,
    walk_states,
)
from chalicelib.domain.models import DAILY_STEPS
from chalicelib.settings import get_settings

FAILURE_STEP = "record_tenant_failure"
RUN_STEPS = ("start_run", "list_tenants", FAILURE_STEP, "finish_run", "fail_run", "publish_events")
TENANT_STATUSES = ("pending", "running", "completed", "failed", "not_run")


class NotInStepFunctions(LookupError):
    """The execution row has no Step Functions execution to read (it never started there)."""


def _row(execution_id: str, tenant_scope: str | None) -> dict[str, Any]:
    with session_scope() as session:
        execution = visible_execution(session, execution_id, tenant_scope=tenant_scope)
        return {
            "id": str(execution.id),
            "execution_name": execution.execution_name,
            "execution_arn": execution.execution_arn,
            "workflow_name": execution.workflow_name,
            "status": execution.status,
            "tenants_total": execution.tenants_total,
        }


def _first_map(states: list[Any]) -> str | None:
    return next((s.name for s in states if s.type == "Map" and s.parent is None), None)


def execution_graph(
    execution_id: str, *, tenant_scope: str | None, tenant_id: str | None = None, executions: Executions | None = None
) -> dict[str, Any]:
    """The definition the execution ran, each state's status (the parent's states from its history, the
    Map's inner states from the step rows: over all tenants, or for `tenant_id` alone), the Map run's
    item counts, and the legend of statuses."""
    row = _row(execution_id, tenant_scope)
    if tenant_scope is not None:
        tenant_id = tenant_scope
    arn = row["execution_arn"]
    if not arn:
        raise NotInStepFunctions(execution_id)
    sfn = executions or Executions()
    definition, state_machine_arn = sfn.definition_for(arn)
    events, truncated = sfn.history(arn)
    sfn_status = execution_status(events)
    steps = (*DAILY_STEPS, *RUN_STEPS)
    infos = walk_states(definition, steps)
    runs = state_runs(events)
    hide = tenant_scope is not None
    views: dict[str, dict[str, Any]] = {}
    for info in infos:
        run = runs.get(info.name)
        if run is not None:
            views[info.name] = {**_empty(), **run.view(sfn_status, hide_data=hide)}
    map_state = _first_map(infos)
    map_view: dict[str, Any] | None = None
    if map_state is not None:
        running = sfn_status == "RUNNING" and row["status"] == "running"
        with session_scope() as session:
            if tenant_id is not None:
                inner = tenant_item_states(
                    infos,
                    map_state,
                    steps=console_db.tenant_steps(session, execution_id, tenant_id),
                    running=running,
                    failure_step=FAILURE_STEP,
                )
            else:
                counts = console_db.step_counts(session, execution_id)
                failed = len(console_db.failures(session, execution_id))
                inner = map_item_states(
                    infos,
                    map_state,
                    counts=counts,
                    tenants_total=row["tenants_total"],
                    tenants_failed=failed,
                    running=running,
                    failure_step=FAILURE_STEP,
                )
        for name, view in inner.items():
            views[name] = {**_empty(), **view}
        map_run_arn = next(
            (
                e["mapRunStartedEventDetails"].get("mapRunArn")
                for e in events
                if e.get("type") == "MapRunStarted" and isinstance(e.get("mapRunStartedEventDetails"), dict)
            ),
            None,
        )
        map_view = {
            "state": map_state,
            "map_run_arn": map_run_arn,
            "item_counts": sfn.map_run(map_run_arn).get("itemCounts") if map_run_arn else None,
            "tenant_id": tenant_id,
        }
    for info in infos:
        views.setdefault(info.name, {**_empty(), "status": "not_started"})
    return {
        "execution_id": row["id"],
        "execution_name": row["execution_name"],
        "execution_arn": arn,
        "state_machine_arn": state_machine_arn,
        "sfn_status": sfn_status,
        "start_date": events[0].get("timestamp") if events else None,
        "stop_date": events[-1].get("timestamp") if sfn_status != "RUNNING" and events else None,
        "definition": definition,
        "states": views,
        "map": map_view,
        "history_events": len(events),
        "history_truncated": truncated,
        "statuses": list(STATUSES),
        "data_limit_chars": MAX_DATA_CHARS,
    }


def _empty() -> dict[str, Any]:
    return {
        "entered_at": None,
        "exited_at": None,
        "duration_ms": None,
        "attempts": 0,
        "retries": 0,
        "input": None,
        "output": None,
        "error": None,
        "cause": None,
        "truncated": False,
        "failures": 0,
        "succeeded": None,
        "failed": None,
        "total": None,
    }


def execution_history(
    execution_id: str, *, tenant_scope: str | None, limit: int, after: int, executions: Executions | None = None
) -> dict[str, Any]:
    """The parent execution's events after event id `after`, `limit` at a time. A tenant caller gets each
    event's type, time and state but not its details."""
    row = _row(execution_id, tenant_scope)
    if not row["execution_arn"]:
        raise NotInStepFunctions(execution_id)
    events, truncated = (executions or Executions()).history(row["execution_arn"])
    page = [e for e in events if int(e.get("id") or 0) > after][:limit]
    items = []
    for event in page:
        details = next((v for k, v in event.items() if k.endswith("EventDetails") and isinstance(v, dict)), None)
        if details is not None and tenant_scope is None:
            details = {k: (v[:MAX_DATA_CHARS] if isinstance(v, str) else v) for k, v in details.items()}
        state = (details or {}).get("name") if details else None
        items.append(
            {
                "id": int(event.get("id") or 0),
                "previous_event_id": int(event.get("previousEventId") or 0),
                "type": str(event.get("type")),
                "timestamp": event.get("timestamp"),
                "state": state,
                "details": None if tenant_scope is not None else details,
            }
        )
    more = bool(page) and int(page[-1].get("id") or 0) < max(int(e.get("id") or 0) for e in events)
    return {
        "events": items,
        "count": len(items),
        "total": len(events),
        "truncated": truncated,
        "next_cursor": items[-1]["id"] if more else None,
    }


def execution_tenants(
    execution_id: str,
    *,
    tenant_scope: str | None,
    search: str | None = None,
    status: str | None = None,
    limit: int = 100,
    cursor: int = 0,
) -> dict[str, Any]:
    """The Map's tenants in Map order (the run's manifest; tenants with step rows but not in it after),
    each with its status, steps, failing step, error and time in steps; filtered by a case-insensitive
    search of id or name and by status; `limit` from position `cursor`.

    The database counts the statuses and names the tenants of a status; step details are read for the
    page's tenants only, so a page of an execution of 10,000 tenants reads a page of rows."""
    row = _row(execution_id, tenant_scope)
    bucket = get_settings().manifest_bucket
    manifest = read_manifest(bucket, manifest_key(row["execution_name"])) if bucket else ()
    running = row["status"] == "running"
    names = {str(i.get("id")): i for i in manifest}
    with session_scope() as session:
        counted = console_db.tenant_state_counts(session, execution_id)
        started: set[str] | None = None
        if (
            tenant_scope is not None
            or not manifest
            or counted["started"] > len(names)
            or status
            in (
                "pending",
                "not_run",
            )
        ):
            started = console_db.tenants_in_state(session, execution_id, "started")
        order = list(names)
        if started is not None:
            order += sorted(started - names.keys())
        if tenant_scope is not None:
            order = [t for t in order if t == tenant_scope]
        wanted = _with_status(session, execution_id, status, running, started) if status else None
        needle = (search or "").strip().lower()
        matched = [
            t
            for t in order
            if (wanted is None or wanted(t))
            and (not needle or needle in t.lower() or needle in str(names.get(t, {}).get("name") or "").lower())
        ]
        page = matched[cursor : cursor + limit]
        summaries = console_db.tenant_summaries(session, execution_id, tenant_ids=page) if page else {}
        failed = console_db.failures(session, execution_id, tenant_ids=page) if page else {}
    tenants = []
    for tenant in page:
        summary, failure = summaries.get(tenant) or {}, failed.get(tenant) or {}
        tenants.append(
            {
                "tenant_id": tenant,
                "name": names.get(tenant, {}).get("name"),
                "tier": names.get(tenant, {}).get("subscription_tier"),
                "status": _tenant_state(summary, failure, running),
                "steps_completed": summary.get("steps_completed", 0),
                "steps_failed": summary.get("steps_failed", 0),
                "duration_ms": summary.get("duration_ms"),
                "last_step_at": summary.get("last_step_at"),
                "failed_step": failure.get("failed_step"),
                "error_type": failure.get("error_type"),
                "error_message": failure.get("error_message") or None,
            }
        )
    total = len(order)
    if tenant_scope is not None:  # its own row only
        counts = dict.fromkeys(TENANT_STATUSES, 0)
        if order:
            with session_scope() as session:
                own = console_db.tenant_summaries(session, execution_id, tenant_id=tenant_scope)
                own_failure = console_db.failures(session, execution_id, tenant_id=tenant_scope)
            counts[_tenant_state(own.get(tenant_scope) or {}, own_failure.get(tenant_scope) or {}, running)] = 1
    else:
        unfinished = counted["started"] - counted["failed"] - counted["completed"]
        counts = {
            "pending": (total - counted["started"]) if running else 0,
            "running": unfinished if running else 0,
            "completed": counted["completed"],
            "failed": counted["failed"],
            "not_run": 0 if running else (total - counted["started"]) + unfinished,
        }
    end = cursor + len(page)
    return {
        "tenants": tenants,
        "count": len(tenants),
        "matched": len(matched),
        "total": total,
        "counts": counts,
        "next_cursor": end if end < len(matched) else None,
    }


def _tenant_state(summary: dict[str, Any], failure: dict[str, Any], running: bool) -> str:
    if failure:
        return "failed"
    if not summary:
        return "pending" if running else "not_run"
    if summary.get("finished"):
        return "completed"
    return "running" if running else "not_run"


def _with_status(
    session: Any, execution_id: str, status: str, running: bool, started: set[str] | None
) -> Callable[[str], bool]:
    """A test for `tenant has status`, from the set of tenants the database puts in it."""
    if status in ("failed", "completed"):
        ids = console_db.tenants_in_state(session, execution_id, status)
        return ids.__contains__
    unfinished = console_db.tenants_in_state(session, execution_id, "running")
    begun = started if started is not None else console_db.tenants_in_state(session, execution_id, "started")
    if status == "running":
        return (lambda t: t in unfinished) if running else (lambda t: False)
    if status == "pending":
        return (lambda t: t not in begun) if running else (lambda t: False)
    # not_run: the run is over and the tenant never started or never finished
    return (lambda t: False) if running else (lambda t: t not in begun or t in unfinished)
