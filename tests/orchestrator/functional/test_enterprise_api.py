"""The enterprise network routes through chalice.test.Client on the local stack (embedded defaults), with the
simulator serving the demo tenants and the 50-outlet network.

Every KPI is checked against numbers computed here from the simulator's seeded data (its catalogue, seeded
demand and sales, each outlet's seeded baseline, the central site's seeded capacity, the seeded shipment
statuses) with this file's own arithmetic, never by calling the product code.

Dates: manual runs here use 2029 (named `<workflow>-<scope>-<date>-manual`), so they never meet another
module's executions.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from typing import Any

import pytest
from chalice.test import Client

from app import app
from bakery_sim import data
from bakery_sim.tenants import demo_tenants, enterprise_network
from chalicelib.api.auth import issue_token

ADMIN = issue_token(subject="ops", role="platform_admin")
AS_OF = date(2026, 12, 10)
AS_OF_Q = f"as_of={AS_OF.isoformat()}"
PARENT, *OUTLETS = enterprise_network()
DEMO = demo_tenants()
GROUP = next(t for t in DEMO if t["name"] == "Panadería Central Group")
GROUP_OUTLETS = sorted((t for t in DEMO if t["parent_tenant_id"] == GROUP["id"]), key=lambda t: t["name"])
PROFESSIONAL = next(t for t in DEMO if t["name"] == "Horno San Onofre")


def token_of(tenant: dict[str, Any], role: str = "tenant_admin", tier: str | None = None) -> str:
    return issue_token(
        subject=f"user-{tenant['id']}", role=role, tenant_id=tenant["id"], tier=tier or tenant["subscription_tier"]
    )


class Api:
    def __init__(self, http: Any) -> None:
        self.http = http

    def get(self, path: str, token: str | None = ADMIN) -> tuple[int, Any, dict[str, str]]:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        response = self.http.get(path, headers=headers)
        text = response.body.decode() if isinstance(response.body, bytes) else response.body
        return response.status_code, json.loads(text) if text else None, response.headers

    def view(self, parent: dict[str, Any], route: str, query: str = AS_OF_Q, token: str | None = ADMIN) -> Any:
        status, body, _ = self.get(f"/api/v1/{parent['id']}/orchestrator/enterprise/{route}?{query}", token)
        assert status == 200, body
        return body

    def post(self, path: str, body: Any) -> tuple[int, Any]:
        response = self.http.post(
            path,
            headers={"Authorization": f"Bearer {ADMIN}", "Content-Type": "application/json"},
            body=json.dumps(body).encode(),
        )
        return response.status_code, json.loads(response.body)


@pytest.fixture(scope="module")
def networks(stack: Any) -> Iterator[None]:
    """The simulator serves the demo tenants and the 50-outlet network for this module, then the demo only."""
    stack.simulator.state.set_tenants(DEMO + enterprise_network())
    yield
    stack.simulator.state.set_tenants(demo_tenants())


@pytest.fixture()
def api(networks: None, simulator: Any) -> Iterator[Api]:
    """A client, every cached network view dropped first (tests do not share cache entries)."""
    from chalicelib.adapters.view_cache import ViewCache

    ViewCache().invalidate_parents([PARENT["id"], GROUP["id"], PROFESSIONAL["id"]])
    with Client(app, stage_name="local") as test_client:
        yield Api(test_client.http)


def run_manually(api: Api, stack: Any, tenant_ids: list[str], run_date: str) -> dict[str, Any]:
    status, body = api.post(
        "/api/v1/orchestrator/workflows/daily_operations/execute", {"tenant_ids": tenant_ids, "run_date": run_date}
    )
    assert status == 202, body
    return stack.wait(body["runs"][0]["execution_name"], timeout=180).summary


# --- the simulator's seeded data, added up here ----------------------------------------------------------
def profile(tenant: dict[str, Any]) -> data.Profile:
    return data.profile(tenant["id"], tenant["subscription_tier"])


def days_from(first: date, count: int) -> list[date]:
    return [first + timedelta(days=i) for i in range(count)]


HORIZON = days_from(AS_OF, 7)
PERIOD = days_from(AS_OF - timedelta(days=7), 7)


def baked(product: data.Product, day: date) -> int:
    """Whole batches covering the day's rounded forecast."""
    return max(1, math.ceil(round(data.expected(product, day), 1) / product.batch_size)) * product.batch_size


def daily_mape(tenant: dict[str, Any], day: date) -> float:
    pairs = [(round(data.expected(p, day), 1), data.actual(tenant["id"], p, day)) for p in profile(tenant).products]
    errors = [abs(sold - predicted) / sold for predicted, sold in pairs if sold > 0]
    return round(100.0 * sum(errors) / max(1, len(errors)), 2)


def outlet_figures(tenant: dict[str, Any]) -> dict[str, Any]:
    products = profile(tenant).products
    produced = sum(baked(p, d) for p in products for d in PERIOD)
    waste = sum(max(0, baked(p, d) - data.actual(tenant["id"], p, d)) for p in products for d in PERIOD)
    baseline = round(produced * data.baseline_waste_rate(tenant["id"]))
    return {
        "demand": sum(round(data.expected(p, d), 1) for p in products for d in HORIZON),
        "sales": sum(data.actual(tenant["id"], p, d) for p in products for d in PERIOD),
        "produced": produced,
        "waste": waste,
        "baseline": baseline,
        "mape": round(sum(daily_mape(tenant, d) for d in PERIOD) / len(PERIOD), 2),
    }


def central_plan(parent: dict[str, Any], outlets: list[dict[str, Any]]) -> dict[str, float]:
    """Per SKU over the horizon: the outlets' rounded demand times the site's capacity, in whole batches."""
    need: dict[tuple[str, date], int] = {}
    batch: dict[str, int] = {}
    for outlet in outlets:
        for p in profile(outlet).products:
            batch[p.slug] = p.batch_size
            for d in HORIZON:
                need[(p.slug, d)] = need.get((p.slug, d), 0) + round(data.expected(p, d))
    return {
        sku: sum(
            max(1, math.ceil(need[(sku, d)] * data.capacity_factor(parent["id"], sku) / size)) * size for d in HORIZON
        )
        for sku, size in batch.items()
    }


@pytest.fixture(scope="module")
def figures() -> dict[str, dict[str, Any]]:
    return {o["id"]: outlet_figures(o) for o in OUTLETS}


# --- KPIs ---------------------------------------------------------------------------------------------------
def test_network_summary_kpis_match_the_simulators_seeded_data(api: Api, figures: dict[str, Any]) -> None:
    # WHEN the parent's own user asks for the 50-outlet network's summary on a day without runs
    summary = api.view(PARENT, "network-summary", token=token_of(PARENT))
    # THEN every KPI is the sum over the outlets of the seeded data
    assert summary["partial"] is False and summary["issues"] == []
    assert summary["outlets"] == 50 and summary["parent_name"] == PARENT["name"]
    assert summary["forecast_demand_units"] == pytest.approx(sum(f["demand"] for f in figures.values()), abs=0.11)
    assert summary["planned_production_units"] == sum(central_plan(PARENT, OUTLETS).values())
    assert summary["sales_units"] == sum(f["sales"] for f in figures.values())
    waste, baseline = sum(f["waste"] for f in figures.values()), sum(f["baseline"] for f in figures.values())
    assert (summary["waste_units"], summary["baseline_waste_units"]) == (waste, baseline)
    assert summary["waste_reduction_percent"] == pytest.approx(100 * (baseline - waste) / baseline, abs=0.051)
    assert summary["outlets_ran_today"] == 0
    assert summary["workflow_today"] == {"succeeded": 0, "failed": 0, "running": 0, "not_run": 50}
    assert summary["sales_period"] == {"start_date": "2026-12-03", "end_date": "2026-12-09", "days": 7}
    assert summary["forecast_horizon"] == {"start_date": "2026-12-10", "end_date": "2026-12-16", "days": 7}
    assert summary["coverage"] == {"forecast": 50, "sales": 50, "waste": 50, "workflow_runs": 50}


def test_a_longer_period_adds_up_more_days(api: Api) -> None:
    # WHEN the period is 14 days THEN sales cover the 14 days before as_of
    summary = api.view(PARENT, "network-summary", f"{AS_OF_Q}&period_days=14")
    period = days_from(AS_OF - timedelta(days=14), 14)
    expected = sum(data.actual(o["id"], p, d) for o in OUTLETS for p in profile(o).products for d in period)
    assert summary["sales_units"] == expected and summary["sales_period"]["days"] == 14


def test_production_overview_per_product_matches_the_central_plan_and_the_outlets_demand(api: Api) -> None:
    overview = api.view(PARENT, "production-overview")
    plan = central_plan(PARENT, OUTLETS)
    demand: dict[str, float] = {}
    for outlet in OUTLETS:
        for p in profile(outlet).products:
            demand[p.slug] = demand.get(p.slug, 0.0) + sum(round(data.expected(p, d), 1) for d in HORIZON)
    lines = {line["product_key"]: line for line in overview["products"]}
    # THEN every product the outlets sell has a line: planned, demanded and the balance between them
    assert set(lines) == set(plan) == set(demand)
    for sku, line in lines.items():
        assert line["planned_units"] == plan[sku]
        assert line["demanded_units"] == pytest.approx(demand[sku], abs=0.051)
        assert line["balance_units"] == pytest.approx(plan[sku] - demand[sku], abs=0.11)
        assert line["status"] == ("shortfall" if plan[sku] < demand[sku] else "surplus")
    # AND the seeded capacity makes some products short and others in surplus, largest shortfall first
    short = [line for line in overview["products"] if line["status"] == "shortfall"]
    assert 0 < overview["products_short"] == len(short) < len(lines)
    assert overview["products"][: len(short)] == sorted(short, key=lambda line: line["balance_units"])
    assert overview["shortfall_units"] == pytest.approx(
        sum(demand[s] - plan[s] for s in plan if plan[s] < demand[s]), abs=0.2
    )
    assert overview["planned_units"] == sum(plan.values()) and overview["central_tenant_id"] == PARENT["id"]


def test_distribution_status_gives_every_outlets_seeded_shipment_status(api: Api) -> None:
    status = api.view(PARENT, "distribution-status")
    seeded = {o["id"]: data.shipment_status(PARENT["id"], o["id"], AS_OF) for o in OUTLETS}
    # THEN each outlet shows its shipment's status, and the counts add them up
    assert {o["outlet_id"]: o["status"] for o in status["outlets"]} == seeded
    assert status["shipments"] == {
        s: list(seeded.values()).count(s) for s in ("pending", "in_transit", "delivered", "delayed")
    }
    # AND the routes carry 8 outlets each (the last the rest), active while any shipment is under way
    assert sorted(r["stops"] for r in status["routes"]) == [2, 8, 8, 8, 8, 8, 8]
    assert status["active_routes"] == sum(1 for r in status["routes"] if r["status"] == "active") > 0
    assert status["date"] == AS_OF.isoformat() and status["partial"] is False


def test_child_performance_ranks_by_mape_with_the_forecasting_services_accuracy(
    api: Api, figures: dict[str, Any]
) -> None:
    view = api.view(PARENT, "child-performance", f"{AS_OF_Q}&sort_by=mape")
    rows = view["outlets"]
    # THEN each outlet's MAPE, sales and waste are its seeded figures
    for row in rows:
        seeded = figures[row["outlet_id"]]
        assert row["mape"] == pytest.approx(seeded["mape"], abs=0.011) and row["mape_source"] == "forecasting_service"
        assert (row["sales_units"], row["waste_units"], row["baseline_waste_units"]) == (
            seeded["sales"],
            seeded["waste"],
            seeded["baseline"],
        )
        assert row["waste_rate_percent"] == pytest.approx(100 * seeded["waste"] / seeded["produced"], abs=0.051)
        assert row["workflow_success_rate"] is None and row["workflow_days"] == 0
    # AND the ranking is the lowest MAPE first, 1..50
    assert [r["rank"] for r in rows] == list(range(1, 51))
    assert [r["mape"] for r in rows] == sorted(r["mape"] for r in rows)
    by_sales = api.view(PARENT, "child-performance", f"{AS_OF_Q}&sort_by=sales")["outlets"]
    assert [r["sales_units"] for r in by_sales] == sorted((f["sales"] for f in figures.values()), reverse=True)


def test_child_performance_drills_down_to_one_outlet(api: Api, figures: dict[str, Any]) -> None:
    outlet = OUTLETS[17]
    view = api.view(PARENT, "child-performance", f"{AS_OF_Q}&outlet_id={outlet['id']}")
    detail = view["outlet"]
    # THEN it is that outlet's figures, day by day over the period
    assert view["outlets"] == [] and detail["outlet_id"] == outlet["id"] and detail["rank"] is None
    assert [d["date"] for d in detail["days"]] == [d.isoformat() for d in PERIOD]
    products = profile(outlet).products
    assert [d["sales_units"] for d in detail["days"]] == [
        sum(data.actual(outlet["id"], p, d) for p in products) for d in PERIOD
    ]
    assert [d["mape"] for d in detail["days"]] == [daily_mape(outlet, d) for d in PERIOD]
    assert detail["forecast_demand_units"] == pytest.approx(figures[outlet["id"]]["demand"], abs=0.051)
    (shipment,) = detail["shipments"]
    assert shipment["status"] == data.shipment_status(PARENT["id"], outlet["id"], AS_OF)
    # AND a tenant that is not one of its outlets is 404 naming outlet_id
    status, body, _ = api.get(
        f"/api/v1/{PARENT['id']}/orchestrator/enterprise/child-performance?outlet_id={GROUP_OUTLETS[0]['id']}"
    )
    assert (status, body["field"]) == (404, "outlet_id")


def test_the_dashboard_is_the_four_views_in_one_payload(api: Api) -> None:
    dashboard = api.view(PARENT, "dashboard")
    # THEN it holds the same figures the four routes give
    summary = api.view(PARENT, "network-summary")
    assert {k: v for k, v in dashboard["network_summary"].items()} == {
        k: v for k, v in summary.items() if k not in ("parent_tenant_id", "parent_name", "as_of", "generated_at")
    }
    assert dashboard["production_overview"]["products"] == api.view(PARENT, "production-overview")["products"]
    assert dashboard["distribution_status"]["outlets"] == api.view(PARENT, "distribution-status")["outlets"]
    assert dashboard["child_performance"]["outlets"] == api.view(PARENT, "child-performance")["outlets"]
    assert dashboard["partial"] is False and dashboard["as_of"] == AS_OF.isoformat()


def test_only_the_parents_own_children_are_read(api: Api, simulator: Any) -> None:
    # WHEN the demo group's dashboard is read
    api.view(GROUP, "dashboard")
    calls = simulator.state.calls()
    # THEN the tenant service was asked for the group and its children, never for the platform's whole list
    tenant_paths = {c["path"] for c in calls if c["service"] == "tenant"}
    assert tenant_paths == {"/api/v1/tenants/{tenant_id}", "/api/v1/tenants/{tenant_id}/children"}
    # AND per-outlet services were asked about the group's three outlets only (the plan and routes: the group)
    asked = {c["tenant_id"] for c in calls if c["service"] in ("forecasting", "sales", "inventory")}
    assert asked == {o["id"] for o in GROUP_OUTLETS}
    assert {c["tenant_id"] for c in calls if c["service"] in ("production", "distribution")} == {GROUP["id"]}


# --- gating ---------------------------------------------------------------------------------------------------
def test_gating_by_tier_membership_and_role(api: Api) -> None:
    def get(parent: dict[str, Any] | str, token: str | None) -> tuple[int, Any]:
        ident = parent if isinstance(parent, str) else parent["id"]
        status, body, _ = api.get(f"/api/v1/{ident}/orchestrator/enterprise/network-summary?{AS_OF_Q}", token)
        return status, body

    outlet_user = token_of(GROUP_OUTLETS[0], role="tenant_user")
    # THEN the parent's own users and platform admins see the network
    assert get(GROUP, token_of(GROUP))[0] == 200 and get(GROUP, ADMIN)[0] == 200
    assert get(GROUP, token_of(GROUP, role="tenant_user", tier="starter"))[0] == 200  # the tier is the service's
    # AND an outlet's user gets 403 on its parent's network view, as does another tenant
    for token in (outlet_user, token_of(PARENT), token_of(PROFESSIONAL)):
        status, body = get(GROUP, token)
        assert (status, body["error"]) == (403, "forbidden") and "own users" in body["message"], body
    # AND a parent below the enterprise tier is 403 naming the tier requirement, for its users and admins
    for token in (token_of(PROFESSIONAL), ADMIN):
        status, body = get(PROFESSIONAL, token)
        assert status == 403 and "enterprise subscription tier" in body["message"], body
        assert "professional" in body["message"]
    # AND an outlet is not a network of its own
    status, body = get(GROUP_OUTLETS[0], token_of(GROUP_OUTLETS[0]))
    assert status == 403 and f"is an outlet of {GROUP['id']}" in body["message"], body
    # AND an unknown parent is 404, a malformed id 400 naming it, no token 401
    status, body = get("5e0b7a14-0000-4000-8000-000000000000", ADMIN)
    assert (status, body["field"]) == (404, "parent_tenant"), body
    status, body = get("not%20an%20id", ADMIN)
    assert (status, body["field"]) == (400, "parent_tenant"), body
    assert get(GROUP, None)[0] == 401


def test_without_as_of_the_view_is_of_today_in_the_parents_timezone(api: Api) -> None:
    from zoneinfo import ZoneInfo

    before = datetime.now(ZoneInfo(GROUP["timezone"])).date()
    summary = api.view(GROUP, "network-summary", "")
    after = datetime.now(ZoneInfo(GROUP["timezone"])).date()
    assert date.fromisoformat(summary["as_of"]) in {before, after}
    assert summary["sales_period"]["end_date"] == (date.fromisoformat(summary["as_of"]) - timedelta(days=1)).isoformat()


def test_bad_query_parameters_are_400_naming_the_field(api: Api) -> None:
    base = f"/api/v1/{GROUP['id']}/orchestrator/enterprise"
    for path, field in (
        (f"{base}/network-summary?period_days=0", "period_days"),
        (f"{base}/network-summary?period_days=91", "period_days"),
        (f"{base}/dashboard?as_of=1999-12-31", "as_of"),
        (f"{base}/dashboard?as_of=tomorrow", "as_of"),
        (f"{base}/child-performance?sort_by=luck", "sort_by"),
        (f"{base}/child-performance?outlet_id=a/b", "outlet_id"),
    ):
        status, body, _ = api.get(path)
        assert (status, body["field"]) == (400, field), (path, body)


# --- partial failure ------------------------------------------------------------------------------------------
def test_one_outlet_down_degrades_only_its_part(api: Api, simulator: Any, figures: dict[str, Any]) -> None:
    # GIVEN one outlet's forecasting, sales and inventory answering 503
    down = OUTLETS[4]["id"]
    for service in ("forecasting", "sales", "inventory"):
        simulator.state.set_fault(service, status_code=503, error_rate=1.0, tenant_ids=[down])
    # WHEN the dashboard is read
    dashboard = api.view(PARENT, "dashboard")
    # THEN it is 200 and partial, the issues name that outlet and each missing part
    assert dashboard["partial"] is True
    assert {(i["part"], i["outlet_id"]) for i in dashboard["issues"]} == {
        ("forecast", down),
        ("sales", down),
        ("waste", down),
        ("accuracy", down),
    }
    assert all("503" in i["reason"] for i in dashboard["issues"])
    # AND the network figures cover the other 49 outlets
    summary = dashboard["network_summary"]
    assert summary["sales_units"] == sum(f["sales"] for o, f in figures.items() if o != down)
    assert summary["coverage"] == {"forecast": 49, "sales": 49, "waste": 49, "workflow_runs": 50}
    # AND only that outlet's row is partial, with its figures null; the others are whole
    rows = {r["outlet_id"]: r for r in dashboard["child_performance"]["outlets"]}
    assert rows[down]["partial"] and rows[down]["sales_units"] is None and rows[down]["mape"] is None
    assert rows[down]["rank"] == 50  # unknown figures rank last
    assert not any(r["partial"] for o, r in rows.items() if o != down)
    # AND the distribution section is untouched
    assert dashboard["distribution_status"]["partial"] is False


def test_one_service_down_degrades_only_its_section(api: Api, simulator: Any) -> None:
    # GIVEN the distribution service answering 503
    simulator.state.set_fault("distribution", status_code=503, error_rate=1.0)
    dashboard = api.view(PARENT, "dashboard")
    distribution = dashboard["distribution_status"]
    # THEN only the distribution section is partial, saying why, with no counts made up
    assert distribution["partial"] and distribution["shipments"] is None and distribution["routes"] == []
    ((issue),) = distribution["issues"]
    assert (issue["service"], issue["outlet_id"]) == ("distribution", None) and "503" in issue["reason"]
    assert [s for s in ("network_summary", "production_overview", "child_performance") if dashboard[s]["partial"]] == []
    # AND when the sales service is down for everyone, one issue says so and sales are unknown, not zero
    simulator.state.clear_faults()
    simulator.state.set_fault("sales", status_code=500, error_rate=1.0)
    summary = api.view(PARENT, "network-summary")
    assert summary["sales_units"] is None and summary["waste_units"] is not None
    ((issue),) = summary["issues"]
    assert (issue["part"], issue["outlet_id"]) == ("sales", None) and issue["reason"].startswith("every outlet:")


def test_a_service_slow_past_its_timeout_is_cut_off_and_reported(api: Api, simulator: Any, set_env: Any) -> None:
    # GIVEN a 0.3 s timeout per call and the sales service taking 2 s for every call
    set_env("ENTERPRISE_CALL_TIMEOUT_SECONDS", "0.3")
    simulator.state.set_fault("sales", latency_ms=2000)
    # WHEN the demo group's summary is read
    summary = api.view(GROUP, "network-summary")
    # THEN the sales are reported as timed out, the rest is there
    assert summary["partial"] and summary["sales_units"] is None
    ((issue),) = summary["issues"]
    assert issue["part"] == "sales" and "timed out after 0.3 s" in issue["reason"], issue
    assert summary["waste_units"] is not None and summary["forecast_demand_units"] is not None


def test_without_the_tenant_service_there_is_no_network_503(api: Api, simulator: Any) -> None:
    simulator.state.set_fault("tenant", status_code=503, error_rate=1.0)
    status, body, _ = api.get(f"/api/v1/{GROUP['id']}/orchestrator/enterprise/dashboard")
    assert (status, body["error"]) == (503, "dependency_unavailable") and "tenant service" in body["message"]


# --- runs and the cache ---------------------------------------------------------------------------------------
def test_outlets_ran_today_counts_this_services_own_runs(api: Api, stack: Any, simulator: Any) -> None:
    # GIVEN a manual daily run over two of the group's three outlets, the production service failing one
    ok, broken, idle = GROUP_OUTLETS
    simulator.state.set_fault("production", status_code=422, error_rate=1.0, tenant_ids=[broken["id"]])
    result = run_manually(api, stack, [ok["id"], broken["id"]], "2029-01-15")
    assert result["status"] == "completed_with_failures", result
    # WHEN the group's summary and outlets are read for that day
    simulator.state.clear_faults()
    summary = api.view(GROUP, "network-summary", "as_of=2029-01-15")
    rows = {r["outlet_id"]: r for r in api.view(GROUP, "child-performance", "as_of=2029-01-15")["outlets"]}
    # THEN one outlet ran today's workflow successfully, one failed, one did not run
    assert summary["outlets_ran_today"] == 1
    assert summary["workflow_today"] == {"succeeded": 1, "failed": 1, "running": 0, "not_run": 1}
    assert (rows[ok["id"]]["workflow_today"], rows[ok["id"]]["workflow_success_rate"]) == ("succeeded", 100.0)
    assert (rows[broken["id"]]["workflow_today"], rows[broken["id"]]["workflow_success_rate"]) == ("failed", 0.0)
    assert (rows[idle["id"]]["workflow_today"], rows[idle["id"]]["workflow_success_rate"]) == ("not_run", None)


def test_views_are_cached_and_a_run_covering_the_network_drops_them(api: Api, stack: Any) -> None:
    path = f"/api/v1/{GROUP['id']}/orchestrator/enterprise/network-summary?as_of=2029-02-01"
    # GIVEN the group's summary read once
    _, first, headers = api.get(path)
    assert headers["X-Cache"] == "miss" and first["outlets_ran_today"] == 0
    # WHEN it is read again THEN it comes from the cache, as it was
    _, again, headers = api.get(path)
    assert headers["X-Cache"] == "hit" and again == first
    # AND another query is its own entry
    assert api.get(path + "&period_days=3")[2]["X-Cache"] == "miss"
    # WHEN a run over a tenant outside the network finishes THEN the entry stays
    run_manually(api, stack, [PROFESSIONAL["id"]], "2029-02-02")
    assert api.get(path)[2]["X-Cache"] == "hit"
    # WHEN a run covering the network's outlets finishes
    result = run_manually(api, stack, [o["id"] for o in GROUP_OUTLETS], "2029-02-01")
    assert result["status"] == "completed", result
    # THEN the next read is computed afresh and shows the run
    _, after, headers = api.get(path)
    assert headers["X-Cache"] == "miss" and after["outlets_ran_today"] == 3
    assert after["generated_at"] > first["generated_at"]


def test_a_partial_view_is_not_cached(api: Api, simulator: Any) -> None:
    path = f"/api/v1/{GROUP['id']}/orchestrator/enterprise/distribution-status?{AS_OF_Q}"
    simulator.state.set_fault("distribution", status_code=503, error_rate=1.0)
    _, broken, headers = api.get(path)
    assert broken["partial"] and headers["X-Cache"] == "miss"
    # WHEN the service is back THEN the next read asks it again and gets the whole view
    simulator.state.clear_faults()
    _, whole, headers = api.get(path)
    assert not whole["partial"] and headers["X-Cache"] == "miss"
    assert api.get(path)[2]["X-Cache"] == "hit"


def test_a_parent_id_in_another_letter_case_is_answered_but_never_cached(api: Api) -> None:
    # (a run's close drops cached views by the tenant service's ids: another spelling would be missed)
    path = f"/api/v1/{GROUP['id'].upper()}/orchestrator/enterprise/network-summary?{AS_OF_Q}"
    answers = [api.get(path, token_of(GROUP)) for _ in range(2)]
    assert [(status, headers["X-Cache"]) for status, _, headers in answers] == [(200, "miss"), (200, "miss")]
    assert answers[0][1]["parent_tenant_id"] == GROUP["id"]


def test_a_zero_ttl_turns_the_cache_off(api: Api, set_env: Any) -> None:
    set_env("ENTERPRISE_CACHE_TTL_SECONDS", "0")
    path = f"/api/v1/{GROUP['id']}/orchestrator/enterprise/network-summary?{AS_OF_Q}"
    assert [api.get(path)[2]["X-Cache"] for _ in range(2)] == ["miss", "miss"]


def test_the_routes_are_in_openapi_with_their_errors(api: Api) -> None:
    _, doc, _ = api.get("/openapi.json", None)
    prefix = "/api/v1/{parent_tenant}/orchestrator/enterprise"
    routes = ("dashboard", "network-summary", "production-overview", "distribution-status", "child-performance")
    for route in routes:
        operation = doc["paths"][f"{prefix}/{route}"]["get"]
        assert {"200", "400", "401", "403", "404", "503"} <= set(operation["responses"]), route
        assert "enterprise" in operation["tags"]
    names = {p["name"] for p in doc["paths"][f"{prefix}/child-performance"]["get"]["parameters"]}
    assert names == {"parent_tenant", "as_of", "period_days", "outlet_id", "sort_by"}
