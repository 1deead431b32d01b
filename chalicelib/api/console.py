"""The console: its page and static files (`GET /console`, `GET /console/{asset}`, served by the app itself,
no CDN, no build step), the read routes it needs that the executions routes lack (an execution's graph, its
Step Functions history, the Map's tenants), and cancelling a run.

`console_api` is mounted at /api/v1/orchestrator (in /openapi.json like every route); `console_page` at the
root. The static files ship in the Lambda zip under chalicelib/console/static/.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any, Literal

from chalice import Blueprint, Response
from pydantic import BaseModel, Field

from chalicelib.api.framework import ApiError, Call, bad_request, conflict, not_found, operation
from chalicelib.api.schemas import Body, Query, TenantId

console_api = Blueprint(__name__)
console_page = Blueprint(__name__ + ".page")

STATIC_DIR = Path(__file__).resolve().parent.parent / "console" / "static"
ASSET_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}\.(js|css|svg|html)$")
CONTENT_TYPES = {
    "js": "text/javascript; charset=utf-8",
    "css": "text/css; charset=utf-8",
    "svg": "image/svg+xml",
    "html": "text/html; charset=utf-8",
}
StateStatus = Literal["not_started", "running", "succeeded", "failed", "caught", "retried", "aborted"]
TenantRunStatus = Literal["pending", "running", "completed", "failed", "not_run"]


# --- models ---------------------------------------------------------------------------------------------------
class GraphQuery(Query):
    tenant_id: TenantId | None = Field(
        default=None,
        description="colour the Map's inner states for this tenant alone (a tenant caller: always its own)",
    )


class StateView(BaseModel):
    status: StateStatus
    entered_at: datetime | None
    exited_at: datetime | None
    duration_ms: float | None
    attempts: int = Field(description="task invocations scheduled (from the history)")
    retries: int
    input: str | None = Field(description="the state's input (JSON text, cut at data_limit_chars)")
    output: str | None
    error: str | None
    cause: str | None
    truncated: bool = Field(description="input, output or cause was cut")
    failures: int
    succeeded: int | None = Field(description="Map inner states: tenants that completed this step")
    failed: int | None = Field(description="Map inner states: tenants that failed this step")
    total: int | None = Field(description="Map inner states: tenants in the run")


class MapView(BaseModel):
    state: str
    map_run_arn: str | None
    item_counts: dict[str, Any] | None = Field(description="DescribeMapRun's itemCounts")
    tenant_id: str | None = Field(description="the tenant the inner states are coloured for (null: all)")


class ExecutionGraph(BaseModel):
    execution_id: str
    execution_name: str
    execution_arn: str
    state_machine_arn: str | None
    sfn_status: str = Field(description="RUNNING | SUCCEEDED | FAILED | TIMED_OUT | ABORTED (Step Functions)")
    start_date: datetime | None
    stop_date: datetime | None
    definition: dict[str, Any] = Field(description="the ASL definition this execution ran")
    states: dict[str, StateView] = Field(description="by state name, every state of the definition")
    map: MapView | None
    history_events: int
    history_truncated: bool
    statuses: list[StateStatus] = Field(description="the legend, in order")
    data_limit_chars: int


class HistoryQuery(Query):
    limit: int = Field(default=200, ge=1, le=1000)
    after: int = Field(default=0, ge=0, le=25_000, description="events after this event id")


class HistoryEvent(BaseModel):
    id: int
    previous_event_id: int
    type: str
    timestamp: datetime | None
    state: str | None
    details: dict[str, Any] | None = Field(description="the event's details (platform admins only)")


class HistoryPage(BaseModel):
    events: list[HistoryEvent]
    count: int
    total: int
    truncated: bool
    next_cursor: int | None


class TenantsQuery(Query):
    search: str | None = Field(default=None, max_length=100, description="part of a tenant's id or name")
    status: TenantRunStatus | None = None
    limit: int = Field(default=100, ge=1, le=1000)
    cursor: int = Field(default=0, ge=0, le=1_000_000)


class TenantRun(BaseModel):
    tenant_id: str
    name: str | None
    tier: str | None
    status: TenantRunStatus
    steps_completed: int
    steps_failed: int
    duration_ms: float | None = Field(description="time spent in its steps")
    last_step_at: datetime | None
    failed_step: str | None
    error_type: str | None
    error_message: str | None


class TenantPage(BaseModel):
    tenants: list[TenantRun]
    count: int
    matched: int = Field(description="tenants matching the search and status")
    total: int = Field(description="tenants in the run")
    counts: dict[str, int] = Field(description="tenants per status over the whole run")
    next_cursor: int | None


class CancelRequest(Body):
    reason: str = Field(default=None, min_length=1, max_length=500)  # type: ignore[assignment]


class CancelResult(BaseModel):
    execution_id: str
    execution_name: str
    status: Literal["cancelled"]
    cancelled_by: str
    state_machine_stopped: bool
    lock_released: bool
    error_message: str | None


# --- routes ---------------------------------------------------------------------------------------------------
def _uuid(value: str) -> str:
    try:
        return str(uuid.UUID(value))
    except ValueError:
        raise bad_request("execution_id must be a UUID", "execution_id") from None


def _not_started(execution_id: str) -> ApiError:
    return ApiError(
        409, "not_in_step_functions", f"execution {execution_id} has no Step Functions execution", "execution_id"
    )


@operation(
    console_api,
    "/executions/{execution_id}/graph",
    summary="The execution's state machine graph: its definition and each state's status",
    auth="any",
    query=GraphQuery,
    response=ExecutionGraph,
    tags=("console",),
    errors=(400, 401, 404, 409),
)
def get_execution_graph(call: Call[GraphQuery, None], execution_id: str) -> ExecutionGraph:
    """The top-level states' statuses come from the Step Functions history; the Map's inner states from
    the per-tenant step rows (over all tenants, or one with `tenant_id`): EXPRESS children keep no history."""
    from chalicelib.services.console import NotInStepFunctions, execution_graph

    ident = _uuid(execution_id)
    try:
        graph = execution_graph(ident, tenant_scope=call.principal.tenant_scope, tenant_id=call.query.tenant_id)
    except NotInStepFunctions:
        raise _not_started(execution_id) from None
    except LookupError:
        raise not_found("execution", execution_id, "execution_id") from None
    return ExecutionGraph.model_validate(graph)


@operation(
    console_api,
    "/executions/{execution_id}/history",
    summary="The execution's Step Functions history (paged by event id)",
    auth="any",
    query=HistoryQuery,
    response=HistoryPage,
    tags=("console",),
    errors=(400, 401, 404, 409),
)
def get_execution_history(call: Call[HistoryQuery, None], execution_id: str) -> HistoryPage:
    from chalicelib.services.console import NotInStepFunctions, execution_history

    ident = _uuid(execution_id)
    try:
        page = execution_history(
            ident, tenant_scope=call.principal.tenant_scope, limit=call.query.limit, after=call.query.after
        )
    except NotInStepFunctions:
        raise _not_started(execution_id) from None
    except LookupError:
        raise not_found("execution", execution_id, "execution_id") from None
    return HistoryPage.model_validate(page)


@operation(
    console_api,
    "/executions/{execution_id}/tenants",
    summary="The Map's tenants: status, steps, failing step and error (search, status filter, paged)",
    auth="any",
    query=TenantsQuery,
    response=TenantPage,
    tags=("console",),
    errors=(400, 401, 404),
)
def get_execution_tenants(call: Call[TenantsQuery, None], execution_id: str) -> TenantPage:
    from chalicelib.services.console import execution_tenants

    ident, q = _uuid(execution_id), call.query
    try:
        page = execution_tenants(
            ident,
            tenant_scope=call.principal.tenant_scope,
            search=q.search,
            status=q.status,
            limit=q.limit,
            cursor=q.cursor,
        )
    except LookupError:
        raise not_found("execution", execution_id, "execution_id") from None
    return TenantPage.model_validate(page)


@operation(
    console_api,
    "/executions/{execution_id}/cancel",
    "POST",
    body=CancelRequest,
    body_optional=True,
    summary="Cancel a running execution: stop it in Step Functions, close it cancelled, release its lock",
    response=CancelResult,
    tags=("executions",),
    errors=(400, 401, 403, 404, 409),
)
def cancel_execution(call: Call[None, CancelRequest], execution_id: str) -> CancelResult:
    """Closes the run through the same path as FailRun and the watchdog: status `cancelled`, the
    `workflow_failed` event with the reason and a log row naming the caller, in one transaction."""
    from chalicelib.errors import RunNotFoundError, RunNotRunningError
    from chalicelib.services.runs import cancel_run

    ident = _uuid(execution_id)
    try:
        result = cancel_run(ident, cancelled_by=call.principal.subject, reason=call.body.reason)
    except RunNotFoundError:
        raise not_found("execution", execution_id, "execution_id") from None
    except RunNotRunningError as exc:
        raise conflict("execution_not_running", str(exc), "execution_id") from None
    return CancelResult.model_validate(result)


# --- the page -------------------------------------------------------------------------------------------------
@cache
def _asset(name: str) -> tuple[str, str] | None:
    """(text, etag) of a static file, or None. Read once per process: the files ship with the code."""
    path = STATIC_DIR / name
    if not ASSET_NAME.match(name) or not path.is_file():
        return None
    text = path.read_text(encoding="utf-8")
    return text, '"' + hashlib.sha256(text.encode()).hexdigest()[:20] + '"'


def _serve(name: str) -> Response:
    found = _asset(name)
    if found is None:
        return Response(
            status_code=404,
            body={"error": "not_found", "message": f"console asset {name} not found", "field": "asset"},
            headers={"Content-Type": "application/json"},
        )
    text, etag = found
    headers: dict[str, str | list[str]] = {
        "Content-Type": CONTENT_TYPES[name.rsplit(".", 1)[1]],
        "ETag": etag,
        "Cache-Control": "no-cache",  # revalidated each load (a 304 costs no body)
        "X-Content-Type-Options": "nosniff",
    }
    request = console_page.current_request
    sent: Any = request.headers if request is not None else None
    if sent is not None and sent.get("if-none-match") == etag:
        return Response(status_code=304, body="", headers=headers)
    return Response(status_code=200, body=text, headers=headers)


@operation(
    console_page,
    "/console",
    summary="The console page (sign in with a token; #token=... in the address does it for you)",
    auth="public",
    prefix="",
    response="text/html",
    tags=("console",),
)
def console_index(call: Call[None, None]) -> Response:
    return _serve("index.html")


@operation(
    console_page,
    "/console/{asset}",
    summary="The console's static files: ES modules (.js), styles (.css), images (.svg)",
    auth="public",
    prefix="",
    response="text/javascript",
    tags=("console",),
    errors=(404,),
)
def console_asset(call: Call[None, None], asset: str) -> Response:
    return _serve(asset)


__all__ = ["console_api", "console_page"]
