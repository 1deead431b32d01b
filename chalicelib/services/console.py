"""What the console shows that the executions routes do not: an execution's state machine graph with each
state's status, its Step Functions history, and the Map's tenants (paged, searchable, for 10,000 tenants).

Visibility is the executions routes' own: a tenant caller sees only executions with a step or log of its
own (LookupError otherwise), only its own row of the tenant table, and the parent states' statuses without
their input, output or cause (those may name other tenants).
"""

from __future__ import annotations

from typing import Any

from chalicelib.adapters.manifests import manifest_key, read_manifest
from chalicelib.adapters.stepfunctions import Executions
from chalicelib.db import console as console_db
from chalicelib.db.engine import session_scope
from chalicelib.db.readmodels import visible_execution
from chalicelib.domain.console import (
    MAX_DATA_CHARS,
    STATUSES,
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
    described = sfn.describe(arn)
    definition = sfn.definition_for(arn)
    events, truncated = sfn.history(arn)
    sfn_status = str(described["status"])
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
        map_runs = sfn.map_runs(arn)
        map_view = {
            "state": map_state,
            "map_run_arn": map_runs[0].get("mapRunArn") if map_runs else None,
            "item_counts": map_runs[0].get("itemCounts") if map_runs else None,
            "tenant_id": tenant_id,
        }
    for info in infos:
        views.setdefault(info.name, {**_empty(), "status": "not_started"})
    return {
        "execution_id": row["id"],
        "execution_name": row["execution_name"],
        "execution_arn": arn,
        "state_machine_arn": described.get("stateMachineArn"),
        "sfn_status": sfn_status,
        "start_date": described.get("startDate"),
        "stop_date": described.get("stopDate"),
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
    search of id or name and by status; `limit` from position `cursor`."""
    row = _row(execution_id, tenant_scope)
    only = tenant_scope
    bucket = get_settings().manifest_bucket
    manifest = read_manifest(bucket, manifest_key(row["execution_name"])) if bucket else ()
    with session_scope() as session:
        summaries = console_db.tenant_summaries(session, execution_id, tenant_id=only)
        failed = console_db.failures(session, execution_id, tenant_id=only)
    running = row["status"] == "running"
    ordered: list[dict[str, Any]] = []
    seen: set[str] = set()
    for item in manifest:
        tenant = str(item.get("id"))
        if only is not None and tenant != only:
            continue
        seen.add(tenant)
        ordered.append({"tenant_id": tenant, "name": item.get("name"), "tier": item.get("subscription_tier")})
    for tenant in sorted(set(summaries) - seen):
        ordered.append({"tenant_id": tenant, "name": None, "tier": None})
    counts = dict.fromkeys(TENANT_STATUSES, 0)
    needle = (search or "").strip().lower()
    matched: list[dict[str, Any]] = []
    for entry in ordered:
        summary = summaries.get(entry["tenant_id"])
        failure = failed.get(entry["tenant_id"])
        if failure is not None:
            state = "failed"
        elif summary is None:
            state = "pending" if running else "not_run"
        elif summary["finished"]:
            state = "completed"
        else:
            state = "running" if running else "not_run"
        counts[state] += 1
        if status is not None and state != status:
            continue
        if needle and needle not in entry["tenant_id"].lower() and needle not in (entry["name"] or "").lower():
            continue
        matched.append({**entry, "status": state, "summary": summary, "failure": failure})
    page = matched[cursor : cursor + limit]
    tenants = [
        {
            "tenant_id": m["tenant_id"],
            "name": m["name"],
            "tier": m["tier"],
            "status": m["status"],
            "steps_completed": (m["summary"] or {}).get("steps_completed", 0),
            "steps_failed": (m["summary"] or {}).get("steps_failed", 0),
            "duration_ms": (m["summary"] or {}).get("duration_ms"),
            "last_step_at": (m["summary"] or {}).get("last_step_at"),
            "failed_step": (m["failure"] or {}).get("failed_step"),
            "error_type": (m["failure"] or {}).get("error_type"),
            "error_message": ((m["failure"] or {}).get("error_message") or None),
        }
        for m in page
    ]
    end = cursor + len(page)
    return {
        "tenants": tenants,
        "count": len(tenants),
        "matched": len(matched),
        "total": len(ordered),
        "counts": counts,
        "next_cursor": end if end < len(matched) else None,
    }
