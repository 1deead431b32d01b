"""What the write routes do: define and change workflows, trigger runs, retry from failure, set the schedule.

Each function takes parsed input, does one thing and returns a plain dict for the response model; it raises
`ApiError` for anything the caller should hear about (404, 409, 422, 503).
"""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from chalicelib.api.framework import ApiError, bad_request, conflict, not_found
from chalicelib.api.schemas import (
    ExecuteRequest,
    RetryRequest,
    ScheduleUpdate,
    WorkflowCreate,
    WorkflowUpdate,
)
from chalicelib.db import audit, readmodels
from chalicelib.db.engine import session_scope
from chalicelib.db.models import Execution, Workflow
from chalicelib.db.sql import aware
from chalicelib.db.workflows import all_workflows
from chalicelib.db.workflows import get_workflow as get_workflow_row
from chalicelib.settings import get_settings

RETRYABLE = ("failed", "completed_with_failures", "cancelled")
NON_NULLABLE = {
    "workflow_type",
    "cron_expression",
    "timezone",
    "enabled",
    "steps",
    "max_execution_time_seconds",
    "max_retries",
    "retry_delay_seconds",
    "holiday_policy",
    "catchup_policy",
    "catchup_window_seconds",
}
_RETRY_SUFFIX = re.compile(r"-retry(\d+)$")


def machine_for(workflow: Workflow) -> str | None:
    from chalicelib.services.scheduling import state_machine_for

    return state_machine_for(workflow.name, list(workflow.steps or []))


def reconcile_rules() -> dict[str, Any]:
    """EventBridge rules in line with the workflows table. The row is committed
    before; a failure here is reported in the response, never a 500 (the next reconcile fixes the rules)."""
    from chalicelib.services.scheduling import reconcile_rules as reconcile

    try:
        return {"status": "ok", **reconcile()}
    except Exception as exc:  # noqa: BLE001
        from chalicelib.observability import get_logger

        get_logger().warning("EventBridge rules not reconciled", extra={"error": str(exc)})
        return {"status": "failed", "error": f"{type(exc).__name__}: {exc}"}


def _check_definition(workflow: Workflow | None, changes: dict[str, Any]) -> None:
    """Cross-field rules of the schedule (cron + holiday policy + weekend cron), as the scheduler reads them."""
    from chalicelib.domain.workflows import validate_definition

    merged = (
        {k: getattr(workflow, k) for k in ("cron_expression", "holiday_policy", "weekend_cron")}
        if workflow is not None
        else {}
    )
    merged.update({k: v for k, v in changes.items() if k not in ("name", "description", "enabled", "steps")})
    try:
        validate_definition(merged)
    except ValueError as exc:
        field, _, _rest = str(exc).partition(":")
        raise bad_request(str(exc), field if field in merged else None, "validation_error") from None


def workflow_view(w: Workflow) -> dict[str, Any]:
    return {
        "id": str(w.id),
        "name": w.name,
        "description": w.description,
        "workflow_type": w.workflow_type,
        "cron_expression": w.cron_expression,
        "timezone": w.timezone,
        "enabled": w.enabled,
        "steps": list(w.steps or []),
        "max_execution_time_seconds": w.max_execution_time_seconds,
        "max_retries": w.max_retries,
        "retry_delay_seconds": w.retry_delay_seconds,
        "holiday_policy": w.holiday_policy,
        "weekend_cron": w.weekend_cron,
        "catchup_policy": w.catchup_policy,
        "catchup_window_seconds": w.catchup_window_seconds,
        "deployed": machine_for(w) is not None,
        "last_execution_id": str(w.last_execution_id) if w.last_execution_id else None,
        "last_execution_at": aware(w.last_execution_at),
        "last_status": w.last_status,
        "last_duration_seconds": w.last_duration_seconds,
        "consecutive_failures": w.consecutive_failures,
        "total_executions": w.total_executions,
        "successful_executions": w.successful_executions,
        "failed_executions": w.failed_executions,
        "last_success_at": aware(w.last_success_at),
        "last_failure_at": aware(w.last_failure_at),
        "next_execution_at": aware(w.next_execution_at),
        "created_at": aware(w.created_at),
        "updated_at": aware(w.updated_at),
    }


def find_workflow(session: Session, ident: str) -> Workflow:
    """By id (UUID) or by name."""
    workflow = None
    if len(ident) <= 100:
        try:
            workflow = session.get(Workflow, uuid.UUID(ident))
        except ValueError:
            workflow = get_workflow_row(session, ident)
    if workflow is None:
        raise not_found("workflow", ident, "workflow_id")
    return workflow


def list_workflows() -> dict[str, Any]:
    with session_scope() as session:
        items = [workflow_view(w) for w in all_workflows(session)]
    return {"workflows": items, "count": len(items)}


def get_workflow(ident: str) -> dict[str, Any]:
    with session_scope() as session:
        return workflow_view(find_workflow(session, ident))


def _changes(body: WorkflowUpdate | Any) -> dict[str, Any]:
    changes = {name: getattr(body, name) for name in body.model_fields_set}
    for name, value in changes.items():
        if value is None and name in NON_NULLABLE:
            raise bad_request(
                f"{name}: may not be null (leave it out to keep the current value)", name, "validation_error"
            )
    return changes


def _actor(principal: Any) -> str:
    return str(getattr(principal, "subject", None) or "unknown")


def create_workflow(body: WorkflowCreate, principal: Any = None) -> dict[str, Any]:
    values = dict(_changes(body))
    values.setdefault("timezone", body.timezone)
    _check_definition(None, values)
    with session_scope() as session:
        if get_workflow_row(session, body.name) is not None:
            raise conflict("already_exists", f"workflow {body.name} already exists", "name")
        workflow = Workflow(**values)
        session.add(workflow)
        session.flush()
        view = workflow_view(workflow)
        audit.record(
            session,
            actor=_actor(principal),
            action="create",
            target_type="workflow",
            target=workflow.name,
            after=values,
        )
    reconcile_rules()
    return get_workflow(view["id"])  # as the reconcile left it (next_execution_at)


def update_workflow(ident: str, body: WorkflowUpdate, principal: Any = None) -> dict[str, Any]:
    changes = _changes(body)
    with session_scope() as session:
        workflow = find_workflow(session, ident)
        if "steps" in changes and list(changes["steps"]) != list(workflow.steps or []):
            # The steps are the state machine's: changing them here would detach the row from what runs.
            raise ApiError(
                422,
                "read_only",
                f"steps: read-only; {workflow.name} runs the steps of its state machine "
                f"({', '.join(workflow.steps or [])})",
                "steps",
            )
        _check_definition(workflow, changes)
        before = {name: getattr(workflow, name) for name in changes}
        for name, value in changes.items():
            setattr(workflow, name, value)
        if changes:
            workflow.updated_at = datetime.now(UTC)
            audit.record(
                session,
                actor=_actor(principal),
                action="update",
                target_type="workflow",
                target=workflow.name,
                before=before,
                after=changes,
            )
        session.flush()
        view = workflow_view(workflow)
    if {"cron_expression", "timezone", "enabled", "weekend_cron", "holiday_policy", "steps"} & set(changes):
        reconcile_rules()
        view = get_workflow(view["id"])  # as the reconcile left it (next_execution_at)
    if {"max_retries", "retry_delay_seconds"} & set(changes):
        view["retry_policy"] = apply_retry_policy(view["name"])
    return view


def apply_retry_policy(workflow_name: str) -> dict[str, Any]:
    """The row's retry policy into its state machine; a failure is reported, never a 500 (the row is
    committed and the next change or deploy applies it)."""
    from chalicelib.services.workflows import apply_retry_policy as apply

    try:
        return apply(workflow_name)
    except Exception as exc:  # noqa: BLE001 - reported in the response and logged
        from chalicelib.observability import get_logger

        get_logger().warning("retry policy not applied", extra={"workflow": workflow_name, "error": str(exc)})
        return {"status": "failed", "error": f"{type(exc).__name__}: {exc}"}


def set_enabled(ident: str, enabled: bool, principal: Any = None) -> dict[str, Any]:
    """Idempotent: enabling an enabled workflow is fine."""
    with session_scope() as session:
        workflow = find_workflow(session, ident)
        changed = workflow.enabled != enabled
        if changed:
            audit.record(
                session,
                actor=_actor(principal),
                action="enable" if enabled else "disable",
                target_type="workflow",
                target=workflow.name,
                before={"enabled": workflow.enabled},
                after={"enabled": enabled},
            )
        workflow.enabled = enabled
        session.flush()
        view = workflow_view(workflow)
    if changed:
        reconcile_rules()
        view = get_workflow(view["id"])  # as the reconcile left it (next_execution_at)
    return view


# --- runs ---------------------------------------------------------------------------------------------------
def _tenants_by_id() -> dict[str, Any]:
    from chalicelib.adapters.platform import get_platform_client

    try:
        return {t.id: t for t in get_platform_client().list_tenants()}
    except Exception as exc:  # noqa: BLE001 - the tenant service is a dependency, not bad input
        raise ApiError(503, "dependency_unavailable", f"tenant service: {type(exc).__name__}: {exc}") from None


def _start(workflow_name: str, scope: str, run_date: Any, **kwargs: Any) -> dict[str, Any]:
    """`dispatch.start_run`, refusing first a run whose own name holds the lock (this very run is in
    progress: start_run would re-submit the same name and input, which Step Functions answers as a
    fresh start)."""
    from chalicelib.adapters.locks import RunLocks
    from chalicelib.domain.runs import execution_name
    from chalicelib.errors import LockUnavailableError
    from chalicelib.services.runs import start_run

    try:
        name = execution_name(workflow_name, scope, run_date, kwargs.get("name_suffix"))
        locks = RunLocks()
        if locks.holder(locks.key(workflow_name, scope)) == name:
            return {"scope": scope, "execution_name": name, "outcome": "already_running"}
        return start_run(
            workflow_name, scope, run_date, locks=locks, dispatched_by=f"api:{get_settings().instance}", **kwargs
        )
    except LockUnavailableError as exc:
        raise ApiError(503, "dependency_unavailable", str(exc)) from None


def _audit_runs(principal: Any, action: str, target_type: str, target: str, after: dict[str, Any]) -> None:
    with session_scope() as session:
        audit.record(
            session, actor=_actor(principal), action=action, target_type=target_type, target=target, after=after
        )


def list_audit(*, limit: int, after: int | None, target: str | None, action: str | None) -> dict[str, Any]:
    with session_scope() as session:
        items = audit.entries(session, limit=limit, after=after, target=target, action=action)
    return {"entries": items, "count": len(items), "next_cursor": items[-1]["id"] if len(items) == limit else None}


def _active_scopes(default_zone: str) -> list[str]:
    """The timezones of the active tenants (the workflow's own zone when there is none)."""
    from chalicelib.services.scheduling import scopes_of

    return list(scopes_of(_tenants_by_id().values(), fallback_zone=default_zone))


def _manual_suffix(workflow_name: str, scope: str, run_date: Any) -> str:
    """`manual` for the day's first manual run of a scope, then `manual-2`, `manual-3`, ..."""
    from chalicelib.domain.runs import execution_name

    base = execution_name(workflow_name, scope, run_date, "manual")
    with session_scope() as session:
        names = set(session.scalars(select(Execution.execution_name).where(Execution.execution_name.like(f"{base}%"))))
    if base not in names:
        return "manual"
    taken = [int(n[len(base) + 1 :]) for n in names if n[len(base) + 1 :].isdigit() and n[len(base)] == "-"]
    return f"manual-{max(taken, default=1) + 1}"


def _local_today(scope: str) -> Any:
    from chalicelib.domain.schedule import local_date

    return local_date(scope, datetime.now(UTC))


def execute(ident: str, body: ExecuteRequest, principal: Any = None) -> dict[str, Any]:
    """Manual trigger: the same dispatch, naming (`-manual`, then `-manual-2`, ... the same day) and run lock
    as the schedule. Without tenant_ids or scope, every scope's active tenants: one execution per scope."""
    with session_scope() as session:
        workflow = find_workflow(session, ident)
        name, enabled, default_tz = workflow.name, workflow.enabled, workflow.timezone
        machine = machine_for(workflow)
    if not enabled:
        raise conflict("workflow_disabled", f"workflow {name} is disabled; enable it first", "workflow_id")
    if machine is None:
        raise conflict("not_deployed", f"no state machine is deployed for workflow {name}", "workflow_id")
    tenant_ids = sorted(set(body.tenant_ids)) if body.tenant_ids is not None else None
    scopes: dict[str, list[str] | None]
    if tenant_ids is not None:
        known = _tenants_by_id()
        unknown = [t for t in tenant_ids if t not in known]
        if unknown:
            raise ApiError(
                422, "unknown_tenant", f"tenant_ids: unknown tenants {', '.join(unknown[:10])}", "tenant_ids"
            )
        scopes = {}
        for tenant_id in tenant_ids:
            tz = known[tenant_id].timezone
            if body.scope is not None and tz != body.scope:
                raise ApiError(
                    422,
                    "tenant_not_in_scope",
                    f"tenant_ids: tenant {tenant_id} is in {tz}, not in scope {body.scope}",
                    "tenant_ids",
                )
            scopes.setdefault(tz, []).append(tenant_id)  # type: ignore[union-attr]
    elif body.scope is not None:
        scopes = {body.scope: None}
    else:
        scopes = dict.fromkeys(_active_scopes(default_tz))
    runs = []
    for scope, ids in sorted(scopes.items()):
        run_date = body.run_date or _local_today(scope)
        try:
            suffix = _manual_suffix(name, scope, run_date)
            runs.append(
                _start(
                    name,
                    scope,
                    run_date,
                    trigger="manual",
                    tenant_ids=ids,
                    name_suffix=suffix,
                    state_machine=machine,
                    triggered_by=getattr(principal, "subject", None),
                )
            )
        except ValueError as exc:
            raise bad_request(str(exc), "run_date") from None
    if not any(r["outcome"] == "started" for r in runs):
        first = runs[0]
        if first["outcome"] == "already_done":
            raise conflict(
                "already_done",
                f"{first['execution_name']} already ran ({first.get('status')}); retry it from failure instead",
                "run_date",
            )
        raise conflict(
            "already_running",
            f"{first['execution_name']}: a run of {name} in {first['scope']} is "
            f"in progress ({first['outcome']}, held by {first.get('held_by') or first['execution_name']})",
        )
    _audit_runs(principal, "execute", "workflow", name, {"runs": runs, "tenant_ids": tenant_ids, "scope": body.scope})
    return {"workflow_name": name, "runs": runs}


def _retry_suffix(session: Session, original: dict[str, Any]) -> str:
    """Retries are named after the original: `<original name>-retry<N>`, N one more than any before (a
    retry of a retry counts on from the same original name)."""
    from chalicelib.domain.runs import execution_name

    base = _RETRY_SUFFIX.sub("", original["execution_name"])
    plain = execution_name(original["workflow_name"], original["scope"], original["run_date"])
    own_suffix = base[len(plain) + 1 :] if base.startswith(plain + "-") else ""
    names = session.scalars(select(Execution.execution_name).where(Execution.execution_name.like(f"{base}-retry%")))
    numbers = [int(m.group(1)) for n in names if (m := _RETRY_SUFFIX.search(n)) and n[: m.start()] == base]
    retry = f"retry{max(numbers, default=0) + 1}"
    return f"{own_suffix}-{retry}" if own_suffix else retry


def retry(execution_id: str, principal: Any, body: RetryRequest) -> dict[str, Any]:
    """A new execution over the failed tenants only, reusing the steps they completed; the original stays."""
    from chalicelib.api.auth import forbidden

    scope_tenant = principal.tenant_scope
    with session_scope() as session:
        try:
            original = readmodels.execution_for_retry(session, execution_id, tenant_scope=scope_tenant)
        except LookupError:
            raise not_found("execution", execution_id, "execution_id") from None
        if principal.role == "tenant_user":
            exc = forbidden("retrying needs role platform_admin or tenant_admin")
            raise ApiError(exc.status, exc.code, exc.message)
        if original["status"] not in RETRYABLE:
            code = "execution_running" if original["status"] in ("running", "pending") else "nothing_to_retry"
            raise conflict(
                code,
                f"execution {original['execution_name']} is {original['status']}: "
                f"only {', '.join(RETRYABLE)} executions can be retried",
                "execution_id",
            )
        failed = original["failed_tenants"]
        named: list[str] | None = None  # tenants the retry names in its input (bounded); else ListTenants finds them
        if scope_tenant is not None:
            if failed and scope_tenant not in failed:
                raise conflict(
                    "nothing_to_retry",
                    f"tenant {scope_tenant} did not fail in {original['execution_name']}",
                    "execution_id",
                )
            failed = named = [scope_tenant]
        if body.tenant_ids is not None:
            outside = sorted(set(body.tenant_ids) - set(failed)) if failed else []
            if outside:
                raise ApiError(
                    422,
                    "tenant_not_failed",
                    f"tenant_ids: these tenants did not fail in "
                    f"{original['execution_name']}: {', '.join(outside[:10])}",
                    "tenant_ids",
                )
            failed = named = sorted(set(body.tenant_ids))
        suffix = _retry_suffix(session, original)
    # No failed tenant recorded (the run itself broke before the tenants): re-run all of its tenants.
    tenant_ids = failed or None
    outcome = _start(
        original["workflow_name"],
        original["scope"],
        original["run_date"],
        trigger="retry",
        tenant_ids=named,
        triggered_by=getattr(principal, "subject", None),
        name_suffix=suffix,
        retry_of=original["id"],
    )
    if outcome["outcome"] != "started":
        raise conflict(
            "already_running",
            f"{outcome['execution_name']}: a run of {original['workflow_name']} in "
            f"{original['scope']} is in progress ({outcome['outcome']})",
        )
    _audit_runs(
        principal,
        "retry",
        "execution",
        original["id"],
        {"execution_name": outcome["execution_name"], "tenant_ids": named},
    )
    return {
        "retry_of": original["id"],
        "execution_name": outcome["execution_name"],
        "outcome": outcome["outcome"],
        "execution_arn": outcome.get("execution_arn"),
        "tenant_ids": tenant_ids,
    }


# --- schedule -----------------------------------------------------------------------------------------------
def _scope_views(workflow_name: str, scope: str | None, after: datetime) -> list[dict[str, Any]]:
    """The next run, one entry per scope (holidays and weekends applied)."""
    from chalicelib.errors import InvalidInputError
    from chalicelib.services.scheduling import next_run

    try:
        found = next_run(workflow_name, scope=scope, after=after)
    except InvalidInputError as exc:
        field = str(exc).partition(":")[0]
        raise bad_request(str(exc), {"workflow_name": "workflow"}.get(field, field)) from None
    return [
        {
            "workflow_name": workflow_name,
            **{k: v for k, v in entry.items() if k != "calendars"},
            "calendars": entry.get("calendars", []),
        }
        for entry in found["scopes"]
    ]


def _entry(workflow: Workflow, after: datetime) -> dict[str, Any]:
    nexts = _scope_views(workflow.name, None, after)
    return {
        "workflow_name": workflow.name,
        "cron_expression": workflow.cron_expression,
        "timezone": workflow.timezone,
        "enabled": workflow.enabled,
        "holiday_policy": workflow.holiday_policy,
        "weekend_cron": workflow.weekend_cron,
        "catchup_policy": workflow.catchup_policy,
        "deployed": machine_for(workflow) is not None,
        "scopes": [n["scope"] for n in nexts],
        "next_runs": nexts,
    }


def schedule(after: datetime | None = None) -> dict[str, Any]:
    after = after or datetime.now(UTC)
    with session_scope() as session:
        rows = all_workflows(session)
    return {"workflows": [_entry(w, after) for w in rows], "rules": None}


def update_schedule(body: ScheduleUpdate, principal: Any = None) -> dict[str, Any]:
    """All changes validated first, then written in one transaction; then the rules are reconciled."""
    names = [c.workflow_name for c in body.workflows]
    if len(set(names)) != len(names):
        raise bad_request("workflows: each workflow may appear once", "workflows", "validation_error")
    with session_scope() as session:
        for index, change in enumerate(body.workflows):
            workflow = get_workflow_row(session, change.workflow_name)
            if workflow is None:
                raise not_found("workflow", change.workflow_name, f"workflows.{index}.workflow_name")
            changes = {k: v for k, v in _changes(change).items() if k != "workflow_name"}
            try:
                _check_definition(workflow, changes)
            except ApiError as exc:
                exc.field = f"workflows.{index}.{exc.field}" if exc.field else f"workflows.{index}"
                raise
            audit.record(
                session,
                actor=_actor(principal),
                action="schedule",
                target_type="workflow",
                target=workflow.name,
                before={name: getattr(workflow, name) for name in changes},
                after=changes,
            )
            for name, value in changes.items():
                setattr(workflow, name, value)
            workflow.updated_at = datetime.now(UTC)
        session.flush()
    rules = reconcile_rules()
    view = schedule()
    view["rules"] = rules
    return view


def next_runs(*, workflow: str | None, scope: str | None, after: datetime | None) -> dict[str, Any]:
    after = after or datetime.now(UTC)
    with session_scope() as session:
        if workflow is not None:
            if get_workflow_row(session, workflow) is None:
                raise not_found("workflow", workflow, "workflow")
            names = [workflow]
        else:
            names = [w.name for w in all_workflows(session)]
    return {"next_runs": [view for name in names for view in _scope_views(name, scope, after)]}
