"""Functional tests for the simulated bakery platform services, over real HTTP."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import date, timedelta

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bakery_sim import SimulatorServer, demo_tenants, synthetic_tenants

MONDAY = date(2025, 3, 10)  # outside roscón season, so only the weekly pattern differs
FORECAST = "/api/v1/forecasting/generate"


@pytest.fixture(scope="module")
def sim() -> Iterator[SimulatorServer]:
    with SimulatorServer() as server:
        yield server


@pytest.fixture()
def client(sim: SimulatorServer) -> Iterator[httpx.Client]:
    sim.state.reset()
    with httpx.Client(base_url=sim.url, timeout=5.0) as c:
        yield c


@pytest.fixture(scope="module")
def tid() -> str:
    return next(t["id"] for t in demo_tenants() if t["name"] == "Horno San Onofre")


def _forecast(c: httpx.Client, tenant_id: str, start: date = MONDAY, days: int = 7) -> httpx.Response:
    return c.post(FORECAST, json={"tenant_id": tenant_id, "start_date": start.isoformat(), "days_ahead": days})


# -- tenants ----------------------------------------------------------------------


def test_tenant_listing_is_sorted_and_filterable(client: httpx.Client) -> None:
    # GIVEN the demo tenants WHEN listing without and with status filters
    everything = client.get("/api/v1/tenants").json()
    active = client.get("/api/v1/tenants", params={"status": "active"}).json()
    comma = client.get("/api/v1/tenants?status=suspended,cancelled").json()
    repeated = client.get("/api/v1/tenants?status=suspended&status=cancelled").json()
    page = client.get("/api/v1/tenants", params={"status": "active", "limit": 3, "offset": 2}).json()
    # THEN totals count the filter, results are sorted by name and pages slice the same order
    names = [t["name"] for t in everything["tenants"]]
    assert everything["total"] == len(names) >= 12 and names == sorted(names)
    assert {t["status"] for t in active["tenants"]} == {"active"} and active["total"] == len(names) - 2
    assert comma == repeated and {t["status"] for t in comma["tenants"]} == {"suspended", "cancelled"}
    assert page["total"] == active["total"] and page["tenants"] == active["tenants"][2:5]
    assert client.get("/api/v1/tenants?status=deleted").status_code == 422


def test_demo_tenants_shape() -> None:
    # GIVEN the demo set WHEN built twice THEN it is stable and has the documented mix
    tenants = demo_tenants()
    assert tenants == demo_tenants() and len(tenants) >= 12
    parent = next(t for t in tenants if t["name"] == "Panadería Central Group")
    children = [t for t in tenants if t["parent_tenant_id"] == parent["id"]]
    assert len(children) == 3 and {t["subscription_tier"] for t in [*children, parent]} == {"enterprise"}
    assert {t["subscription_tier"] for t in tenants} == {"starter", "professional", "enterprise"}
    assert any(t["timezone"] == "Atlantic/Canary" and t["subdivision"] == "CN" for t in tenants)
    assert sorted(t["status"] for t in tenants if t["status"] != "active") == ["cancelled", "suspended"]
    assert all(t["country"] == "ES" and str(uuid.UUID(t["id"])) == t["id"] for t in tenants)


def test_synthetic_tenants_spread_tiers_and_zones() -> None:
    # GIVEN 1000 synthetic tenants over two zones THEN tiers follow 10/30/60 and zones alternate
    tenants = synthetic_tenants(1000, timezones=["Europe/Madrid", "Atlantic/Canary"])
    tiers = [t["subscription_tier"] for t in tenants]
    assert (tiers.count("enterprise"), tiers.count("professional"), tiers.count("starter")) == (100, 300, 600)
    assert {t["timezone"] for t in tenants} == {"Europe/Madrid", "Atlantic/Canary"}
    assert len({t["id"] for t in tenants}) == 1000 and synthetic_tenants(3) == synthetic_tenants(3)


def test_admin_replaces_tenants() -> None:
    # GIVEN a private server WHEN tenants are replaced by synthetic ones, then by an explicit list
    with SimulatorServer() as own, httpx.Client(base_url=own.url) as c:
        assert c.post("/sim/tenants/synthetic", json={"count": 50}).json() == {"tenants": 50}
        assert c.get("/sim/health").json() == {"status": "ok", "tenants": 50}
        one = {"id": str(uuid.uuid4()), "name": "Solo", "status": "active", "subscription_tier": "starter"}
        assert c.put("/sim/tenants", json={"tenants": [one]}).json() == {"tenants": 1}
        got = c.get(f"/api/v1/tenants/{one['id']}").json()
        # THEN defaults are filled in and bad entries are rejected naming the field
        assert got["timezone"] == "Europe/Madrid" and got["parent_tenant_id"] is None
        bad = c.put("/sim/tenants", json={"tenants": [{**one, "subscription_tier": "gold"}]})
        assert bad.status_code == 422 and "subscription_tier" in bad.json()["detail"]


def test_get_tenant_and_unknown_ids(client: httpx.Client, tid: str) -> None:
    # GIVEN a known id, an unknown UUID and garbage WHEN fetched THEN 200 / 404 / 422
    assert client.get(f"/api/v1/tenants/{tid}").json()["name"] == "Horno San Onofre"
    missing = client.get(f"/api/v1/tenants/{uuid.uuid4()}")
    assert missing.status_code == 404 and "not found" in missing.json()["detail"]
    assert client.get("/api/v1/tenants/not-a-uuid").status_code == 422
    assert _forecast(client, str(uuid.uuid4())).status_code == 404
    assert client.get("/api/v1/nope").status_code == 404
    assert client.get(FORECAST).status_code == 405


# -- synthetic data ----------------------------------------------------------------


def test_outputs_are_deterministic_across_servers(client: httpx.Client, tid: str) -> None:
    # GIVEN the same requests WHEN sent twice and to a second server instance THEN bodies match
    sales = {"tenant_id": tid, "date": MONDAY.isoformat()}
    first = (_forecast(client, tid).json(), client.get("/api/v1/sales/daily", params=sales).json())
    second = (_forecast(client, tid).json(), client.get("/api/v1/sales/daily", params=sales).json())
    with SimulatorServer() as other, httpx.Client(base_url=other.url) as c2:
        third = (_forecast(c2, tid).json(), c2.get("/api/v1/sales/daily", params=sales).json())
    assert first == second == third
    assert 6 <= first[0]["products"] <= 14 and len(first[0]["forecasts"]) == first[0]["products"] * 7


def test_weekly_seasonality_saturday_beats_monday(client: httpx.Client, tid: str) -> None:
    # GIVEN a week starting on a Monday WHEN forecast THEN every product sells more on Saturday
    rows = _forecast(client, tid).json()["forecasts"]
    by_key = {(r["product_id"], r["date"]): r for r in rows}
    saturday = (MONDAY + timedelta(days=5)).isoformat()
    for pid in {r["product_id"] for r in rows}:
        mon, sat = by_key[(pid, MONDAY.isoformat())], by_key[(pid, saturday)]
        assert sat["predicted_quantity"] > mon["predicted_quantity"]
        assert sat["lower_bound"] < sat["predicted_quantity"] < sat["upper_bound"]


def test_validation_metrics_are_realistic(client: httpx.Client) -> None:
    # GIVEN every active demo tenant over two weeks WHEN validated
    active = client.get("/api/v1/tenants", params={"status": "active"}).json()["tenants"]
    results = [
        client.post(
            "/api/v1/forecasting/validate",
            json={"tenant_id": t["id"], "date": (MONDAY - timedelta(days=d)).isoformat()},
        ).json()
        for t in active
        for d in range(14)
    ]
    # THEN each is internally consistent and the average MAPE lands in 5-20%
    for r in results:
        assert 6 <= r["products_validated"] <= 14 and r["mae"] <= r["rmse"] and r["r2"] <= 1
        assert r["accuracy"] == pytest.approx(max(0.0, 100 - r["mape"]), abs=0.01)
    assert 5 <= sum(r["mape"] for r in results) / len(results) <= 20


def test_production_follows_forecast_in_whole_batches(client: httpx.Client, tid: str) -> None:
    # GIVEN a stored forecast WHEN a schedule is generated from it
    fc = _forecast(client, tid).json()
    body = {"tenant_id": tid, "date": MONDAY.isoformat(), "forecast_id": fc["forecast_id"]}
    sched = client.post("/api/v1/production/schedules/generate", json=body).json()
    # THEN it covers every forecast row with enough whole batches
    predicted = {(r["product_id"], r["date"]): r["predicted_quantity"] for r in fc["forecasts"]}
    assert sched["forecast_id"] == fc["forecast_id"] and len(sched["items"]) == len(predicted)
    for item in sched["items"]:
        assert item["quantity"] >= predicted[(item["product_id"], item["date"])] and item["batch_count"] >= 1
    assert sched["batches"] == sum(i["batch_count"] for i in sched["items"])
    unknown = client.post("/api/v1/production/schedules/generate", json={**body, "forecast_id": "nope"})
    assert unknown.status_code == 404


def test_procurement_and_inventory_are_consistent(client: httpx.Client, tid: str) -> None:
    # GIVEN two horizons WHEN procurement and inventory are computed
    def plan(days: int) -> dict:
        return client.post(
            "/api/v1/procurement/needs/calculate",
            json={"tenant_id": tid, "date": MONDAY.isoformat(), "days_ahead": days},
        ).json()

    short, long = plan(7), plan(14)
    proj = client.post(
        "/api/v1/inventory/projections/generate", json={"tenant_id": tid, "date": MONDAY.isoformat(), "days_ahead": 14}
    ).json()
    # THEN orders cover the gap, grow with the horizon and stockouts fall inside the window
    for item in long["items"]:
        assert item["to_order"] == pytest.approx(max(0.0, item["required_quantity"] - item["on_hand"]), abs=0.02)
    assert {i["ingredient"] for i in long["items"]} >= {"flour"} and long["total_items"] == len(long["items"])
    assert long["estimated_cost"] >= short["estimated_cost"] >= 0
    assert proj["items"] == long["total_items"]
    ordered = {i["ingredient"] for i in long["items"] if i["to_order"] > 0}
    assert {r["ingredient"] for r in proj["stockout_risks"]} == ordered
    assert all(0 <= r["days_until_stockout"] < 14 for r in proj["stockout_risks"])


def test_notifications_are_kept(client: httpx.Client, tid: str) -> None:
    # GIVEN a tenant notification and a global one WHEN sent THEN both are listed
    for tenant in (tid, None):
        resp = client.post(
            "/api/v1/notifications/send",
            json={
                "tenant_id": tenant,
                "type": "stockout_risk",
                "severity": "warning",
                "title": "Flour low",
                "message": "Order flour",
                "data": {"ingredient": "flour"},
            },
        )
        assert resp.status_code == 200 and resp.json()["status"] == "sent"
    listed = client.get("/sim/notifications").json()["notifications"]
    assert [n["tenant_id"] for n in listed] == [tid, None] and listed[0]["data"] == {"ingredient": "flour"}


# -- validation ---------------------------------------------------------------------

BAD_BODIES = [
    (FORECAST, {"start_date": "2025-03-10"}, "tenant_id"),
    (FORECAST, {"tenant_id": "TENANT"}, "start_date"),
    (FORECAST, {"tenant_id": "TENANT", "start_date": "10/03/2025"}, "start_date"),
    (FORECAST, {"tenant_id": "TENANT", "start_date": "2025-03-10", "days_ahead": "x"}, "days_ahead"),
    (FORECAST, {"tenant_id": "TENANT", "start_date": "2025-03-10", "days_ahead": 0}, "days_ahead"),
    ("/api/v1/forecasting/validate", {"tenant_id": "TENANT"}, "date"),
    ("/api/v1/production/schedules/generate", {"tenant_id": "TENANT", "date": "2025-02-30"}, "date"),
    ("/api/v1/procurement/needs/calculate", {"tenant_id": 42, "date": "2025-03-10"}, "tenant_id"),
    ("/api/v1/inventory/projections/generate", {"tenant_id": "TENANT", "date": None}, "date"),
    ("/api/v1/notifications/send", {"type": "x", "severity": "loud", "title": "t", "message": "m"}, "severity"),
    ("/api/v1/notifications/send", {"type": "x", "severity": "info", "title": "", "message": "m"}, "title"),
]


@pytest.mark.parametrize(("path", "body", "field"), BAD_BODIES)
def test_bad_bodies_get_422_naming_the_field(client: httpx.Client, tid: str, path: str, body: dict, field: str) -> None:
    # GIVEN a body with one bad field WHEN posted THEN 422 names that field
    body = {k: tid if v == "TENANT" else v for k, v in body.items()}
    resp = client.post(path, json=body)
    assert resp.status_code == 422 and field in resp.json()["detail"]


def test_non_object_bodies_and_bad_queries(client: httpx.Client) -> None:
    # GIVEN malformed JSON, a JSON list and a sales query without date THEN 422, never 500
    assert client.post(FORECAST, content=b"{oops").status_code == 422
    assert client.post(FORECAST, json=[1, 2]).status_code == 422
    resp = client.get("/api/v1/sales/daily", params={"tenant_id": demo_tenants()[0]["id"]})
    assert resp.status_code == 422 and "date" in resp.json()["detail"]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    body=st.dictionaries(
        st.sampled_from(["tenant_id", "start_date", "days_ahead", "date", "x"]),
        st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=12), st.lists(st.integers(), max_size=2)),
    )
)
def test_arbitrary_bodies_never_500(client: httpx.Client, body: dict) -> None:
    # GIVEN any JSON object WHEN posted to any service route THEN the answer is never a 5xx
    for path in (FORECAST, "/api/v1/production/schedules/generate", "/api/v1/notifications/send"):
        assert client.post(path, json=body).status_code < 500


# -- faults and call accounting ---------------------------------------------------------


def test_fault_status_code_is_scoped_to_tenants(client: httpx.Client, sim: SimulatorServer) -> None:
    # GIVEN a 503 fault on forecasting for one tenant only
    bad, good = (t["id"] for t in demo_tenants()[:2])
    resp = client.put("/sim/faults", json={"service": "forecasting", "error_rate": 1.0, "tenant_ids": [bad]})
    assert resp.status_code == 200
    # WHEN both tenants call THEN only the scoped one fails, and other services are untouched
    failed = _forecast(client, bad)
    assert failed.status_code == 503 and failed.json() == {"detail": "simulated fault"}
    assert _forecast(client, good).status_code == 200
    assert client.get("/api/v1/sales/daily", params={"tenant_id": bad, "date": "2025-03-10"}).status_code == 200
    assert [f["service"] for f in client.get("/sim/faults").json()["faults"]] == ["forecasting"]
    client.delete("/sim/faults")
    assert _forecast(client, bad).status_code == 200


def test_fail_first_n_then_success_per_tenant(client: httpx.Client, sim: SimulatorServer) -> None:
    # GIVEN the first two production calls per tenant fail with 500
    sim.state.set_fault("production", fail_first_n=2, status_code=500)
    a, b = (t["id"] for t in demo_tenants()[:2])

    def call(tenant: str) -> int:
        return client.post(
            "/api/v1/production/schedules/generate", json={"tenant_id": tenant, "date": "2025-03-10"}
        ).status_code

    # WHEN each tenant retries THEN each sees two failures before success
    assert [call(a), call(a), call(b), call(a), call(b), call(b)] == [500, 500, 500, 200, 500, 200]


def test_error_rate_is_deterministic(client: httpx.Client, sim: SimulatorServer, tid: str) -> None:
    # GIVEN a 50% error rate WHEN the same sequence runs twice from a clean fault
    def run() -> list[int]:
        sim.state.set_fault("forecasting", error_rate=0.5, status_code=502)
        return [_forecast(client, tid).status_code for _ in range(30)]

    first, second = run(), run()
    # THEN the pattern repeats and mixes both outcomes
    assert first == second and {502, 200} == set(first)


def test_hang_and_latency_trip_client_timeouts(client: httpx.Client, sim: SimulatorServer, tid: str) -> None:
    # GIVEN inventory hangs 1 s on the first call only, and sales always lags 300 ms
    sim.state.set_fault("inventory", hang_seconds=1, fail_first_n=1)
    sim.state.set_fault("sales", latency_ms=300)
    body = {"tenant_id": tid, "date": "2025-03-10", "days_ahead": 14}
    # WHEN calling with a 0.2 s timeout THEN both time out; the inventory retry then succeeds
    with httpx.Client(base_url=sim.url, timeout=0.2) as impatient:
        with pytest.raises(httpx.TimeoutException):
            impatient.post("/api/v1/inventory/projections/generate", json=body)
        with pytest.raises(httpx.TimeoutException):
            impatient.get("/api/v1/sales/daily", params={"tenant_id": tid, "date": "2025-03-10"})
        assert impatient.post("/api/v1/inventory/projections/generate", json=body).status_code == 200


def test_bad_fault_specs_are_rejected(client: httpx.Client) -> None:
    # GIVEN invalid fault bodies WHEN put THEN 422 names the field
    for spec, field in [
        ({"service": "bakery"}, "service"),
        ({"service": "sales", "error_rate": 2}, "error_rate"),
        ({"service": "sales", "status_code": 200}, "status_code"),
        ({"service": "sales", "tenant_ids": "x"}, "tenant_ids"),
    ]:
        resp = client.put("/sim/faults", json=spec)
        assert resp.status_code == 422 and field in resp.json()["detail"]


def test_calls_are_counted_including_failures(client: httpx.Client, sim: SimulatorServer, tid: str) -> None:
    # GIVEN one failing and two good forecasting calls plus a tenant lookup
    sim.state.set_fault("forecasting", fail_first_n=1)
    statuses = [_forecast(client, tid).status_code for _ in range(3)]
    client.get(f"/api/v1/tenants/{tid}")
    # WHEN the counters are read THEN every call is there, admin calls are not
    assert statuses == [503, 200, 200]
    assert sim.state.calls_for("forecasting", tid) == 3 and sim.state.calls_for("tenant") == 1
    calls = client.get("/sim/calls").json()
    assert calls["total"] == 4
    assert {"service": "tenant", "path": "/api/v1/tenants/{tenant_id}", "tenant_id": tid, "count": 1} in calls["calls"]
    client.delete("/sim/calls")
    assert client.get("/sim/calls").json() == {"calls": [], "total": 0}


def test_reset_keeps_tenants(client: httpx.Client, tid: str) -> None:
    # GIVEN state in every bucket WHEN reset THEN only tenants survive
    _forecast(client, tid)
    client.put("/sim/faults", json={"service": "sales", "latency_ms": 1})
    client.post("/sim/reset")
    assert client.get("/sim/faults").json() == {"faults": []}
    assert client.get("/sim/calls").json()["total"] == 0
    assert client.get("/sim/health").json()["tenants"] == len(demo_tenants())
