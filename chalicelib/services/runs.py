"""Run use cases shared by the dispatcher, the API and the run-level steps: start a run under its lock,
open it, close it (completed or failed) and what follows a close (release the lock, send the alerts).

A run is closed by exactly one of FinishRun, FailRun or the watchdog: `db.runs.close_execution` locks the
row and refuses a second close, so what follows a close happens once.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from chalicelib.adapters.locks import RunLocks
from chalicelib.adapters.stepfunctions import TERMINAL, Executions, execution_arn
from chalicelib.db import runs, steps
from chalicelib.db.engine import session_scope
from chalicelib.db.fences import register_fence
from chalicelib.db.logs import add_logs, log_row
from chalicelib.db.models import Execution
from chalicelib.domain.alerts import slow_run
from chalicelib.domain.constants import TERMINAL_STATUSES
from chalicelib.domain.costs import run_cost
from chalicelib.domain.models import RunRef, RunRequest, Trigger
from chalicelib.domain.runs import execution_name, final_status
from chalicelib.errors import InvalidInputError, LockUnavailableError, StaleRunError
from chalicelib.observability import get_logger
from chalicelib.services.scheduling import calendar_of, state_machine_for
from chalicelib.settings import get_settings


def state_machine_arn(workflow_name: str, steps: list[str] | None = None) -> str:
    """The workflow's state machine (see `state_machine_for`); InvalidInputError when none."""
    arn = state_machine_for(workflow_name, steps)
    if not arn:
        key = f"{workflow_name.upper()}_STATE_MACHINE_ARN"
        raise InvalidInputError(f"workflow_name: no state machine deployed for {workflow_name!r} ({key} unset)")
    return arn


def start_run(
    workflow_name: str,
    scope: str,
    run_date: date,
    *,
    trigger: Trigger = "scheduled",
    tenant_ids: list[str] | None = None,
    calendars: list[str] | None = None,
    triggered_by: str | None = None,
    dispatched_by: str | None = None,
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
    # The input is validated (and its bounds checked) before the lock is taken: a bad one holds nothing.
    unfenced = RunRequest(
        workflow_name=workflow_name,
        scope=scope,
        run_date=run_date,
        trigger=trigger,
        calendars=calendars,
        tenant_ids=tenant_ids,
        retry_of=retry_of,
        triggered_by=triggered_by,
        dispatched_by=dispatched_by or get_settings().instance,
    )
    with session_scope() as session:
        existing = runs.get_execution_by_name(session, name)
        if existing is not None and existing.status in TERMINAL_STATUSES:
            return {"scope": scope, "execution_name": name, "outcome": "already_done", "status": existing.status}
    locks = locks or RunLocks()
    lock_key = locks.key(workflow_name, scope)
    lock = locks.acquire(lock_key, name, get_settings().run_lock_ttl_seconds)
    if lock is None:
        holder = locks.holder(lock_key)
        return {
            "scope": scope,
            "execution_name": name,
            "outcome": "locked",
            "held_by": holder,
            "message": f"{workflow_name} for {scope} is already running as {holder} (its run lock is held); "
            f"{'this manual run was refused' if trigger == 'manual' else 'not started'} - "
            "try again after that run finishes",
        }
    if lock.fresh:
        # Fence off any older run of this workflow and scope before the new one can write.
        with session_scope() as session:
            register_fence(session, workflow_name, scope, lock.fencing_token, name)
    request = unfenced.model_copy(update={"fencing_token": lock.fencing_token, "lock_key": lock_key})
    # A redelivery (the lock already held under this name, same fencing number, same input) still calls
    # StartExecution, so a dispatcher that died after taking the lock cannot leave the run unstarted;
    # Step Functions treats the same name and input as the same execution. Only the fresh lock holder
    # reports "started", and only when the execution carries its fencing number: exactly one "started".
    executions = executions or Executions()
    result = executions.start(machine, name, request.model_dump(mode="json"))
    if result.already_existed:
        status, fence = _describe(executions, execution_arn(machine, name))
    else:
        status, fence = "RUNNING", lock.fencing_token
    if lock.fresh and fence == lock.fencing_token:
        get_logger().info("run started", extra={"execution_name": name, "fencing_token": lock.fencing_token})
        return {
            "scope": scope,
            "execution_name": name,
            "outcome": "started",
            "execution_arn": result.execution_arn or execution_arn(machine, name),
            "fencing_token": lock.fencing_token,
        }
    if lock.fresh and status != "RUNNING":
        # We took a free lock for a run that already happened under an earlier lock: give it back.
        locks.release(lock_key, name)
    if status in TERMINAL:
        return {"scope": scope, "execution_name": name, "outcome": "already_done", "status": status.lower()}
    return {"scope": scope, "execution_name": name, "outcome": "already_running"}


def _describe(executions: Executions, arn: str) -> tuple[str | None, int | None]:
    try:
        status, run_input = executions.status_and_input(arn)
    except Exception:  # noqa: BLE001 - an unreadable execution is reported as running, never as started
        return None, None
    return status, run_input.get("fencing_token")


def open_run(request: RunRequest, *, name: str, arn: str | None) -> RunRef:
    """The execution row and its first log line (a retried StartRun finds the row it wrote before)."""
    with session_scope() as session:
        execution = runs.start_execution(session, request, execution_name=name, execution_arn=arn)
        execution_id = str(execution.id)
        add_logs(
            session,
            execution_id,
            [
                log_row(
                    "start_run",
                    f"run {name} started ({request.trigger}, scope {request.scope})",
                    data={"run_date": request.run_date.isoformat(), "fencing_token": request.fencing_token},
                )
            ],
        )
    get_logger().info("run started", extra={"execution_name": name})
    return RunRef(
        execution_id=execution_id,
        execution_name=name,
        workflow_name=request.workflow_name,
        scope=request.scope,
        run_date=request.run_date,
        fencing_token=request.fencing_token,
        lock_key=request.lock_key,
        retry_of=request.retry_of,
    )


def finish_run(run: RunRef, *, now: datetime | None = None) -> dict[str, Any]:
    """Close a run whose tenants all went through: completed, completed_with_failures or failed (all
    tenants failed), with its event in the outbox and its cost estimate; then release and alert."""
    now = now or datetime.now(UTC)
    with session_scope() as session:
        execution = runs.require_execution(session, run.execution_id)
        counters = steps.progress(session, run.execution_id)
        status = final_status(tenants_total=execution.tenants_total, tenants_failed=counters["tenants_failed"])
        error_message = f"all {execution.tenants_total} tenants failed" if status == "failed" else None
        closed = runs.close_execution(
            session,
            execution,
            status=status,
            counters=counters,
            error_message=error_message,
            now=now,
            tenants_affected=counters["tenants_failed"],
        )
        if closed:
            # What this run would cost on AWS, and how its duration compares with the recent runs'.
            recent = runs.recent_durations(session, execution.workflow_name, execution.scope, before=execution)
            execution.result_summary = {
                **(execution.result_summary or {}),
                "cost": run_cost(steps.cost_counts(session, run.execution_id)),
                "warnings": steps.warnings_count(session, run.execution_id),
                "performance": slow_run(execution.duration_seconds, recent, get_settings().slow_run_factor),
            }
        add_logs(
            session,
            run.execution_id,
            [
                log_row(
                    "finish_run",
                    f"run {status}: {counters['tenants_processed']} tenants processed, "
                    f"{counters['tenants_failed']} failed",
                    level="INFO" if status == "completed" else "WARNING",
                    data=counters,
                )
            ],
        )
        summary = runs.execution_summary(execution)
    after_close(run.lock_key, run.execution_name, summary["execution_id"] if closed else None, run.workflow_name)
    return summary


def fail_run(
    session: Any,
    execution: Execution,
    *,
    error_message: str,
    now: datetime,
    log_step: str,
    log_data: dict[str, Any] | None = None,
    status: str = "failed",
) -> bool:
    """Close a run that broke (not one tenant) as failed (or `cancelled`), with its
    `orchestrator_workflow_failed` event, in the caller's transaction; False when it was closed already. A run whose lock a newer run took over ends failed as
    superseded without touching what belongs to the newer run (the workflow's last_* fields)."""
    execution_id = str(execution.id)
    counters = steps.progress(session, execution_id)

    def close(message: str, *, superseded: bool) -> bool:
        return runs.close_execution(
            session,
            execution,
            status=status,
            counters=counters,
            error_message=message,
            now=now,
            tenants_affected=counters["tenants_failed"],
            superseded=superseded,
        )

    try:
        closed = close(error_message, superseded=False)
    except StaleRunError as exc:
        error_message = f"superseded: {exc}"
        closed = close(error_message, superseded=True)
    if closed:
        add_logs(
            session, execution_id, [log_row(log_step, f"run {status}: {error_message}", level="ERROR", data=log_data)]
        )
    return closed


CANCEL_STEP = "cancel"


def cancel_run(execution_id: str, *, cancelled_by: str, reason: str | None = None) -> dict[str, Any]:
    """An operator's cancel: stop the Step Functions execution, close the run `cancelled` through the
    same close as FailRun and the watchdog (status, `orchestrator_workflow_failed` event with the reason and the log
    row naming who cancelled, in one transaction; a run closed meanwhile is not closed twice), record
    `result_summary["cancelled_by"]`, then release the run lock.

    Raises RunNotFoundError for an unknown execution and RunNotRunningError when it is not running.
    """
    from chalicelib.errors import RunNotFoundError, RunNotRunningError

    now = datetime.now(UTC)
    with session_scope() as session:
        try:
            execution = runs.require_execution(session, execution_id)
        except ValueError:
            raise RunNotFoundError(f"execution {execution_id} not found") from None
        if execution.status in TERMINAL_STATUSES:
            raise RunNotRunningError(
                f"execution {execution.execution_name} is {execution.status}: only a running run can be cancelled"
            )
        arn, name = execution.execution_arn, execution.execution_name
        workflow, scope = execution.workflow_name, execution.scope
    message = f"cancelled by {cancelled_by}" + (f": {reason}" if reason else "")
    stopped = False
    if arn:
        try:
            Executions().stop(arn, error="Cancelled", cause=message)
            stopped = True
        except Exception as exc:  # noqa: BLE001 - already ended or unknown there: the row is closed regardless
            get_logger().warning("execution not stopped", extra={"execution_arn": arn, "error": str(exc)})
    with session_scope() as session:
        execution = runs.require_execution(session, execution_id)
        closed = fail_run(
            session,
            execution,
            error_message=message,
            now=now,
            log_step=CANCEL_STEP,
            log_data={"cancelled_by": cancelled_by, "reason": reason, "state_machine_stopped": stopped},
            status="cancelled",
        )
        if not closed:
            raise RunNotRunningError(f"execution {name} is {execution.status}: it closed before the cancel")
        execution.result_summary = {**(execution.result_summary or {}), "cancelled_by": cancelled_by}
        summary = runs.execution_summary(execution)
    try:
        lock_key: str | None = RunLocks().key(workflow, scope)
    except LockUnavailableError:
        lock_key = None
    released = after_close(lock_key, name, execution_id, workflow)
    get_logger().warning("run cancelled", extra={"execution_name": name, "cancelled_by": cancelled_by})
    return {**summary, "cancelled_by": cancelled_by, "state_machine_stopped": stopped, "lock_released": released}


def after_close(
    lock_key: str | None, token: str, closed_execution_id: str | None, workflow_name: str | None = None
) -> bool:
    """Release the run lock (by its token) and, when this call closed the run, send its alerts and move the
    workflow's next_execution_at on.

    None of these may fail the run: its outcome and event are committed; a lock not released expires by
    its TTL, an alert that cannot go out is recorded in the run's logs, and the next run time is refreshed
    again by the next change or run. Returns whether the lock was released.
    """
    released = False
    if lock_key:
        try:
            released = RunLocks().release(lock_key, token)
        except LockUnavailableError as exc:
            get_logger().warning("run lock not released", extra={"lock_key": lock_key, "error": str(exc)})
    if closed_execution_id is not None:
        from chalicelib.services.alerts import notify_run_closed

        try:
            notify_run_closed(closed_execution_id)
        except Exception as exc:  # noqa: BLE001 - alerts are best effort once the run is closed
            get_logger().error("alerts not sent", extra={"execution_id": closed_execution_id, "error": str(exc)})
        if workflow_name is not None:
            from chalicelib.services.scheduling import refresh_next_execution

            try:
                refresh_next_execution(workflow_name)
            except Exception as exc:  # noqa: BLE001 - best effort, see above
                get_logger().warning("next run not refreshed", extra={"workflow": workflow_name, "error": str(exc)})
    if closed_execution_id is not None:
        from chalicelib.services.enterprise import forget_network_views

        forget_network_views(closed_execution_id)  # enterprise dashboards show the run's outcome at once
    return released


def list_run_tenants(run: RunRef, request: RunRequest) -> dict[str, Any]:
    """The run's active tenants, priority-sorted, written as the Distributed Map's S3 manifest (10,000
    tenants would break the 256 KiB state limit); the counts go on the execution row.

    The run covers the scope's tenants whose holiday calendar is in `request.calendars` (all when None),
    or the tenants it names; a retry that names none covers the tenants that failed in the retried run.
    """
    from chalicelib.adapters.manifests import write_manifest
    from chalicelib.adapters.platform import get_platform_client
    from chalicelib.domain.models import DAILY_STEPS, TenantRef
    from chalicelib.domain.runs import tenants_for_run

    settings = get_settings()
    if not settings.manifest_bucket:
        raise InvalidInputError("MANIFEST_BUCKET is not set: the tenant manifest has nowhere to go")
    tenant_ids = request.tenant_ids
    if tenant_ids is None and request.retry_of:
        with session_scope() as session:
            tenant_ids = sorted({f["tenant_id"] for f in steps.failed_tenants(session, request.retry_of)}) or None
    selected, skipped = tenants_for_run(
        get_platform_client().list_tenants(),
        scope=run.scope,
        tenant_ids=tenant_ids,
        calendars=request.calendars,
        calendar_of=lambda tenant: calendar_of(tenant, settings).key,
    )
    message = f"{len(selected)} active tenants to process, {len(skipped)} skipped (not active)"
    if request.calendars is not None:
        message += f"; only the holiday calendars running today: {', '.join(request.calendars)}"
    with session_scope() as session:
        runs.set_tenant_counts(
            session,
            run.execution_id,
            total=len(selected),
            skipped=len(skipped),
            steps_per_tenant=len(DAILY_STEPS),
            only_tenant=selected[0].id if len(selected) == 1 else None,
        )
        skipped_view = [{"id": t.id, "status": t.status} for t in skipped][:100]
        add_logs(
            session,
            run.execution_id,
            [log_row("list_tenants", message, data={"skipped": skipped_view, "calendars": request.calendars})],
        )
    refs = [
        TenantRef(id=t.id, name=t.name, subscription_tier=t.subscription_tier, timezone=t.timezone).model_dump()
        for t in selected
    ]
    key = f"manifests/{run.execution_name}.json"
    write_manifest(settings.manifest_bucket, key, refs)
    return {
        "bucket": settings.manifest_bucket,
        "key": key,
        "count": len(refs),
        "skipped": len(skipped),
        "max_concurrency": settings.map_max_concurrency,
    }


def record_tenant_failure(
    run: RunRef, tenant_id: str, tenant_name: str | None, *, error: str, error_type: str | None, message: str
) -> dict[str, Any]:
    """The tenant's pipeline failed after its retries: blame the first step without a completed row."""
    from chalicelib.domain.models import DAILY_STEPS, FINAL_STEP

    with session_scope() as session:
        statuses = steps.step_statuses(session, run.execution_id, tenant_id)
        failed_step = next(
            (s for s in DAILY_STEPS if statuses.get(s) == "failed"),
            next((s for s in DAILY_STEPS if statuses.get(s) != "completed"), FINAL_STEP),
        )
        steps.record_step(
            session,
            run.execution_id,
            tenant_id,
            failed_step,
            status="failed",
            error_type=error_type or error,
            error_message=message,
            logs=[
                log_row(
                    failed_step,
                    f"tenant {tenant_name or tenant_id} failed at {failed_step}: {message}",
                    tenant_id=tenant_id,
                    level="ERROR",
                    data={"error": error, "error_type": error_type or error},
                )
            ],
        )
    return {"tenant_id": tenant_id, "failed_step": failed_step, "error": error}


def fail_run_named(name: str, *, error: str, error_message: str, request: RunRequest | None) -> dict[str, Any]:
    """The run itself broke (the state machine's catch-all): record it failed and announce it. A run whose
    StartRun never wrote its row gets the row now, so the failure is not lost."""
    from chalicelib.errors import RunNotFoundError

    now = datetime.now(UTC)
    with session_scope() as session:
        execution = runs.get_execution_by_name(session, name)
        if execution is None:
            if request is None:
                raise RunNotFoundError(f"execution {name} not found and no request to record it")
            execution = runs.start_execution(session, request, execution_name=name, execution_arn=None)
        closed = fail_run(
            session, execution, error_message=error_message, now=now, log_step="fail_run", log_data={"error": error}
        )
        summary = runs.execution_summary(execution)
    after_close(
        request.lock_key if request else None,
        name,
        summary["execution_id"] if closed else None,
        summary["workflow_name"],
    )
    return summary
