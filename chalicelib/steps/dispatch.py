"""The dispatch Lambda: an EventBridge firing -> the runs that are due, each started exactly once.

EventBridge rules fire in UTC and deliver at least once. For every timezone scope this decides by the
scope's local clock whether the workflow is due, then starts the execution under its deterministic name
while holding the scope's Redis run lock. Duplicate or concurrent dispatches of one instant are harmless:
the lock refuses the second, Step Functions refuses the same name, and a run already recorded is done.
"""

from __future__ import annotations

import os
from datetime import UTC
from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from chalicelib import store
from chalicelib.adapters.platform import get_platform_client
from chalicelib.adapters.redis_store import RunLocks
from chalicelib.adapters.stepfunctions import Executions
from chalicelib.db.engine import session_scope
from chalicelib.domain.models import RunRequest, Trigger
from chalicelib.domain.runs import execution_name
from chalicelib.domain.schedule import is_due, local_date
from chalicelib.errors import InvalidInputError
from chalicelib.observability import get_logger
from chalicelib.settings import get_settings
from chalicelib.steps.common import parse


class DispatchInput(BaseModel):
    model_config = ConfigDict(extra="ignore")

    workflow_name: str = Field(min_length=1, max_length=100)
    time: AwareDatetime
    event_id: str | None = None
    trigger: Trigger = "scheduled"


def state_machine_arn(workflow_name: str) -> str:
    """`daily_operations` -> env DAILY_OPERATIONS_STATE_MACHINE_ARN (set by the template or local deploy)."""
    key = f"{workflow_name.upper()}_STATE_MACHINE_ARN"
    arn = os.environ.get(key, "")
    if not arn:
        raise InvalidInputError(f"workflow_name: no state machine deployed for {workflow_name!r} ({key} unset)")
    return arn


def start_run(
    workflow_name: str,
    scope: str,
    run_date: Any,
    *,
    trigger: Trigger = "scheduled",
    tenant_ids: list[str] | None = None,
    name_suffix: str | None = None,
    locks: RunLocks | None = None,
    executions: Executions | None = None,
) -> dict[str, Any]:
    """Start one run under the scope's lock. Outcome: started | already_done | already_running | locked."""
    name = execution_name(workflow_name, scope, run_date, name_suffix)
    with session_scope() as session:
        existing = store.get_execution_by_name(session, name)
        if existing is not None and existing.status in store.TERMINAL_STATUSES:
            return {"scope": scope, "execution_name": name, "outcome": "already_done", "status": existing.status}
    locks = locks or RunLocks()
    lock_key = locks.key(workflow_name, scope)
    lock = locks.acquire(lock_key, name, get_settings().run_lock_ttl_seconds)
    if lock is None:
        return {"scope": scope, "execution_name": name, "outcome": "locked", "held_by": locks.holder(lock_key)}
    request = RunRequest(
        workflow_name=workflow_name, scope=scope, run_date=run_date, trigger=trigger,
        tenant_ids=tenant_ids, fencing_token=lock.fencing_token, lock_key=lock_key,
    )
    # A redelivery (the lock already held under this name) still calls StartExecution, which is
    # idempotent for the same name and input, so a dispatcher that died after taking the lock cannot
    # leave the run unstarted; only the fresh lock holder reports "started".
    result = (executions or Executions()).start(
        state_machine_arn(workflow_name), name, request.model_dump(mode="json")
    )
    if result.already_existed or not lock.fresh:
        if result.already_existed and lock.fresh:
            # We took a free lock for a run that already happened: give it back.
            locks.release(lock_key, name)
        return {"scope": scope, "execution_name": name, "outcome": "already_running"}
    get_logger().info("run started", extra={"execution_name": name, "fencing_token": lock.fencing_token})
    return {"scope": scope, "execution_name": name, "outcome": "started", "execution_arn": result.execution_arn,
            "fencing_token": lock.fencing_token}


def dispatch(event: Any) -> dict[str, Any]:
    data = parse(DispatchInput, event)
    at = data.time.astimezone(UTC)
    with session_scope() as session:
        workflow = store.get_workflow(session, data.workflow_name)
        if workflow is None:
            raise InvalidInputError(f"workflow_name: unknown workflow {data.workflow_name!r}")
        cron, enabled, default_tz = workflow.cron_expression, workflow.enabled, workflow.timezone
    if not enabled:
        return {"workflow_name": data.workflow_name, "time": at.isoformat(), "disabled": True, "runs": [],
                "not_due": []}
    scopes = sorted({t.timezone for t in get_platform_client().list_tenants() if t.status == "active"} or
                    {default_tz})
    runs, not_due = [], []
    for scope in scopes:
        if not is_due(cron, scope, at):
            not_due.append(scope)
            continue
        runs.append(start_run(data.workflow_name, scope, local_date(scope, at), trigger=data.trigger))
    return {"workflow_name": data.workflow_name, "time": at.isoformat(), "event_id": data.event_id,
            "runs": runs, "not_due": not_due}


