"""The enterprise network view's pure rules, on small hand-made networks."""

from __future__ import annotations

from datetime import date

import pytest

from chalicelib.domain.enterprise import (
    DeliveryRoute,
    ForecastReply,
    ForecastRow,
    Issue,
    NetworkData,
    OutletAccuracy,
    PlanItem,
    PlanReply,
    RoutesReply,
    SalesReply,
    Stop,
    WasteReply,
    child_performance,
    day_outcome,
    distribution_status,
    forecast_horizon,
    network_summary,
    outlet_detail,
    production_overview,
    rank_outlets,
    sales_period,
)
from chalicelib.domain.models import Tenant

AS_OF = date(2027, 3, 10)
PARENT = Tenant(id="central", name="Central", subscription_tier="enterprise")
A = Tenant(id="a", name="Outlet A", subscription_tier="enterprise", parent_tenant_id="central")
B = Tenant(id="b", name="Outlet B", subscription_tier="enterprise", parent_tenant_id="central")


def network(**parts: object) -> NetworkData:
    return NetworkData(
        parent=PARENT,
        outlets=[A, B],
        as_of=AS_OF,
        period=sales_period(AS_OF, 7),
        horizon=forecast_horizon(AS_OF, 2),
        **parts,  # type: ignore[arg-type]
    )


def forecast(tenant: str, rows: list[tuple[str, date, float]]) -> ForecastReply:
    return ForecastReply(
        tenant_id=tenant,
        forecasts=[
            ForecastRow(product_id=f"{tenant}-{sku}", sku=sku, product_name=sku.title(), date=day, predicted_quantity=q)
            for sku, day, q in rows
        ],
    )


def waste(tenant: str, produced: int, wasted: int, baseline: int) -> WasteReply:
    return WasteReply(
        tenant_id=tenant, days=[], produced_units=produced, waste_units=wasted, baseline_waste_units=baseline
    )


def sales(tenant: str, units: int) -> SalesReply:
    return SalesReply(tenant_id=tenant, days=[], total_units=units)


def test_periods_are_the_complete_days_before_and_the_days_from_as_of() -> None:
    assert sales_period(AS_OF, 7).model_dump() == {
        "start_date": date(2027, 3, 3),
        "end_date": date(2027, 3, 9),
        "days": 7,
    }
    assert forecast_horizon(AS_OF, 7).model_dump() == {
        "start_date": AS_OF,
        "end_date": date(2027, 3, 16),
        "days": 7,
    }


@pytest.mark.parametrize(
    ("executions", "outcome"),
    [
        ([], "not_run"),
        ([(True, False, "completed")], "succeeded"),
        ([(False, True, "completed_with_failures")], "failed"),
        ([(False, True, "completed_with_failures"), (True, False, "completed")], "succeeded"),  # a retry
        ([(False, False, "running")], "running"),
        ([(False, False, "failed")], "failed"),  # the run closed without taking it through
        ([(False, True, "running")], "failed"),
    ],
)
def test_a_day_succeeds_when_any_run_took_the_outlet_through(executions: list, outcome: str) -> None:
    assert day_outcome(executions) == outcome


def test_network_summary_sums_what_answered_and_says_what_did_not() -> None:
    # GIVEN two outlets: A answered everything, B's sales did not arrive; the central plan answered
    issue = Issue(part="sales", service="sales", outlet_id="b", reason="sales service answered 503")
    data = network(
        forecasts={
            "a": forecast(
                "a", [("pan", AS_OF, 10.25), ("pan", date(2027, 3, 11), 5.0), ("pan", date(2027, 3, 12), 99)]
            ),
            "b": forecast("b", [("pan", AS_OF, 2.5)]),
        },
        sales={"a": sales("a", 40)},
        waste={"a": waste("a", 100, 6, 15), "b": waste("b", 50, 4, 5)},
        plan=PlanReply(
            tenant_id="central",
            items=[PlanItem(product_id="p", sku="pan", product_name="Pan", date=AS_OF, quantity=20.0)],
        ),
        runs={"a": {AS_OF: "succeeded"}, "b": {AS_OF: "failed", date(2027, 3, 9): "succeeded"}},
        issues=[issue],
    )
    # WHEN summarised
    summary = network_summary(data)
    # THEN demand counts only the horizon's days, sales only A's, waste both, and the issue is carried
    assert summary.forecast_demand_units == 17.8  # 10.25 + 5.0 + 2.5 (the 12th is past the 2-day horizon)
    assert summary.planned_production_units == 20.0
    assert (summary.sales_units, summary.waste_units, summary.baseline_waste_units) == (40, 10, 20)
    assert summary.waste_reduction_percent == 50.0
    assert summary.outlets_ran_today == 1 and summary.workflow_today is not None
    assert summary.workflow_today.model_dump() == {"succeeded": 1, "failed": 1, "running": 0, "not_run": 0}
    assert summary.coverage == {"forecast": 2, "sales": 1, "waste": 2, "workflow_runs": 2}
    assert summary.partial and summary.issues == [issue]


def test_a_figure_nothing_answered_for_is_null_not_zero() -> None:
    issue = Issue(part="sales", service="sales", outlet_id=None, reason="every outlet: timed out")
    summary = network_summary(network(issues=[issue]))
    assert summary.sales_units is None and summary.waste_units is None and summary.forecast_demand_units is None
    assert summary.planned_production_units is None and summary.outlets_ran_today is None
    # AND a network with no outlets has nothing missing: its sums are zero
    empty = NetworkData(
        parent=PARENT, outlets=[], as_of=AS_OF, period=sales_period(AS_OF, 7), horizon=forecast_horizon(AS_OF, 2)
    )
    assert network_summary(empty).sales_units == 0 and not network_summary(empty).partial


def test_production_overview_balances_the_plan_against_the_outlets_demand_per_product() -> None:
    data = network(
        forecasts={
            "a": forecast("a", [("pan", AS_OF, 30.0), ("bollo", AS_OF, 10.0), ("tarta", AS_OF, 4.0)]),
            "b": forecast("b", [("pan", AS_OF, 25.0), ("bollo", date(2027, 3, 11), 12.0)]),
        },
        plan=PlanReply(
            tenant_id="central",
            items=[
                PlanItem(product_id="1", sku="pan", product_name="Pan", date=AS_OF, quantity=50.0),
                PlanItem(product_id="2", sku="bollo", product_name="Bollo", date=AS_OF, quantity=30.0),
                PlanItem(product_id="3", sku="tarta", product_name="Tarta", date=AS_OF, quantity=4.0),
            ],
        ),
    )
    overview = production_overview(data)
    lines = {line.product_key: line for line in overview.products}
    assert (lines["pan"].planned_units, lines["pan"].demanded_units, lines["pan"].status) == (50.0, 55.0, "shortfall")
    assert (lines["bollo"].balance_units, lines["bollo"].status) == (8.0, "surplus")
    assert lines["tarta"].status == "balanced"
    # AND the largest shortfall comes first, with the totals
    assert [line.product_key for line in overview.products][0] == "pan"
    assert (overview.shortfall_units, overview.surplus_units, overview.products_short) == (5.0, 8.0, 1)
    # AND without the plan, demand is still shown and nothing is called short
    unplanned = production_overview(network(forecasts=data.forecasts))
    assert unplanned.planned_units is None and {line.status for line in unplanned.products} == {None}
    assert unplanned.demanded_units == 81.0


def test_distribution_counts_only_the_networks_own_outlets_and_names_the_most_urgent_status() -> None:
    def stop(outlet: str, status: str) -> Stop:
        return Stop(outlet_id=outlet, shipment_id=f"s-{outlet}-{status}", status=status)  # type: ignore[arg-type]

    routes = RoutesReply(
        tenant_id="central",
        date=AS_OF,
        routes=[
            DeliveryRoute(
                route_id="r1",
                name="R1",
                status="active",
                stops=[stop("a", "delivered"), stop("a", "delayed"), stop("stranger", "pending")],
            ),
            DeliveryRoute(route_id="r2", name="R2", status="scheduled", stops=[stop("stranger", "pending")]),
        ],
    )
    status = distribution_status(network(routes=routes))
    assert [r.route_id for r in status.routes] == ["r1"] and status.routes[0].stops == 2
    assert status.shipments is not None and status.shipments.model_dump() == {
        "pending": 0,
        "in_transit": 0,
        "delivered": 1,
        "delayed": 1,
    }
    by_outlet = {o.outlet_id: o for o in status.outlets}
    assert by_outlet["a"].status == "delayed" and by_outlet["b"].status is None and by_outlet["b"].shipments == []
    assert status.active_routes == 1 and not status.partial


def test_outlets_rank_best_first_with_the_unknown_last() -> None:
    data = network(
        sales={"a": sales("a", 10), "b": sales("b", 30)},
        accuracy={"a": OutletAccuracy(mape=8.0, source="forecasting_service")},
    )
    by_sales = child_performance(data, "sales").outlets
    by_mape = child_performance(data, "mape").outlets
    assert [(r.outlet_id, r.rank) for r in by_sales] == [("b", 1), ("a", 2)]
    assert [(r.outlet_id, r.rank, r.mape) for r in by_mape] == [("a", 1, 8.0), ("b", 2, None)]
    # AND ties go by name
    tied = rank_outlets([r.model_copy(update={"sales_units": 5}) for r in reversed(by_sales)], "sales")
    assert [r.name for r in tied] == ["Outlet A", "Outlet B"]


def test_workflow_success_rate_counts_the_days_an_outlet_was_in_a_run_through_as_of() -> None:
    runs = {
        "a": {
            date(2027, 3, 3): "succeeded",
            date(2027, 3, 4): "failed",
            AS_OF: "succeeded",
            date(2027, 3, 1): "failed",
        },
    }
    rows = {r.outlet_id: r for r in child_performance(network(runs=runs), "success_rate").outlets}
    # (March 1st is before the period: not counted)
    assert (rows["a"].workflow_success_rate, rows["a"].workflow_days, rows["a"].workflow_today) == (
        66.7,
        3,
        "succeeded",
    )
    assert (rows["b"].workflow_success_rate, rows["b"].workflow_days, rows["b"].workflow_today) == (None, 0, "not_run")


def test_a_drill_down_shows_one_outlets_days_and_only_its_issues() -> None:
    other = Issue(part="sales", service="sales", outlet_id="b", reason="down")
    mine = Issue(part="waste", service="inventory", outlet_id="a", reason="down")
    data = network(
        sales={"a": SalesReply(tenant_id="a", days=[{"date": date(2027, 3, 5), "units": 9}], total_units=9)},  # type: ignore[list-item]
        accuracy={"a": OutletAccuracy(mape=5.5, source="forecasting_service", days={date(2027, 3, 5): 5.5})},
        runs={"a": {date(2027, 3, 5): "succeeded"}},
        issues=[other, mine],
    )
    view = outlet_detail(data, A, "sales")
    assert view.outlets == [] and view.outlet is not None
    detail = view.outlet
    assert detail.rank is None and detail.issues == [mine] and detail.partial
    assert len(detail.days) == 7
    fifth = next(d for d in detail.days if d.date == date(2027, 3, 5))
    assert (fifth.sales_units, fifth.mape, fifth.workflow, fifth.waste_units) == (9, 5.5, "succeeded", None)
    assert detail.days[0].sales_units is None and detail.days[0].workflow == "not_run"
