"""The enterprise network routes, mounted at /api/v1/{parent_tenant}/orchestrator/enterprise: one central
site (the parent tenant) and its outlets in one view. Each handler: parsed query -> one service call ->
the view's JSON (`X-Cache: hit` when it came from the cache).

Who: a platform admin for any network; otherwise a token of the parent tenant itself (an outlet's users
and other tenants get 403), and the parent must be on the enterprise tier (403 naming the tier). An
unknown parent is 404; the tenant service down is 503 (without it there is no network to show); any other
service or outlet that does not answer only makes its part `partial`, with the reason in `issues`.
"""

from __future__ import annotations

import re
from datetime import date
from functools import partial
from typing import TYPE_CHECKING, Any

from chalice import Blueprint, Response
from pydantic import Field, field_validator

from chalicelib.api.framework import JSON_HEADERS, ApiError, Call, bad_request, not_found, operation
from chalicelib.api.schemas import Query, TenantId
from chalicelib.domain.enterprise import (
    ChildPerformanceView,
    Dashboard,
    DistributionStatusView,
    NetworkSummaryView,
    ProductionOverviewView,
    SortKey,
)

if TYPE_CHECKING:
    from chalicelib.services.enterprise import Route

ENTERPRISE_PREFIX = "/api/v1/{parent_tenant}/orchestrator/enterprise"
ERRORS = (400, 401, 403, 404, 503)
TAGS = ("enterprise",)
EARLIEST, LATEST = date(2000, 1, 1), date(2099, 12, 31)
_TENANT_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")

enterprise = Blueprint(__name__)


class NetworkQuery(Query):
    as_of: date | None = Field(
        default=None, description="the network's day: today in the parent's timezone unless given"
    )
    period_days: int = Field(
        default=7, ge=1, le=90, description="sales, waste and accuracy over this many days before as_of"
    )

    @field_validator("as_of")
    @classmethod
    def _as_of_in_range(cls, value: date | None) -> date | None:
        if value is not None and not EARLIEST <= value <= LATEST:
            raise ValueError(f"must be between {EARLIEST} and {LATEST}")
        return value


class PerformanceQuery(NetworkQuery):
    outlet_id: TenantId | None = Field(default=None, description="one outlet's drill-down instead of the ranking")
    sort_by: SortKey = Field(
        default="sales",
        description="rank by sales (most first), mape, waste_rate (lowest first), waste_reduction or "
        "success_rate (highest first)",
    )


def _view(call: Call[Any, None], parent_tenant: str, route: Route) -> Response:
    from chalicelib.api.auth import AuthError, require_enterprise_member, require_network_caller
    from chalicelib.services import enterprise as service

    if not _TENANT_ID.match(parent_tenant):
        raise bad_request("parent_tenant must be a tenant id (1-64 letters, digits, '-' or '_')", "parent_tenant")
    q = call.query
    query = service.ViewQuery(
        as_of=q.as_of,
        period_days=q.period_days,
        outlet_id=getattr(q, "outlet_id", None),
        sort_by=getattr(q, "sort_by", "sales"),
    )
    try:
        require_network_caller(call.principal, parent_tenant)
        view = service.network_view(
            parent_tenant, route, query, gate=partial(require_enterprise_member, call.principal, parent_tenant)
        )
    except AuthError as exc:
        raise ApiError(exc.status, exc.code, exc.message, "parent_tenant" if exc.status == 404 else None) from None
    except service.UnknownParent:
        raise not_found("tenant", parent_tenant, "parent_tenant") from None
    except service.OutletNotInNetwork as exc:
        raise ApiError(404, "not_found", str(exc), "outlet_id") from None
    except service.HierarchyUnavailable as exc:
        raise ApiError(503, "dependency_unavailable", str(exc)) from None
    headers: dict[str, str | list[str]] = {**JSON_HEADERS, "X-Cache": "hit" if view.cached else "miss"}
    return Response(status_code=200, body=view.body, headers=headers)


@operation(
    enterprise,
    "/dashboard",
    summary="The whole network in one payload: summary, production, distribution and outlet performance",
    auth="any",
    query=NetworkQuery,
    response=Dashboard,
    tags=TAGS,
    errors=ERRORS,
    prefix=ENTERPRISE_PREFIX,
    description=(
        "The network summary, production overview, distribution status and outlet performance from one read of "
        "the network (one round trip for the front end). Needs a token of the parent tenant (enterprise tier) or "
        "a platform admin's."
    ),
)
def get_enterprise_dashboard(call: Call[NetworkQuery, None], parent_tenant: str) -> Response:
    return _view(call, parent_tenant, "dashboard")


@operation(
    enterprise,
    "/network-summary",
    summary="Network KPIs: 7-day forecast demand, planned production, sales, waste and its reduction, runs today",
    auth="any",
    query=NetworkQuery,
    response=NetworkSummaryView,
    tags=TAGS,
    errors=ERRORS,
    prefix=ENTERPRISE_PREFIX,
    description=(
        "The outlets' forecast demand over the 7 days from as_of, the central site's planned production over the "
        "same days, sales and waste over the period_days before as_of with the reduction against the outlets' own"
        " baseline, the number of outlets and how many ran as_of's daily workflow successfully (this service's "
        "runs). Needs a token of the parent tenant (enterprise tier) or a platform admin's."
    ),
)
def get_enterprise_network_summary(call: Call[NetworkQuery, None], parent_tenant: str) -> Response:
    return _view(call, parent_tenant, "network-summary")


@operation(
    enterprise,
    "/production-overview",
    summary="The central site's production plan against the network's aggregated demand, per product",
    auth="any",
    query=NetworkQuery,
    response=ProductionOverviewView,
    tags=TAGS,
    errors=ERRORS,
    prefix=ENTERPRISE_PREFIX,
    description=(
        "Per product over the 7 days from as_of: planned, demanded and the balance (a shortfall or a surplus), "
        "largest shortfall first. Needs a token of the parent tenant (enterprise tier) or a platform admin's."
    ),
)
def get_enterprise_production_overview(call: Call[NetworkQuery, None], parent_tenant: str) -> Response:
    return _view(call, parent_tenant, "production-overview")


@operation(
    enterprise,
    "/distribution-status",
    summary="Delivery routes and shipment status (pending, in transit, delivered, delayed), per outlet",
    auth="any",
    query=NetworkQuery,
    response=DistributionStatusView,
    tags=TAGS,
    errors=ERRORS,
    prefix=ENTERPRISE_PREFIX,
    description=(
        "The distribution service's routes of as_of with their shipments to the network's outlets, and each "
        "outlet's most urgent shipment status. Needs a token of the parent tenant (enterprise tier) or a platform"
        " admin's."
    ),
)
def get_enterprise_distribution_status(call: Call[NetworkQuery, None], parent_tenant: str) -> Response:
    return _view(call, parent_tenant, "distribution-status")


@operation(
    enterprise,
    "/child-performance",
    summary="Outlets ranked by forecast accuracy (MAPE), sales, waste or workflow success; ?outlet_id= drills down",
    auth="any",
    query=PerformanceQuery,
    response=ChildPerformanceView,
    tags=TAGS,
    errors=ERRORS,
    prefix=ENTERPRISE_PREFIX,
    description=(
        "Per outlet: MAPE over the period (from the validation history when it exists, else the forecasting "
        "service), sales, waste, and the share of its days in a daily run that succeeded, ranked by sort_by. With"
        " outlet_id, that outlet's figures day by day, its forecast and today's shipments. Needs a token of the "
        "parent tenant (enterprise tier) or a platform admin's."
    ),
)
def get_enterprise_child_performance(call: Call[PerformanceQuery, None], parent_tenant: str) -> Response:
    return _view(call, parent_tenant, "child-performance")
