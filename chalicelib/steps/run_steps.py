"""Run-level steps: open the run, list its tenants, record a tenant's failure, close the run."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from chalicelib import store
from chalicelib.adapters.platform import get_platform_client
from chalicelib.adapters.redis_store import RunLocks
from chalicelib.db.engine import session_scope
from chalicelib.domain.models import (
    DAILY_STEPS,
    FailRunInput,
    RunRef,
    RunRequest,
    TenantFailureInput,
    TenantRef,
)
from chalicelib.domain.runs import final_status, tenants_for_run
from chalicelib.errors import InvalidInputError, LockUnavailableError, RunNotFoundError, StaleRunError
from chalicelib.observability import get_logger
from chalicelib.settings import get_settings
from chalicelib.steps.common import log_row, parse, parse_cause

FINAL_STEP = DAILY_STEPS[-1]


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


def _now() -> datetime:
    return datetime.now(UTC)


def start_run(event: Any) -> dict[str, Any]:
    data = parse(StartRunInput, event)
    with session_scope() as session:
        execution = store.start_execution(
            session, data.request, execution_name=data.execution_name, execution_arn=data.execution_arn
        )
        execution_id = str(execution.id)
        store.add_logs(session, execution_id, [log_row(
            "start_run", f"run {data.execution_name} started ({data.request.trigger}, scope {data.request.scope})",
            data={"run_date": data.request.run_date.isoformat(), "fencing_token": data.request.fencing_token},
        )])
    get_logger().info("run started", extra={"execution_name": data.execution_name})
    return RunRef(
        execution_id=execution_id,
        execution_name=data.execution_name,
        workflow_name=data.request.workflow_name,
        scope=data.request.scope,
        run_date=data.request.run_date,
        fencing_token=data.request.fencing_token,
        lock_key=data.request.lock_key,
        retry_of=data.request.retry_of,
    ).model_dump(mode="json")


def list_tenants(event: Any) -> dict[str, Any]:
    data = parse(ListTenantsInput, event)
    run, tenant_ids = data.run, data.request.tenant_ids
    all_tenants = get_platform_client().list_tenants()
    selected, skipped = tenants_for_run(all_tenants, scope=run.scope, tenant_ids=tenant_ids)
    with session_scope() as session:
        store.set_tenant_counts(
            session, run.execution_id, total=len(selected), skipped=len(skipped), steps_per_tenant=len(DAILY_STEPS)
        )
        store.add_logs(session, run.execution_id, [log_row(
            "list_tenants",
            f"{len(selected)} active tenants to process, {len(skipped)} skipped (not active)",
            data={"skipped": [{"id": t.id, "status": t.status} for t in skipped][:100]},
        )])
    refs = [
        TenantRef(id=t.id, name=t.name, subscription_tier=t.subscription_tier, timezone=t.timezone).model_dump()
        for t in selected
    ]
    # The tenant list goes to S3, not into the state: 10,000 tenants would break the 256 KiB state limit.
    bucket, key = write_manifest(run.execution_name, refs)
    return {"bucket": bucket, "key": key, "count": len(refs), "skipped": len(skipped),
            "max_concurrency": get_settings().map_max_concurrency}


def write_manifest(execution_name: str, tenants: list[dict[str, Any]]) -> tuple[str, str]:
    import boto3  # only this step needs it at run time (cold start of the others)

    bucket = get_settings().manifest_bucket
    if not bucket:
        raise InvalidInputError("MANIFEST_BUCKET is not set: the tenant manifest has nowhere to go")
    key = f"manifests/{execution_name}.json"
    body = json.dumps(tenants, separators=(",", ":")).encode()
    boto3.client("s3").put_object(Bucket=bucket, Key=key, Body=body, ContentType="application/json")
    return bucket, key


def record_tenant_failure(event: Any) -> dict[str, Any]:
    """Catch target: the tenant's pipeline failed after its retries. Blame the first unfinished step."""
    data = parse(TenantFailureInput, event)
    run, tenant = data.run, data.tenant
    error_type, message = parse_cause(data.error.Cause)
    error_type = error_type or data.error.Error
    with session_scope() as session:
        statuses = store.step_statuses(session, run.execution_id, tenant.id)
        failed_step = next(
            (s for s in DAILY_STEPS if statuses.get(s) == "failed"),
            next((s for s in DAILY_STEPS if statuses.get(s) != "completed"), FINAL_STEP),
        )
        store.record_step(
            session, run.execution_id, tenant.id, failed_step,
            status="failed", error_type=error_type, error_message=message,
            logs=[log_row(failed_step, f"tenant {tenant.name or tenant.id} failed at {failed_step}: {message}",
                          tenant_id=tenant.id, level="ERROR",
                          data={"error": data.error.Error, "error_type": error_type})],
        )
    return {"tenant_id": tenant.id, "failed_step": failed_step, "error": data.error.Error}


def _release(lock_key: str | None, token: str) -> None:
    if not lock_key:
        return
    try:
        RunLocks().release(lock_key, token)
    except LockUnavailableError as exc:
        # The lock's TTL frees it anyway; the run's outcome is already committed.
        get_logger().warning("run lock not released", extra={"lock_key": lock_key, "error": str(exc)})


def _alert(execution_id: str) -> None:
    """Failure alerts once the run is closed; an alert that cannot go out never fails the run."""
    from chalicelib.alerts import notify_run_closed

    try:
        notify_run_closed(execution_id)
    except Exception as exc:  # noqa: BLE001 - outcome and event are committed; alerts are best effort
        get_logger().error("alerts not sent", extra={"execution_id": execution_id, "error": str(exc)})


def finish_run(event: Any) -> dict[str, Any]:
    run = parse(RunOnlyInput, event).run
    now = _now()
    with session_scope() as session:
        execution = store.require_execution(session, run.execution_id)
        counters = store.progress(session, run.execution_id, final_step=FINAL_STEP)
        status = final_status(tenants_total=execution.tenants_total, tenants_failed=counters["tenants_failed"])
        failures = store.failed_tenants(session, run.execution_id) if counters["tenants_failed"] else []
        event_type = "workflow_failed" if status == "failed" else "workflow_completed"
        payload: dict[str, Any] = {
            "event_type": event_type,
            "workflow_name": run.workflow_name,
            "execution_id": run.execution_id,
            "tenants_processed": counters["tenants_processed"],
            "steps_completed": counters["steps_completed"],
            "steps_failed": counters["steps_failed"],
            "timestamp": now.isoformat(),
        }
        error_message = None
        if status == "failed":
            error_message = f"all {execution.tenants_total} tenants failed"
            payload["error_message"] = error_message
            payload["tenants_affected"] = sorted({f["tenant_id"] for f in failures})
        closed = store.close_execution(
            session, execution, status=status, counters=counters, error_message=error_message,
            event_type=event_type, event_payload=payload, now=now,
        )
        if closed:
            # The seed's cost tracking: what this run would cost on AWS, kept with the execution.
            execution.result = {**(execution.result or {}),
                                "cost": run_cost(store.cost_counts(session, run.execution_id))}
        store.add_logs(session, run.execution_id, [log_row(
            "finish_run", f"run {status}: {counters['tenants_processed']} tenants processed, "
            f"{counters['tenants_failed']} failed", level="INFO" if status == "completed" else "WARNING",
            data=counters,
        )])
        summary = store.execution_summary(execution)
    _release(run.lock_key, run.execution_name)
    if closed:
        _alert(summary["execution_id"])
    return summary


def run_cost(counts: dict[str, Any]) -> dict[str, Any]:
    """The estimate stored with an execution: totals and the per-tenant figure, in EUR and USD."""
    from chalicelib.costs import estimate_run_cost

    estimate = estimate_run_cost(counts)
    return {"eur_total": estimate["eur_total"], "eur_per_tenant": estimate["eur_per_tenant"],
            "usd_total": estimate["usd"]["total"], "usd": estimate["usd"], "billed": estimate["billed"]}


def fail_run(event: Any) -> dict[str, Any]:
    """Catch-all: the run itself broke (not one tenant). Record it failed and announce it."""
    data = parse(FailRunInput, event)
    error_type, message = parse_cause(data.error.Cause)
    error_message = f"{error_type or data.error.Error}: {message}"
    now = _now()
    request = RunRequest.model_validate(data.request) if data.request else None
    with session_scope() as session:
        execution = store.get_execution_by_name(session, data.execution_name)
        if execution is None:
            if request is None:
                raise RunNotFoundError(f"execution {data.execution_name} not found and no request to record it")
            # StartRun never got to write the row: write it now so the failure is not lost.
            execution = store.start_execution(session, request, execution_name=data.execution_name,
                                              execution_arn=None)
        counters = store.progress(session, str(execution.id), final_step=FINAL_STEP)
        failures = store.failed_tenants(session, str(execution.id))
        payload = {
            "event_type": "workflow_failed",
            "workflow_name": execution.workflow_name,
            "execution_id": str(execution.id),
            "tenants_processed": counters["tenants_processed"],
            "steps_completed": counters["steps_completed"],
            "steps_failed": counters["steps_failed"],
            "error_message": error_message,
            "tenants_affected": sorted({f["tenant_id"] for f in failures}),
            "timestamp": now.isoformat(),
        }
        try:
            closed = store.close_execution(
                session, execution, status="failed", counters=counters, error_message=error_message,
                event_type="workflow_failed", event_payload=payload, now=now,
            )
        except StaleRunError as exc:
            # A newer run took this run's lock over: end this one as superseded without touching what
            # belongs to the newer run (the workflow's last_* fields), so its row does not stay running.
            error_message = payload["error_message"] = f"superseded: {exc}"
            closed = store.close_execution(
                session, execution, status="failed", counters=counters, error_message=error_message,
                event_type="workflow_failed", event_payload=payload, now=now, superseded=True,
            )
        store.add_logs(session, str(execution.id), [log_row("fail_run", f"run failed: {error_message}",
                                                            level="ERROR", data={"error": data.error.Error})])
        summary = store.execution_summary(execution)
    _release(request.lock_key if request else None, data.execution_name)
    if closed:
        _alert(summary["execution_id"])
    return summary


