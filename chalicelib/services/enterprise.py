"""The enterprise network views: one central site (the parent tenant) and its outlets (its children), read
from the platform's services and this service's own runs, shaped by `chalicelib.domain.enterprise`.

A view is read in three steps:
1. the network: the parent, then its own children (never the platform's whole tenant list), from the
   tenant service; the caller's `gate` sees the parent before anything else is read;
2. the cache (`adapters.view_cache`): a view computed for the same parent, route and query within
   ENTERPRISE_CACHE_TTL_SECONDS and since the last run covering the network closed;
3. otherwise the outlets' data, fetched concurrently (`adapters.platform.fan_out`: at most
   ENTERPRISE_MAX_CONCURRENCY calls in flight, each with ENTERPRISE_CALL_TIMEOUT_SECONDS, the whole within
   ENTERPRISE_DEADLINE_SECONDS). A call that fails leaves an issue and a partial section, never a failed
   view; a partial view is not cached, so the next request asks again.
Only the network itself is required: without the tenant service there is no network to show.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import partial
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from chalicelib.adapters.platform import Fetched, PlatformClient, fan_out, get_platform_client
from chalicelib.adapters.view_cache import Lookup, ViewCache
from chalicelib.domain.enterprise import (
    SERVICE_OF,
    AccuracyReply,
    ChildPerformanceView,
    Dashboard,
    DayOutcome,
    DistributionStatusView,
    ForecastReply,
    Issue,
    NetworkData,
    NetworkSummaryView,
    OutletAccuracy,
    Part,
    Period,
    PlanReply,
    ProductionOverviewView,
    RoutesReply,
    SalesReply,
    SortKey,
    WasteReply,
    all_issues,
    child_performance,
    day_outcome,
    distribution_status,
    forecast_horizon,
    network_summary,
    outlet_detail,
    production_overview,
    sales_period,
)
from chalicelib.domain.models import Tenant
from chalicelib.errors import PermanentServiceError, TransientServiceError
from chalicelib.observability import get_logger
from chalicelib.settings import Settings, get_settings

Route = Literal["dashboard", "network-summary", "production-overview", "distribution-status", "child-performance"]
DAILY_WORKFLOW = "daily_operations"  # "today's workflow" of an outlet
_SUMMARY: frozenset[Part] = frozenset({"forecast", "sales", "waste", "production_plan", "workflow_runs"})
_PRODUCTION: frozenset[Part] = frozenset({"forecast", "production_plan"})
_DISTRIBUTION: frozenset[Part] = frozenset({"deliveries"})
_PERFORMANCE: frozenset[Part] = frozenset({"sales", "waste", "accuracy", "workflow_runs"})
# What each route reads (a drill-down reads everything about its one outlet).
NEEDS: dict[str, frozenset[Part]] = {
    "network-summary": _SUMMARY,
    "production-overview": _PRODUCTION,
    "distribution-status": _DISTRIBUTION,
    "child-performance": _PERFORMANCE,
    "dashboard": _SUMMARY | _PRODUCTION | _DISTRIBUTION | _PERFORMANCE,
}
DRILL_DOWN: frozenset[Part] = _PERFORMANCE | {"forecast", "deliveries"}
Gate = Callable[[Tenant | None], None]


class HierarchyUnavailable(Exception):
    """The tenant service could not say who the parent or its outlets are: there is no network to show."""


class UnknownParent(LookupError):
    """The tenant service does not know the parent."""


class OutletNotInNetwork(LookupError):
    """A drill-down named a tenant that is not one of the parent's active outlets."""


@dataclass(frozen=True)
class ViewQuery:
    as_of: date | None = None
    period_days: int = 7
    outlet_id: str | None = None
    sort_by: SortKey = "sales"

    def cache_key(self, route: str) -> str:
        return f"{route}|{self.as_of}|{self.period_days}|{self.outlet_id}|{self.sort_by}"


@dataclass(frozen=True)
class RenderedView:
    body: str  # the view as JSON
    cached: bool


class Network(BaseModel):
    """The parent and its active outlets, as cached."""

    model_config = ConfigDict(frozen=True)

    parent: Tenant
    outlets: list[Tenant]


def network_view(
    parent_id: str,
    route: Route,
    query: ViewQuery,
    *,
    gate: Gate,
    platform: PlatformClient | None = None,
    cache: ViewCache | None = None,
    now: datetime | None = None,
) -> RenderedView:
    """The view `route` of the parent's network as JSON. `gate(parent)` decides whether the caller may see
    it (it raises, e.g. for an unknown parent or one not on the enterprise tier). Raises
    HierarchyUnavailable (no tenant service), UnknownParent, OutletNotInNetwork (drill-down)."""
    settings = get_settings()
    cache = cache or ViewCache(settings=settings)
    found = cache.lookup(parent_id, query.cache_key(route))
    network = _network(parent_id, found, gate, platform, cache, settings)
    as_of = query.as_of or today_of(network.parent, settings, now)
    if found.view is not None:
        computed_for, _, body = found.view.partition("\n")
        if computed_for == as_of.isoformat():
            return RenderedView(body, cached=True)
    outlets = network.outlets
    if query.outlet_id is not None:
        outlets = [o for o in network.outlets if o.id == query.outlet_id]
        if not outlets:
            raise OutletNotInNetwork(f"outlet_id: {query.outlet_id} is not an active outlet of {parent_id}")
    needs = DRILL_DOWN if query.outlet_id is not None else NEEDS[route]
    data = read_network(network.parent, outlets, needs, as_of, query.period_days, platform=platform)
    view = build_view(route, data, query, now=now)
    body = view.model_dump_json()
    # A run's close finds the networks to drop by the tenant service's ids: an id spelled otherwise in the
    # URL (another letter case) is never cached, or the close could miss it.
    cacheable = network.parent.id == parent_id
    if cacheable and not view.partial:
        cache.store(parent_id, found.generation, view=(query.cache_key(route), f"{as_of.isoformat()}\n{body}"))
    return RenderedView(body, cached=False)


def today_of(parent: Tenant, settings: Settings, now: datetime | None = None) -> date:
    """Today in the parent's timezone (the default timezone if the tenant service gave an unknown one)."""
    from chalicelib.domain.schedule import ScheduleError, zone

    moment = now or datetime.now(UTC)
    try:
        return moment.astimezone(zone(parent.timezone)).date()
    except ScheduleError:
        return moment.astimezone(zone(settings.default_timezone)).date()


def _network(
    parent_id: str, found: Lookup, gate: Gate, platform: PlatformClient | None, cache: ViewCache, settings: Settings
) -> Network:
    if found.network is not None:
        network = Network.model_validate_json(found.network)
        gate(network.parent)
        return network
    platform = platform or get_platform_client()
    timeout = settings.enterprise_call_timeout_seconds
    try:
        parent = platform.get_tenant(parent_id, timeout=timeout)
    except (TransientServiceError, PermanentServiceError) as exc:
        raise HierarchyUnavailable(f"the tenant service cannot say who {parent_id} is: {exc}") from None
    gate(parent)
    if parent is None:
        raise UnknownParent(f"tenant {parent_id} not found")
    try:
        listed = platform.list_children(parent.id, timeout=timeout)
    except (TransientServiceError, PermanentServiceError) as exc:
        raise HierarchyUnavailable(f"the tenant service cannot list the outlets of {parent_id}: {exc}") from None
    children = list({c.id: c for c in listed if c.parent_tenant_id == parent.id}.values())
    outlets = sorted((c for c in children if c.status == "active"), key=lambda t: (t.name, t.id))
    network = Network(parent=parent, outlets=outlets)
    if parent.id == parent_id:  # cached under the tenant service's spelling of the id only (see cacheable)
        members = [parent.id, *(c.id for c in children)]
        cache.store(parent_id, found.generation, network=network.model_dump_json(), members=members)
    return network


def validation_history_accuracy(outlet_ids: Sequence[str], period: Period) -> dict[str, OutletAccuracy]:
    """MAPE per outlet over the period from this service's own validation history, for the outlets the
    history covers; the others are asked of the forecasting service. There is no validation history yet
    (its table comes with the forecast validation work), so it covers no outlet: when it exists, read it
    here and answer OutletAccuracy(..., source="validation_history") for the outlets it has."""
    return {}


def workflow_outcomes(outlet_ids: Sequence[str], first: date, last: date) -> dict[str, dict[date, DayOutcome]]:
    """Each outlet's daily workflow, per day in [first, last] on which it was in a run (this service's runs)."""
    from sqlalchemy.exc import SQLAlchemyError

    from chalicelib.db import tenant_runs
    from chalicelib.db.engine import session_scope

    try:
        with session_scope() as session:
            rows = tenant_runs.tenant_executions(session, outlet_ids, first, last, workflow_name=DAILY_WORKFLOW)
    except SQLAlchemyError as exc:
        raise RuntimeError(f"the orchestrator's database did not answer ({type(exc).__name__})") from exc
    grouped: dict[tuple[str, date], list[tuple[bool, bool, str]]] = defaultdict(list)
    for tenant_id, run_date, finished, failed, status in rows:
        grouped[(tenant_id, run_date)].append((finished, failed, status))
    outcomes: dict[str, dict[date, DayOutcome]] = defaultdict(dict)
    for (tenant_id, run_date), executions in grouped.items():
        outcomes[tenant_id][run_date] = day_outcome(executions)
    return dict(outcomes)


def read_network(
    parent: Tenant,
    outlets: list[Tenant],
    needs: frozenset[Part],
    as_of: date,
    period_days: int,
    *,
    platform: PlatformClient | None = None,
) -> NetworkData:
    """Fetch what `needs` names for these outlets, concurrently; what fails becomes an issue."""
    settings = get_settings()
    platform = platform or get_platform_client()
    period = sales_period(as_of, period_days)
    horizon = forecast_horizon(as_of, settings.forecast_days_ahead)
    timeout = settings.enterprise_call_timeout_seconds
    ids = [o.id for o in outlets]
    history = validation_history_accuracy(ids, period) if "accuracy" in needs else {}
    calls: dict[tuple[Part, str | None], Callable[[], Any]] = {}
    for outlet_id in ids:
        if "forecast" in needs:
            calls[("forecast", outlet_id)] = partial(
                platform.get_forecast, outlet_id, horizon.start_date, horizon.days, timeout=timeout
            )
        if "sales" in needs:
            calls[("sales", outlet_id)] = partial(
                platform.get_sales_summary, outlet_id, period.start_date, period.end_date, timeout=timeout
            )
        if "waste" in needs:
            calls[("waste", outlet_id)] = partial(
                platform.get_waste, outlet_id, period.start_date, period.end_date, timeout=timeout
            )
        if "accuracy" in needs and outlet_id not in history:
            calls[("accuracy", outlet_id)] = partial(
                platform.get_forecast_accuracy, outlet_id, period.start_date, period.end_date, timeout=timeout
            )
    if "production_plan" in needs:
        calls[("production_plan", None)] = partial(
            platform.get_production_plan, parent.id, horizon.start_date, horizon.days, timeout=timeout
        )
    if "deliveries" in needs:
        calls[("deliveries", None)] = partial(platform.get_delivery_routes, parent.id, as_of, timeout=timeout)
    if "workflow_runs" in needs:
        calls[("workflow_runs", None)] = partial(workflow_outcomes, ids, period.start_date, as_of)
    results = fan_out(
        calls,
        max_concurrency=settings.enterprise_max_concurrency,
        deadline_seconds=settings.enterprise_deadline_seconds,
    )
    data = NetworkData(parent=parent, outlets=outlets, as_of=as_of, period=period, horizon=horizon)
    data.accuracy.update(history)
    failed: dict[Part, dict[str | None, str]] = defaultdict(dict)
    for (part, about), fetched in results.items():
        if fetched.ok:
            _keep(data, part, about, fetched)
        else:
            failed[part][about] = fetched.error or "no answer"
    data.issues = _issues(failed, len(ids))
    return data


def _keep(data: NetworkData, part: Part, outlet_id: str | None, fetched: Fetched[Any]) -> None:
    value = fetched.value
    if outlet_id is not None and isinstance(value, ForecastReply):
        data.forecasts[outlet_id] = value
    elif outlet_id is not None and isinstance(value, SalesReply):
        data.sales[outlet_id] = value
    elif outlet_id is not None and isinstance(value, WasteReply):
        data.waste[outlet_id] = value
    elif outlet_id is not None and isinstance(value, AccuracyReply):
        days = {d.date: d.mape for d in value.days}
        data.accuracy[outlet_id] = OutletAccuracy(mape=value.mape, source="forecasting_service", days=days)
    elif isinstance(value, PlanReply):
        data.plan = value
    elif isinstance(value, RoutesReply):
        data.routes = value
    elif part == "workflow_runs":
        data.runs = value


def _issues(failed: dict[Part, dict[str | None, str]], outlets: int) -> list[Issue]:
    """One issue per failed call; when a per-outlet part failed for every outlet, one issue for the network."""
    issues: list[Issue] = []
    for part in sorted(failed):
        reasons = failed[part]
        if outlets > 1 and None not in reasons and len(reasons) == outlets:
            first = reasons[min(reasons, key=str)]
            reason = first if len(set(reasons.values())) == 1 else f"{first} (and others)"
            issues.append(Issue(part=part, service=SERVICE_OF[part], outlet_id=None, reason=f"every outlet: {reason}"))
            continue
        for outlet_id in sorted(reasons, key=str):
            issues.append(Issue(part=part, service=SERVICE_OF[part], outlet_id=outlet_id, reason=reasons[outlet_id]))
    return issues


AnyView = NetworkSummaryView | ProductionOverviewView | DistributionStatusView | ChildPerformanceView | Dashboard


def build_view(route: Route, data: NetworkData, query: ViewQuery, *, now: datetime | None = None) -> AnyView:
    header: dict[str, Any] = {
        "parent_tenant_id": data.parent.id,
        "parent_name": data.parent.name,
        "as_of": data.as_of,
        "generated_at": now or datetime.now(UTC),
    }
    if route == "network-summary":
        return NetworkSummaryView(**header, **dict(network_summary(data)))
    if route == "production-overview":
        return ProductionOverviewView(**header, **dict(production_overview(data)))
    if route == "distribution-status":
        return DistributionStatusView(**header, **dict(distribution_status(data)))
    if route == "child-performance":
        if query.outlet_id is not None:
            section = outlet_detail(data, data.outlets[0], query.sort_by)
        else:
            section = child_performance(data, query.sort_by)
        return ChildPerformanceView(**header, **dict(section))
    sections = (
        network_summary(data),
        production_overview(data),
        distribution_status(data),
        child_performance(data, query.sort_by),
    )
    return Dashboard(
        **header,
        partial=any(s.partial for s in sections),
        issues=all_issues(sections),
        network_summary=sections[0],
        production_overview=sections[1],
        distribution_status=sections[2],
        child_performance=sections[3],
    )


def forget_network_views(execution_id: str) -> list[str]:
    """A run closed: drop the cached views of every network with a tenant in it, so they show its outcome at
    once. Best effort (the run is closed whatever happens here); the parents whose views were dropped."""
    from chalicelib.db import tenant_runs
    from chalicelib.db.engine import session_scope

    try:
        cache = ViewCache()
        if not cache.holds_networks():  # nothing cached: no need to read the run's tenants
            return []
        with session_scope() as session:
            tenant_ids = tenant_runs.tenants_of_execution(session, execution_id)
        return cache.invalidate_tenants(tenant_ids)
    except Exception as exc:  # noqa: BLE001 - cached views then expire by their TTL instead
        get_logger().warning(
            "enterprise views not invalidated", extra={"execution_id": execution_id, "error": str(exc)}
        )
        return []
