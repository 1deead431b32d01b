"""The enterprise network view, as pure rules: what the platform's services answer about a central site and
its outlets (the *replies*), and how they become the five views of the network (the *sections*).

A figure over the outlets sums the outlets that answered; an outlet or a service that did not answer
leaves an `Issue` (which data, which service, which outlet, why) and marks the section `partial`, never
the whole view. A figure is `None` only when nothing it needs answered.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from chalicelib.domain.models import Tenant

# The data a view is made of; each comes from one place.
Part = Literal[
    "forecast",  # forecasting service: the outlets' demand over the horizon
    "accuracy",  # forecast accuracy (MAPE): the validation history, else the forecasting service
    "sales",  # sales service: units sold over the period
    "waste",  # inventory service: units written off over the period, and the outlet's own baseline
    "production_plan",  # production service: the central site's plan over the horizon
    "deliveries",  # distribution service: the day's routes and shipments
    "workflow_runs",  # this service's own runs of the daily workflow
]
SERVICE_OF: dict[str, str] = {
    "forecast": "forecasting",
    "accuracy": "forecasting",
    "sales": "sales",
    "waste": "inventory",
    "production_plan": "production",
    "deliveries": "distribution",
    "workflow_runs": "orchestrator",
}
ShipmentStatus = Literal["pending", "in_transit", "delivered", "delayed"]
SHIPMENT_STATUSES: tuple[str, ...] = ("pending", "in_transit", "delivered", "delayed")
# The one status that speaks for an outlet's shipments of the day: the most urgent one.
URGENCY: tuple[str, ...] = ("delayed", "pending", "in_transit", "delivered")
DayOutcome = Literal["succeeded", "failed", "running", "not_run"]
MapeSource = Literal["validation_history", "forecasting_service"]
SortKey = Literal["sales", "mape", "waste_rate", "waste_reduction", "success_rate"]
# Per sort key: whether a greater value ranks first.
DESCENDING: dict[str, bool] = {
    "sales": True,
    "mape": False,
    "waste_rate": False,
    "waste_reduction": True,
    "success_rate": True,
}
N = TypeVar("N", int, float)
BALANCE_TOLERANCE = 0.05  # planned and demanded closer than this (units, one decimal) are balanced


# --- what the platform answers ------------------------------------------------------------------------------
# Schemas are built on first use, not at import: every Lambda imports app.py, only the API uses these.
class Reply(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True, defer_build=True)


class ForecastRow(Reply):
    product_id: str
    sku: str | None = None
    product_name: str
    date: date
    predicted_quantity: float = Field(ge=0)


class ForecastReply(Reply):
    tenant_id: str
    forecasts: list[ForecastRow]


class DayUnits(Reply):
    date: date
    units: int = Field(ge=0)


class SalesReply(Reply):
    tenant_id: str
    days: list[DayUnits]
    total_units: int = Field(ge=0)


class WasteDay(Reply):
    date: date
    produced_units: int = Field(ge=0)
    sold_units: int = Field(ge=0)
    waste_units: int = Field(ge=0)


class WasteReply(Reply):
    tenant_id: str
    days: list[WasteDay]
    produced_units: int = Field(ge=0)
    waste_units: int = Field(ge=0)
    baseline_waste_units: int = Field(ge=0, description="the outlet's own waste before forecasts, same period")


class AccuracyDay(Reply):
    date: date
    mape: float | None = Field(default=None, ge=0)


class AccuracyReply(Reply):
    tenant_id: str
    days: list[AccuracyDay] = Field(default_factory=list)
    mape: float | None = Field(default=None, ge=0)


class PlanItem(Reply):
    product_id: str
    sku: str | None = None
    product_name: str
    date: date
    quantity: float = Field(ge=0)


class PlanReply(Reply):
    tenant_id: str
    items: list[PlanItem]


class Stop(Reply):
    outlet_id: str
    shipment_id: str
    status: ShipmentStatus
    units: int | None = None
    eta: str | None = None
    delay_minutes: int | None = None


class DeliveryRoute(Reply):
    route_id: str
    name: str
    vehicle: str | None = None
    departure: str | None = None
    status: str
    stops: list[Stop]


class RoutesReply(Reply):
    tenant_id: str
    date: date
    routes: list[DeliveryRoute]


# --- the views -------------------------------------------------------------------------------------------
class View(BaseModel):
    model_config = ConfigDict(frozen=True, defer_build=True)


class Issue(View):
    part: Part = Field(description="which data is missing or incomplete")
    service: str = Field(description="where that data comes from")
    outlet_id: str | None = Field(description="the outlet it concerns; null when it concerns the whole network")
    reason: str


class Period(View):
    start_date: date
    end_date: date
    days: int


class Section(View):
    partial: bool = Field(description="some data did not arrive: see issues; the figures cover what did")
    issues: list[Issue]


class Header(View):
    parent_tenant_id: str
    parent_name: str
    as_of: date = Field(description="the network's day: today in the parent's timezone unless asked")
    generated_at: datetime = Field(description="when these figures were read (older when served from cache)")


class WorkflowToday(View):
    succeeded: int
    failed: int
    running: int
    not_run: int


class NetworkSummary(Section):
    outlets: int = Field(description="active outlets of the network")
    forecast_horizon: Period
    forecast_demand_units: float | None = Field(description="the outlets' forecast demand over the horizon")
    planned_production_units: float | None = Field(description="the central site's plan over the horizon")
    sales_period: Period
    sales_units: int | None
    waste_units: int | None
    baseline_waste_units: int | None = Field(description="the outlets' own waste before forecasts, same period")
    waste_reduction_percent: float | None = Field(description="(baseline - waste) / baseline, in percent")
    outlets_ran_today: int | None = Field(description="outlets whose daily workflow of as_of succeeded")
    workflow_today: WorkflowToday | None
    coverage: dict[str, int] = Field(description="per data part, how many outlets the figures include")


class ProductLine(View):
    product_key: str = Field(description="the product's SKU, or its name when the service gives no SKU")
    product_name: str
    planned_units: float | None
    demanded_units: float
    balance_units: float | None = Field(description="planned - demanded: negative is a shortfall")
    status: Literal["shortfall", "surplus", "balanced"] | None


class ProductionOverview(Section):
    central_tenant_id: str
    horizon: Period
    outlets: int
    planned_units: float | None
    demanded_units: float
    shortfall_units: float | None = Field(description="sum of the products' shortfalls")
    surplus_units: float | None = Field(description="sum of the products' surpluses")
    products_short: int | None
    products: list[ProductLine] = Field(description="largest shortfall first")


class ShipmentCounts(View):
    pending: int = 0
    in_transit: int = 0
    delivered: int = 0
    delayed: int = 0


class RouteView(View):
    route_id: str
    name: str
    vehicle: str | None
    departure: str | None
    status: str
    stops: int
    shipments: ShipmentCounts


class ShipmentView(View):
    shipment_id: str
    route_id: str
    status: ShipmentStatus
    eta: str | None
    units: int | None
    delay_minutes: int | None


class OutletDeliveries(View):
    outlet_id: str
    name: str
    status: ShipmentStatus | None = Field(description="the most urgent of its shipments: delayed, pending, ...")
    shipments: list[ShipmentView]


class DistributionStatus(Section):
    date: date
    active_routes: int | None
    shipments: ShipmentCounts | None
    routes: list[RouteView]
    outlets: list[OutletDeliveries]


class OutletPerformance(View):
    outlet_id: str
    name: str
    rank: int | None = Field(description="1 = best by sort_by; null in a drill-down (no ranking is read)")
    sales_units: int | None
    waste_units: int | None
    produced_units: int | None
    waste_rate_percent: float | None = Field(description="waste / produced, in percent")
    baseline_waste_units: int | None
    waste_reduction_percent: float | None
    mape: float | None = Field(description="mean absolute percentage error of its forecasts over the period")
    mape_source: MapeSource | None
    workflow_success_rate: float | None = Field(description="percent of its days in a daily run that succeeded")
    workflow_days: int = Field(description="days from the period's start to as_of on which it was in a run")
    workflow_today: DayOutcome | None
    partial: bool
    issues: list[Issue]


class OutletDay(View):
    date: date
    sales_units: int | None
    produced_units: int | None
    waste_units: int | None
    mape: float | None
    workflow: DayOutcome | None


class OutletDetail(OutletPerformance):
    forecast_horizon: Period
    forecast_demand_units: float | None
    days: list[OutletDay]
    shipments: list[ShipmentView] | None


class ChildPerformance(Section):
    period: Period
    sort_by: SortKey
    outlets: list[OutletPerformance] = Field(description="ranked by sort_by; empty in a drill-down")
    outlet: OutletDetail | None = Field(description="the drill-down (?outlet_id=), else null")


# What each route reads, and the views answering it (header + section, or the dashboard's four).
class NetworkSummaryView(Header, NetworkSummary):
    pass


class ProductionOverviewView(Header, ProductionOverview):
    pass


class DistributionStatusView(Header, DistributionStatus):
    pass


class ChildPerformanceView(Header, ChildPerformance):
    pass


class Dashboard(Header):
    partial: bool = Field(description="any section is partial")
    issues: list[Issue] = Field(description="every section's issues, once each")
    network_summary: NetworkSummary
    production_overview: ProductionOverview
    distribution_status: DistributionStatus
    child_performance: ChildPerformance


# --- the facts a view is computed from -------------------------------------------------------------------
@dataclass(frozen=True)
class OutletAccuracy:
    mape: float | None
    source: MapeSource
    days: dict[date, float | None] = field(default_factory=dict)


@dataclass
class NetworkData:
    """Everything read for one view. A dict holds only the outlets that answered; `None` for a network-wide
    part means it was not read or did not answer (the issues say which)."""

    parent: Tenant
    outlets: list[Tenant]
    as_of: date
    period: Period
    horizon: Period
    forecasts: dict[str, ForecastReply] = field(default_factory=dict)
    sales: dict[str, SalesReply] = field(default_factory=dict)
    waste: dict[str, WasteReply] = field(default_factory=dict)
    accuracy: dict[str, OutletAccuracy] = field(default_factory=dict)
    plan: PlanReply | None = None
    routes: RoutesReply | None = None
    runs: dict[str, dict[date, DayOutcome]] | None = None
    issues: list[Issue] = field(default_factory=list)


def sales_period(as_of: date, days: int) -> Period:
    """The `days` complete days before as_of."""
    return Period(start_date=as_of - timedelta(days=days), end_date=as_of - timedelta(days=1), days=days)


def forecast_horizon(as_of: date, days: int) -> Period:
    """as_of and the days after it: `days` in all."""
    return Period(start_date=as_of, end_date=as_of + timedelta(days=days - 1), days=days)


def day_outcome(executions: Iterable[tuple[bool, bool, str]]) -> DayOutcome:
    """An outlet's daily workflow on one day, from each execution of that day that included it:
    (finished its last step, has a failed step, the execution's status). Any execution that took it through
    without a failure (a retry included) makes the day a success; one still running keeps it open."""
    seen = list(executions)
    if not seen:
        return "not_run"
    if any(done and not failed for done, failed, _ in seen):
        return "succeeded"
    if any(status == "running" and not failed for _, failed, status in seen):
        return "running"
    return "failed"


def _issues(data: NetworkData, parts: Iterable[str], outlet_id: str | None = None) -> list[Issue]:
    wanted = set(parts)
    return [i for i in data.issues if i.part in wanted and (outlet_id is None or i.outlet_id in (None, outlet_id))]


def _round1(value: float) -> float:
    return round(value + 0.0, 1)


def _percent(part: float, whole: float) -> float | None:
    return round(100.0 * part / whole, 1) if whole else None


def _reduction(waste: int, baseline: int) -> float | None:
    return _percent(baseline - waste, baseline)


def _in(period: Period, day: date) -> bool:
    return period.start_date <= day <= period.end_date


def _demand(reply: ForecastReply, horizon: Period) -> float:
    return sum(row.predicted_quantity for row in reply.forecasts if _in(horizon, row.date))


def network_summary(data: NetworkData) -> NetworkSummary:
    ids = [o.id for o in data.outlets]
    answered = {part: [i for i in ids if i in getattr(data, part)] for part in ("forecasts", "sales", "waste")}

    def total(value: N, count: int) -> N | None:
        """A sum over the outlets that answered; None when there are outlets and none answered."""
        return None if ids and count == 0 else value

    forecast_ids, sales_ids, waste_ids = answered["forecasts"], answered["sales"], answered["waste"]
    demand = _round1(sum(_demand(data.forecasts[i], data.horizon) for i in forecast_ids))
    waste = sum(data.waste[i].waste_units for i in waste_ids)
    baseline = sum(data.waste[i].baseline_waste_units for i in waste_ids)
    today: WorkflowToday | None = None
    if data.runs is not None:
        outcomes = [data.runs.get(i, {}).get(data.as_of, "not_run") for i in ids]
        today = WorkflowToday(
            succeeded=outcomes.count("succeeded"),
            failed=outcomes.count("failed"),
            running=outcomes.count("running"),
            not_run=outcomes.count("not_run"),
        )
    planned = _round1(sum(i.quantity for i in data.plan.items if _in(data.horizon, i.date))) if data.plan else None
    issues = _issues(data, ("forecast", "sales", "waste", "production_plan", "workflow_runs"))
    return NetworkSummary(
        partial=bool(issues),
        issues=issues,
        outlets=len(ids),
        forecast_horizon=data.horizon,
        forecast_demand_units=total(demand, len(forecast_ids)),
        planned_production_units=planned,
        sales_period=data.period,
        sales_units=total(sum(data.sales[i].total_units for i in sales_ids), len(sales_ids)),
        waste_units=total(waste, len(waste_ids)),
        baseline_waste_units=total(baseline, len(waste_ids)),
        waste_reduction_percent=_reduction(waste, baseline) if waste_ids else None,
        outlets_ran_today=today.succeeded if today else None,
        workflow_today=today,
        coverage={
            "forecast": len(forecast_ids),
            "sales": len(sales_ids),
            "waste": len(waste_ids),
            "workflow_runs": len(ids) if data.runs is not None else 0,
        },
    )


def _product_key(sku: str | None, name: str) -> str:
    return sku or name


def production_overview(data: NetworkData) -> ProductionOverview:
    names: dict[str, str] = {}
    demanded: dict[str, float] = defaultdict(float)
    for outlet in data.outlets:
        reply = data.forecasts.get(outlet.id)
        for row in reply.forecasts if reply else ():
            if _in(data.horizon, row.date):
                key = _product_key(row.sku, row.product_name)
                names.setdefault(key, row.product_name)
                demanded[key] += row.predicted_quantity
    planned: dict[str, float] = defaultdict(float)
    for item in data.plan.items if data.plan else ():
        if _in(data.horizon, item.date):
            key = _product_key(item.sku, item.product_name)
            names.setdefault(key, item.product_name)
            planned[key] += item.quantity
    lines = []
    for key in names:
        demand = _round1(demanded.get(key, 0.0))
        plan = _round1(planned.get(key, 0.0)) if data.plan else None
        balance = _round1(plan - demand) if plan is not None else None
        status = None
        if balance is not None:
            status = (
                "shortfall"
                if balance < -BALANCE_TOLERANCE
                else "surplus"
                if balance > BALANCE_TOLERANCE
                else "balanced"
            )
        lines.append(
            ProductLine(
                product_key=key,
                product_name=names[key],
                planned_units=plan,
                demanded_units=demand,
                balance_units=balance,
                status=status,
            )
        )
    lines.sort(key=lambda line: (line.balance_units if line.balance_units is not None else 0.0, line.product_name))
    known = [line.balance_units for line in lines if line.balance_units is not None]
    issues = _issues(data, ("forecast", "production_plan"))
    return ProductionOverview(
        partial=bool(issues),
        issues=issues,
        central_tenant_id=data.parent.id,
        horizon=data.horizon,
        outlets=len(data.outlets),
        planned_units=_round1(sum(planned.values())) if data.plan else None,
        demanded_units=_round1(sum(demanded.values())),
        shortfall_units=_round1(sum(-b for b in known if b < -BALANCE_TOLERANCE)) if data.plan else None,
        surplus_units=_round1(sum(b for b in known if b > BALANCE_TOLERANCE)) if data.plan else None,
        products_short=sum(1 for line in lines if line.status == "shortfall") if data.plan else None,
        products=lines,
    )


def _counts(statuses: Iterable[str]) -> ShipmentCounts:
    counted = {s: 0 for s in SHIPMENT_STATUSES}
    for status in statuses:
        counted[status] += 1
    return ShipmentCounts(**counted)


def _most_urgent(statuses: Sequence[str]) -> ShipmentStatus | None:
    for status in URGENCY:
        if status in statuses:
            return status  # type: ignore[return-value]
    return None


def _shipments_by_outlet(data: NetworkData) -> dict[str, list[ShipmentView]]:
    """The day's shipments to the network's own outlets (a stop for anyone else is ignored)."""
    mine = {o.id for o in data.outlets}
    by_outlet: dict[str, list[ShipmentView]] = defaultdict(list)
    for route in data.routes.routes if data.routes else ():
        for stop in route.stops:
            if stop.outlet_id in mine:
                by_outlet[stop.outlet_id].append(
                    ShipmentView(
                        shipment_id=stop.shipment_id,
                        route_id=route.route_id,
                        status=stop.status,
                        eta=stop.eta,
                        units=stop.units,
                        delay_minutes=stop.delay_minutes,
                    )
                )
    return by_outlet


def distribution_status(data: NetworkData) -> DistributionStatus:
    mine = {o.id for o in data.outlets}
    by_outlet = _shipments_by_outlet(data)
    routes = []
    for route in data.routes.routes if data.routes else ():
        stops = [s for s in route.stops if s.outlet_id in mine]
        if stops:
            routes.append(
                RouteView(
                    route_id=route.route_id,
                    name=route.name,
                    vehicle=route.vehicle,
                    departure=route.departure,
                    status=route.status,
                    stops=len(stops),
                    shipments=_counts(s.status for s in stops),
                )
            )
    outlets = [
        OutletDeliveries(
            outlet_id=o.id,
            name=o.name,
            status=_most_urgent([s.status for s in by_outlet.get(o.id, [])]),
            shipments=by_outlet.get(o.id, []),
        )
        for o in data.outlets
    ]
    issues = _issues(data, ("deliveries",))
    answered = data.routes is not None
    return DistributionStatus(
        partial=bool(issues),
        issues=issues,
        date=data.as_of,
        active_routes=sum(1 for r in routes if r.status == "active") if answered else None,
        shipments=_counts(s.status for ships in by_outlet.values() for s in ships) if answered else None,
        routes=routes,
        outlets=outlets,
    )


def _workflow_window(data: NetworkData) -> tuple[date, date]:
    """The days a success rate counts: the period's first day through as_of (today's run included)."""
    return data.period.start_date, data.as_of


def _performance(data: NetworkData, outlet: Tenant, rank: int | None = None) -> OutletPerformance:
    sales, waste, accuracy = data.sales.get(outlet.id), data.waste.get(outlet.id), data.accuracy.get(outlet.id)
    days_run = succeeded = 0
    today: DayOutcome | None = None
    if data.runs is not None:
        first, last = _workflow_window(data)
        days = {d: o for d, o in data.runs.get(outlet.id, {}).items() if first <= d <= last}
        days_run = sum(1 for o in days.values() if o != "not_run")
        succeeded = sum(1 for o in days.values() if o == "succeeded")
        today = days.get(data.as_of, "not_run")
    issues = _issues(data, ("sales", "waste", "accuracy", "workflow_runs"), outlet.id)
    return OutletPerformance(
        outlet_id=outlet.id,
        name=outlet.name,
        rank=rank,
        sales_units=sales.total_units if sales else None,
        waste_units=waste.waste_units if waste else None,
        produced_units=waste.produced_units if waste else None,
        waste_rate_percent=_percent(waste.waste_units, waste.produced_units) if waste else None,
        baseline_waste_units=waste.baseline_waste_units if waste else None,
        waste_reduction_percent=_reduction(waste.waste_units, waste.baseline_waste_units) if waste else None,
        mape=accuracy.mape if accuracy else None,
        mape_source=accuracy.source if accuracy else None,
        workflow_success_rate=_percent(succeeded, days_run) if data.runs is not None else None,
        workflow_days=days_run,
        workflow_today=today,
        partial=bool(issues),
        issues=issues,
    )


def _sort_value(row: OutletPerformance, sort_by: str) -> float | None:
    return {
        "sales": row.sales_units,
        "mape": row.mape,
        "waste_rate": row.waste_rate_percent,
        "waste_reduction": row.waste_reduction_percent,
        "success_rate": row.workflow_success_rate,
    }[sort_by]


def rank_outlets(rows: list[OutletPerformance], sort_by: SortKey) -> list[OutletPerformance]:
    """Best first by `sort_by` (greater sales, lower MAPE, ...); outlets without the figure last; ties by
    name. Ranks are 1..n in that order."""
    sign = -1.0 if DESCENDING[sort_by] else 1.0

    def key(row: OutletPerformance) -> tuple[int, float, str, str]:
        value = _sort_value(row, sort_by)
        return (value is None, sign * (value or 0.0), row.name, row.outlet_id)

    return [row.model_copy(update={"rank": n}) for n, row in enumerate(sorted(rows, key=key), start=1)]


def child_performance(data: NetworkData, sort_by: SortKey) -> ChildPerformance:
    rows = rank_outlets([_performance(data, o) for o in data.outlets], sort_by)
    issues = _issues(data, ("sales", "waste", "accuracy", "workflow_runs"))
    return ChildPerformance(
        partial=bool(issues), issues=issues, period=data.period, sort_by=sort_by, outlets=rows, outlet=None
    )


def outlet_detail(data: NetworkData, outlet: Tenant, sort_by: SortKey) -> ChildPerformance:
    """One outlet's drill-down: its figures, day by day over the period, its forecast and today's shipments."""
    row = _performance(data, outlet)
    sales = {d.date: d.units for d in data.sales[outlet.id].days} if outlet.id in data.sales else None
    waste = {d.date: d for d in data.waste[outlet.id].days} if outlet.id in data.waste else None
    accuracy = data.accuracy.get(outlet.id)
    runs = data.runs.get(outlet.id, {}) if data.runs is not None else None
    days = []
    day = data.period.start_date
    while day <= data.period.end_date:
        wasted = waste.get(day) if waste is not None else None
        days.append(
            OutletDay(
                date=day,
                sales_units=sales.get(day) if sales is not None else None,
                produced_units=wasted.produced_units if wasted else None,
                waste_units=wasted.waste_units if wasted else None,
                mape=accuracy.days.get(day) if accuracy else None,
                workflow=runs.get(day, "not_run") if runs is not None else None,
            )
        )
        day += timedelta(days=1)
    forecast = data.forecasts.get(outlet.id)
    detail_issues = _issues(data, ("forecast", "sales", "waste", "accuracy", "workflow_runs", "deliveries"), outlet.id)
    detail = OutletDetail(
        **{**row.model_dump(), "partial": bool(detail_issues), "issues": detail_issues},
        forecast_horizon=data.horizon,
        forecast_demand_units=_round1(_demand(forecast, data.horizon)) if forecast else None,
        days=days,
        shipments=_shipments_by_outlet(data).get(outlet.id, []) if data.routes is not None else None,
    )
    return ChildPerformance(
        partial=detail.partial, issues=detail_issues, period=data.period, sort_by=sort_by, outlets=[], outlet=detail
    )


def all_issues(sections: Iterable[Section]) -> list[Issue]:
    """Every section's issues, once each, in order of first appearance."""
    return list(dict.fromkeys(issue for section in sections for issue in section.issues))
