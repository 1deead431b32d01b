"""The operator routes, mounted at /api/v1/orchestrator. Each handler: parsed input -> one function -> model.

Auth: `public` (no token), `admin` (platform_admin), `any` (any valid token; tenant callers see only their
own tenant's executions and logs, and get 404 for anyone else's).
"""

from __future__ import annotations

import uuid
from typing import Any

from chalice import Blueprint, Response

from chalicelib.api import schemas as s
from chalicelib.api.framework import ApiError, Call, Text, bad_request, error, not_found, operation

api = Blueprint(__name__)
docs = Blueprint(__name__ + ".docs")


def _uuid(value: str, field: str = "execution_id") -> str:
    try:
        return str(uuid.UUID(value))
    except ValueError:
        raise bad_request(f"{field} must be a UUID", field) from None


def _session() -> Any:
    from chalicelib.db.engine import session_scope

    return session_scope()


# --- health & monitoring ------------------------------------------------------------------------------------
@operation(
    api,
    "/health",
    summary="Health of the database, Redis, Step Functions and RabbitMQ",
    auth="public",
    response=s.Health,
    tags=("monitoring",),
    also={503: s.Health},
)
def health(call: Call[None, None]) -> Response:
    from chalicelib.api.health import health as check

    status, body = check()
    return Response(
        status_code=status,
        body=s.Health.model_validate(body).model_dump(mode="json"),
        headers={"Content-Type": "application/json"},
    )


@operation(
    api,
    "/leader",
    summary="Current dispatch-lock holder and the run locks held",
    response=s.LeaderView,
    tags=("monitoring",),
    errors=(401, 403, 503),
)
def get_leader(call: Call[None, None]) -> s.LeaderView:
    from chalicelib.api.health import leader
    from chalicelib.errors import LockUnavailableError

    try:
        return s.LeaderView.model_validate(leader())
    except LockUnavailableError as exc:
        raise ApiError(503, "dependency_unavailable", str(exc)) from None


@operation(
    api,
    "/metrics",
    summary="Prometheus text exposition, built at scrape time from the records",
    auth="scrape",
    response="text/plain",
    tags=("monitoring",),
    errors=(401, 403),
)
def get_metrics(call: Call[None, None]) -> Text:
    from chalicelib.api.metrics import exposition

    return Text(exposition())


@operation(
    api,
    "/statistics",
    summary="Success rate, duration p50/p95/max and retries per workflow and day",
    query=s.StatisticsQuery,
    response=s.StatisticsView,
    tags=("monitoring",),
    errors=(400, 401, 403),
)
def get_statistics(call: Call[s.StatisticsQuery, None]) -> s.StatisticsView:
    from chalicelib.db.readmodels import statistics

    with _session() as session:
        return s.StatisticsView.model_validate(statistics(session, workflow=call.query.workflow, days=call.query.days))


@operation(
    api,
    "/audit",
    summary="Who changed which workflow or schedule, and who ran, retried or cancelled what (newest first)",
    query=s.AuditQuery,
    response=s.AuditPage,
    tags=("monitoring",),
    errors=(400, 401, 403),
)
def get_audit(call: Call[s.AuditQuery, None]) -> s.AuditPage:
    from chalicelib.api.commands import list_audit

    q = call.query
    return s.AuditPage.model_validate(list_audit(limit=q.limit, after=q.after, target=q.target, action=q.action))


# --- executions ---------------------------------------------------------------------------------------------
def _page(call: Call[Any, None], *, failed_only: bool) -> s.ExecutionPage:
    from chalicelib.db.readmodels import list_executions

    q = call.query
    if q.date_from and q.date_to and q.date_from > q.date_to:
        raise bad_request("date_from must not be after date_to", "date_from")
    try:
        with _session() as session:
            page = list_executions(
                session,
                tenant_scope=call.principal.tenant_scope,
                workflow=q.workflow,
                status=getattr(q, "status", None),
                tenant_id=q.tenant_id,
                date_from=q.date_from,
                date_to=q.date_to,
                failed_only=failed_only,
                limit=q.limit,
                cursor=q.cursor,
            )
    except ValueError as exc:
        raise bad_request(str(exc), "cursor") from None
    return s.ExecutionPage.model_validate(page)


@operation(
    api,
    "/executions",
    summary="Executions, newest first (filters, cursor pagination)",
    auth="any",
    query=s.ExecutionsQuery,
    response=s.ExecutionPage,
    tags=("executions",),
    errors=(400, 401),
)
def list_executions(call: Call[s.ExecutionsQuery, None]) -> s.ExecutionPage:
    return _page(call, failed_only=False)


@operation(
    api,
    "/executions/failed",
    summary="Executions with failures (for a tenant: where it failed)",
    auth="any",
    query=s.FailedQuery,
    response=s.ExecutionPage,
    tags=("executions",),
    errors=(400, 401),
)
def list_failed_executions(call: Call[s.FailedQuery, None]) -> s.ExecutionPage:
    return _page(call, failed_only=True)


@operation(
    api,
    "/executions/{execution_id}",
    summary="An execution with per-step and per-tenant progress",
    auth="any",
    query=s.DetailQuery,
    response=s.ExecutionDetail,
    tags=("executions",),
    errors=(400, 401, 404),
)
def get_execution(call: Call[s.DetailQuery, None], execution_id: str) -> s.ExecutionDetail:
    from chalicelib.db.readmodels import execution_detail

    ident = _uuid(execution_id)
    try:
        with _session() as session:
            detail = execution_detail(
                session,
                ident,
                tenant_scope=call.principal.tenant_scope,
                tenant_limit=call.query.tenant_limit,
                tenant_after=call.query.tenant_after,
            )
    except LookupError:
        raise not_found("execution", execution_id, "execution_id") from None
    return s.ExecutionDetail.model_validate(detail)


@operation(
    api,
    "/executions/{execution_id}/logs",
    summary="An execution's logs (paged; tenant/step/level)",
    auth="any",
    query=s.LogsQuery,
    response=s.LogPage,
    tags=("executions",),
    errors=(400, 401, 404),
)
def get_execution_logs(call: Call[s.LogsQuery, None], execution_id: str) -> s.LogPage:
    from chalicelib.db.readmodels import execution_logs

    ident, q = _uuid(execution_id), call.query
    try:
        with _session() as session:
            page = execution_logs(
                session,
                ident,
                tenant_scope=call.principal.tenant_scope,
                tenant_id=q.tenant_id,
                step_name=q.step_name,
                level=q.level,
                limit=q.limit,
                after=q.after,
            )
    except LookupError:
        raise not_found("execution", execution_id, "execution_id") from None
    return s.LogPage.model_validate(page)


@operation(
    api,
    "/executions/{execution_id}/retry",
    "POST",
    auth="any",
    body=s.RetryRequest,
    body_optional=True,
    summary="Retry from failure: a new execution over only the failed tenants and steps",
    response=s.RetryResult,
    status=202,
    tags=("executions",),
    errors=(400, 401, 403, 404, 409, 422, 503),
)
def retry_execution(call: Call[None, s.RetryRequest], execution_id: str) -> s.RetryResult:
    from chalicelib.api.commands import retry

    return s.RetryResult.model_validate(retry(_uuid(execution_id), call.principal, call.body))


# --- workflows ----------------------------------------------------------------------------------------------
def _workflow_id(value: str) -> str:
    if not value or len(value) > 100:
        raise bad_request("workflow_id must be a workflow id or name of at most 100 characters", "workflow_id")
    return value


@operation(api, "/workflows", summary="All workflows", response=s.WorkflowList, tags=("workflows",), errors=(401, 403))
def list_workflows(call: Call[None, None]) -> s.WorkflowList:
    from chalicelib.api.commands import list_workflows as run

    return s.WorkflowList.model_validate(run())


@operation(
    api,
    "/workflows",
    "POST",
    summary="Define a new workflow",
    body=s.WorkflowCreate,
    response=s.WorkflowView,
    status=201,
    tags=("workflows",),
    errors=(400, 401, 403, 409),
)
def create_workflow(call: Call[None, s.WorkflowCreate]) -> s.WorkflowView:
    from chalicelib.api.commands import create_workflow as run

    return s.WorkflowView.model_validate(run(call.body, call.principal))


@operation(
    api,
    "/workflows/{workflow_id}",
    summary="One workflow (by id or name)",
    response=s.WorkflowView,
    tags=("workflows",),
    errors=(400, 401, 403, 404),
)
def get_workflow(call: Call[None, None], workflow_id: str) -> s.WorkflowView:
    from chalicelib.api.commands import get_workflow as run

    return s.WorkflowView.model_validate(run(_workflow_id(workflow_id)))


@operation(
    api,
    "/workflows/{workflow_id}",
    "PUT",
    body=s.WorkflowUpdate,
    response=s.WorkflowView,
    summary="Change cron, timezone, steps, limits or calendar policy (EventBridge rules reconciled)",
    tags=("workflows",),
    errors=(400, 401, 403, 404),
)
def update_workflow(call: Call[None, s.WorkflowUpdate], workflow_id: str) -> s.WorkflowView:
    from chalicelib.api.commands import update_workflow as run

    return s.WorkflowView.model_validate(run(_workflow_id(workflow_id), call.body, call.principal))


@operation(
    api,
    "/workflows/{workflow_id}/enable",
    "POST",
    summary="Enable (idempotent)",
    response=s.WorkflowView,
    tags=("workflows",),
    errors=(400, 401, 403, 404),
)
def enable_workflow(call: Call[None, None], workflow_id: str) -> s.WorkflowView:
    from chalicelib.api.commands import set_enabled

    return s.WorkflowView.model_validate(set_enabled(_workflow_id(workflow_id), True, call.principal))


@operation(
    api,
    "/workflows/{workflow_id}/disable",
    "POST",
    summary="Disable (idempotent)",
    response=s.WorkflowView,
    tags=("workflows",),
    errors=(400, 401, 403, 404),
)
def disable_workflow(call: Call[None, None], workflow_id: str) -> s.WorkflowView:
    from chalicelib.api.commands import set_enabled

    return s.WorkflowView.model_validate(set_enabled(_workflow_id(workflow_id), False, call.principal))


@operation(
    api,
    "/workflows/{workflow_id}/execute",
    "POST",
    body=s.ExecuteRequest,
    body_optional=True,
    summary="Manual trigger (same dispatch, naming and lock as the schedule)",
    response=s.ExecuteResult,
    status=202,
    tags=("workflows",),
    errors=(400, 401, 403, 404, 409, 422, 503),
)
def execute_workflow(call: Call[None, s.ExecuteRequest], workflow_id: str) -> s.ExecuteResult:
    from chalicelib.api.commands import execute

    return s.ExecuteResult.model_validate(execute(_workflow_id(workflow_id), call.body, call.principal))


# --- schedule -----------------------------------------------------------------------------------------------
@operation(
    api,
    "/schedule",
    summary="Every workflow's schedule, scopes and next runs",
    response=s.ScheduleView,
    tags=("schedule",),
    errors=(401, 403),
)
def get_schedule(call: Call[None, None]) -> s.ScheduleView:
    from chalicelib.api.commands import schedule

    return s.ScheduleView.model_validate(schedule())


@operation(
    api,
    "/schedule",
    "PUT",
    body=s.ScheduleUpdate,
    response=s.ScheduleView,
    summary="Change several workflows' schedules at once (all or nothing; rules reconciled)",
    tags=("schedule",),
    errors=(400, 401, 403, 404),
)
def update_schedule(call: Call[None, s.ScheduleUpdate]) -> s.ScheduleView:
    from chalicelib.api.commands import update_schedule as run

    return s.ScheduleView.model_validate(run(call.body, call.principal))


@operation(
    api,
    "/schedule/next-run",
    query=s.NextRunQuery,
    response=s.NextRunView,
    summary="Next run per workflow and timezone scope, holidays applied",
    tags=("schedule",),
    errors=(400, 401, 403, 404),
)
def get_next_run(call: Call[s.NextRunQuery, None]) -> s.NextRunView:
    from chalicelib.api.commands import next_runs

    q = call.query
    return s.NextRunView.model_validate(next_runs(workflow=q.workflow, scope=q.scope, after=q.after))


# --- the document -------------------------------------------------------------------------------------------
@operation(
    docs,
    "/openapi.json",
    summary="This API's OpenAPI 3.1 document",
    auth="public",
    prefix="",
    response="application/json",
    tags=("docs",),
)
def openapi_document(call: Call[None, None]) -> Response:
    from chalicelib.api.openapi import build_document

    return Response(status_code=200, body=build_document(), headers={"Content-Type": "application/json"})


__all__ = ["api", "docs", "error"]
