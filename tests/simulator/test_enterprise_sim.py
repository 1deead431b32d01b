"""The simulator's enterprise side over real HTTP: the 50-outlet network, the tenant hierarchy, the read-only
views (forecasts, accuracy, sales, waste, the central plan) and the distribution service."""

from __future__ import annotations

import math
from collections.abc import Iterator
from datetime import date, timedelta

import httpx
import pytest

from bakery_sim import SimulatorServer, data, demo_tenants, enterprise_network

DAY = date(2026, 12, 10)
WEEK_BEFORE = (DAY - timedelta(days=7), DAY - timedelta(days=1))


@pytest.fixture(scope="module")
def sim() -> Iterator[SimulatorServer]:
    with SimulatorServer(tenants=demo_tenants() + enterprise_network()) as server:
        yield server


@pytest.fixture()
def client(sim: SimulatorServer) -> Iterator[httpx.Client]:
    sim.state.reset()
    with httpx.Client(base_url=sim.url, timeout=10.0) as c:
        yield c


@pytest.fixture(scope="module")
def network() -> tuple[dict, list[dict]]:
    parent, *outlets = enterprise_network()
    return parent, outlets


def _period(start: date, end: date) -> dict[str, str]:
    return {"start_date": start.isoformat(), "end_date": end.isoformat()}


def test_the_large_network_is_a_parent_with_fifty_active_outlets_of_distinct_demand(network) -> None:
    # GIVEN the network WHEN built twice THEN it is the same, one enterprise parent and 50 active outlets
    parent, outlets = network
    assert enterprise_network() == [parent, *outlets]
    assert parent["subscription_tier"] == "enterprise" and parent["parent_tenant_id"] is None
    assert len(outlets) == 50 and {o["parent_tenant_id"] for o in outlets} == {parent["id"]}
    assert {o["status"] for o in outlets} == {"active"} and len({o["id"] for o in outlets}) == 50
    # AND each outlet's demand is its own (its seeded catalogue and volumes)
    daily = {
        round(sum(data.expected(p, DAY) for p in data.profile(o["id"], "enterprise").products), 3) for o in outlets
    }
    assert len(daily) == 50
    # AND the demo's three-outlet group is still there, unchanged, beside it
    demo_ids = {t["id"] for t in demo_tenants()}
    assert not demo_ids & {t["id"] for t in enterprise_network()}


def test_children_lists_only_the_parents_own_outlets(client: httpx.Client, network) -> None:
    parent, outlets = network
    # WHEN the tenant service is asked for the children of each enterprise parent
    big = client.get(f"/api/v1/tenants/{parent['id']}/children").json()
    group = next(t for t in demo_tenants() if t["name"] == "Panadería Central Group")
    small = client.get(f"/api/v1/tenants/{group['id']}/children").json()
    # THEN each gets its own outlets and nobody else
    assert big["total"] == 50 and {t["id"] for t in big["tenants"]} == {o["id"] for o in outlets}
    assert small["total"] == 3 and {t["parent_tenant_id"] for t in small["tenants"]} == {group["id"]}
    # AND an unknown parent is 404, an id that is not a UUID 422, a tenant without outlets has none
    assert client.get(f"/api/v1/tenants/{'0' * 8}-0000-0000-0000-{'0' * 12}/children").status_code == 404
    assert client.get("/api/v1/tenants/not-a-uuid/children").status_code == 422
    lone = outlets[0]["id"]
    assert client.get(f"/api/v1/tenants/{lone}/children").json() == {"tenants": [], "total": 0}


def test_sales_and_waste_over_a_period_follow_the_seeded_sales_and_bakes(client: httpx.Client, network) -> None:
    _, outlets = network
    outlet = outlets[7]
    prof = data.profile(outlet["id"], outlet["subscription_tier"])
    # WHEN sales and waste are read over the week before DAY
    sales = client.get("/api/v1/sales/summary", params={"tenant_id": outlet["id"], **_period(*WEEK_BEFORE)}).json()
    waste = client.get("/api/v1/inventory/waste", params={"tenant_id": outlet["id"], **_period(*WEEK_BEFORE)}).json()
    # THEN each day's sales are the seeded actual sales, and waste is what the whole batches left unsold
    days = [WEEK_BEFORE[0] + timedelta(days=i) for i in range(7)]
    assert [d["units"] for d in sales["days"]] == [
        sum(data.actual(outlet["id"], p, d) for p in prof.products) for d in days
    ]
    assert sales["total_units"] == sum(d["units"] for d in sales["days"])
    for day, row in zip(days, waste["days"], strict=True):
        baked = {
            p.slug: max(1, math.ceil(round(data.expected(p, day), 1) / p.batch_size)) * p.batch_size
            for p in prof.products
        }
        assert row["produced_units"] == sum(baked.values())
        assert row["sold_units"] == next(s["units"] for s in sales["days"] if s["date"] == day.isoformat())
        assert row["waste_units"] == sum(
            max(0, baked[p.slug] - data.actual(outlet["id"], p, day)) for p in prof.products
        )
    # AND the baseline is the outlet's own seeded share (10-20%) of what it made
    rate = waste["baseline_waste_rate"]
    assert 0.10 <= rate <= 0.20 and waste["baseline_waste_units"] == round(waste["produced_units"] * rate)


def test_reading_a_forecast_stores_nothing_and_matches_a_generated_one(client: httpx.Client, sim, network) -> None:
    _, outlets = network
    params = {"tenant_id": outlets[0]["id"], "start_date": DAY.isoformat(), "days_ahead": 7}
    # WHEN a forecast is read
    read = client.get("/api/v1/forecasting/forecasts", params=params).json()
    # THEN none is stored (no later plan picks it up) and it equals what generating would give
    assert sim.state.forecasts == {}
    generated = client.post("/api/v1/forecasting/generate", json=params).json()
    assert read == generated and {"sku", "product_name"} <= set(read["forecasts"][0])


def test_accuracy_is_the_mean_of_the_days_validation_mape(client: httpx.Client, network) -> None:
    _, outlets = network
    outlet_id = outlets[3]["id"]
    accuracy = client.get(
        "/api/v1/forecasting/accuracy", params={"tenant_id": outlet_id, **_period(*WEEK_BEFORE)}
    ).json()
    validated = [
        client.post("/api/v1/forecasting/validate", json={"tenant_id": outlet_id, "date": d["date"]}).json()["mape"]
        for d in accuracy["days"]
    ]
    assert [d["mape"] for d in accuracy["days"]] == validated and len(validated) == 7
    assert accuracy["mape"] == round(sum(validated) / 7, 2)


def test_a_central_site_plans_for_its_network_and_an_outlet_for_itself(client: httpx.Client, network) -> None:
    parent, outlets = network
    params = {"start_date": DAY.isoformat(), "days_ahead": 7}
    plan = client.get("/api/v1/production/schedules", params={"tenant_id": parent["id"], **params}).json()
    own = client.get("/api/v1/production/schedules", params={"tenant_id": outlets[0]["id"], **params}).json()
    # THEN the central plan covers every product any outlet sells, each day, in whole batches
    skus = {p.slug for o in outlets for p in data.profile(o["id"], "enterprise").products}
    assert plan["scope"] == "network" and plan["outlets"] == 50
    assert {i["sku"] for i in plan["items"]} == skus and len(plan["items"]) == 7 * len(skus)
    assert all(i["quantity"] == i["batch_count"] * data.BATCH_SIZE[i["sku"]] for i in plan["items"])
    # AND an outlet's own plan is its schedule (no network scope)
    assert "scope" not in own and {i["sku"] for i in own["items"]} == {
        p.slug for p in data.profile(outlets[0]["id"], "enterprise").products
    }


def test_delivery_routes_visit_every_outlet_once_with_a_seeded_status(client: httpx.Client, network) -> None:
    parent, outlets = network
    # WHEN the distribution service is asked for the day's routes, twice
    first = client.get("/api/v1/distribution/routes", params={"tenant_id": parent["id"], "date": DAY.isoformat()})
    again = client.get("/api/v1/distribution/routes", params={"tenant_id": parent["id"], "date": DAY.isoformat()})
    routes = first.json()["routes"]
    # THEN the answer repeats, every outlet has exactly one shipment, routes hold at most ROUTE_SIZE stops
    assert first.json() == again.json()
    stops = [s for r in routes for s in r["stops"]]
    assert sorted(s["outlet_id"] for s in stops) == sorted(o["id"] for o in outlets)
    assert all(len(r["stops"]) <= data.ROUTE_SIZE for r in routes) and len(routes) == 7
    assert {s["status"] for s in stops} == {"pending", "in_transit", "delivered", "delayed"}
    assert all(("delay_minutes" in s) == (s["status"] == "delayed") for s in stops)
    # AND a route is active while any of its shipments is not yet delivered
    for route in routes:
        statuses = {s["status"] for s in route["stops"]}
        assert route["status"] == (
            "completed" if statuses == {"delivered"} else "scheduled" if statuses == {"pending"} else "active"
        )


def test_the_read_views_reject_bad_input_naming_the_field(client: httpx.Client, network) -> None:
    _, outlets = network
    tid = outlets[0]["id"]
    backwards = client.get("/api/v1/sales/summary", params={"tenant_id": tid, **_period(DAY, DAY - timedelta(days=1))})
    too_long = client.get(
        "/api/v1/inventory/waste", params={"tenant_id": tid, **_period(DAY, DAY + timedelta(days=400))}
    )
    no_date = client.get("/api/v1/distribution/routes", params={"tenant_id": tid})
    assert (backwards.status_code, backwards.json()["detail"].split(":")[0]) == (422, "end_date")
    assert (too_long.status_code, too_long.json()["detail"].split(":")[0]) == (422, "end_date")
    assert (no_date.status_code, no_date.json()["detail"].split(":")[0]) == (422, "date")


def test_the_distribution_service_takes_faults_like_the_others(client: httpx.Client, sim, network) -> None:
    parent, _ = network
    sim.state.set_fault("distribution", status_code=503, error_rate=1.0)
    response = client.get("/api/v1/distribution/routes", params={"tenant_id": parent["id"], "date": DAY.isoformat()})
    assert response.status_code == 503 and sim.state.calls_for("distribution", parent["id"]) == 1
