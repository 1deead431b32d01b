"""The enterprise network routes over real HTTP (`chalice local` in its own process) on Postgres, Redis and
RabbitMQ: the runs a dashboard counts are Postgres rows, the cache is the machine's Redis, and the run that
drops a cached view closes in another process than the one serving it.

Manual runs here use 2029-03 dates (named `<workflow>-<scope>-<date>-manual`)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta
from typing import Any

import httpx
import pytest
import schemathesis
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance, status_code_conformance

from bakery_sim import data
from bakery_sim.tenants import demo_tenants, enterprise_network
from chalicelib.api.auth import issue_token

ADMIN = issue_token(subject="ops", role="platform_admin")
PARENT, *OUTLETS = enterprise_network()
GROUP = next(t for t in demo_tenants() if t["name"] == "Panadería Central Group")
GROUP_OUTLETS = [t for t in demo_tenants() if t["parent_tenant_id"] == GROUP["id"]]
ROUTES = ("dashboard", "network-summary", "production-overview", "distribution-status", "child-performance")


@pytest.fixture(scope="module")
def api_url(pg_stack: Any) -> Iterator[str]:
    """The simulator with the 50-outlet network too, and `chalice local` with the stack's environment."""
    from localrun.api import LocalApi

    pg_stack.simulator.state.set_tenants(demo_tenants() + enterprise_network())
    api = LocalApi(pg_stack.env).start()
    try:
        yield api.url
    finally:
        api.stop()
        pg_stack.simulator.state.set_tenants(demo_tenants())


def view(url: str, parent: dict[str, Any], route: str, query: str, token: str = ADMIN) -> httpx.Response:
    return httpx.get(
        f"{url}/api/v1/{parent['id']}/orchestrator/enterprise/{route}?{query}",
        headers={"Authorization": f"Bearer {token}"},
        timeout=60,
    )


def test_the_fifty_outlet_dashboard_over_http_answers_whole_then_from_the_cache(api_url: str) -> None:
    as_of = date(2029, 3, 1)
    parent_user = issue_token(subject="p", role="tenant_admin", tenant_id=PARENT["id"], tier="enterprise")
    # WHEN the parent's user reads the dashboard twice
    first = view(api_url, PARENT, "dashboard", f"as_of={as_of}", parent_user)
    second = view(api_url, PARENT, "dashboard", f"as_of={as_of}", parent_user)
    # THEN it is whole, the second read comes from Redis unchanged
    assert first.status_code == 200, first.text
    assert (first.headers["X-Cache"], second.headers["X-Cache"]) == ("miss", "hit")
    assert second.json() == first.json()
    body = first.json()
    assert body["partial"] is False and body["network_summary"]["outlets"] == 50
    # AND the sales are the seeded sales of the 50 outlets over the week before
    period = [as_of - timedelta(days=d) for d in range(1, 8)]
    expected = sum(
        data.actual(o["id"], p, d)
        for o in OUTLETS
        for p in data.profile(o["id"], "enterprise").products
        for d in period
    )
    assert body["network_summary"]["sales_units"] == expected


def test_a_run_closing_in_another_process_drops_the_cached_view_on_postgres_and_redis(
    api_url: str, pg_stack: Any
) -> None:
    query = "as_of=2029-03-10"
    # GIVEN the group's summary cached by the API process
    before = view(api_url, GROUP, "network-summary", query)
    assert before.status_code == 200 and before.json()["outlets_ran_today"] == 0
    assert view(api_url, GROUP, "network-summary", query).headers["X-Cache"] == "hit"
    # WHEN a daily run over the group's outlets is triggered over HTTP and closes
    started = httpx.post(
        f"{api_url}/api/v1/orchestrator/workflows/daily_operations/execute",
        headers={"Authorization": f"Bearer {ADMIN}"},
        json={"tenant_ids": [o["id"] for o in GROUP_OUTLETS], "run_date": "2029-03-10"},
        timeout=60,
    )
    assert started.status_code == 202, started.text
    result = pg_stack.wait(started.json()["runs"][0]["execution_name"], timeout=180).summary
    assert result["status"] == "completed", result
    # THEN the next read is computed afresh and counts the run from Postgres
    after = view(api_url, GROUP, "network-summary", query)
    assert after.headers["X-Cache"] == "miss"
    assert after.json()["workflow_today"] == {"succeeded": 3, "failed": 0, "running": 0, "not_run": 0}
    rows = view(api_url, GROUP, "child-performance", query).json()["outlets"]
    assert {(r["workflow_today"], r["workflow_success_rate"], r["workflow_days"]) for r in rows} == {
        ("succeeded", 100.0, 1)
    }


def test_each_routes_answer_conforms_to_the_served_document(api_url: str) -> None:
    # GIVEN the document chalice local serves
    schema = schemathesis.openapi.from_url(f"{api_url}/openapi.json")
    checks = [not_a_server_error, status_code_conformance, response_schema_conformance]
    prefix = "/api/v1/{parent_tenant}/orchestrator/enterprise"
    # WHEN each route is called for a real network, with a drill-down too
    for route, query in [(r, {"as_of": "2029-03-02"}) for r in ROUTES] + [
        ("child-performance", {"as_of": "2029-03-02", "outlet_id": GROUP_OUTLETS[0]["id"]})
    ]:
        case = schema[f"{prefix}/{route}"]["GET"].Case(path_parameters={"parent_tenant": GROUP["id"]}, query=query)
        # THEN the 200 answer matches its documented schema
        response = case.call_and_validate(headers={"Authorization": f"Bearer {ADMIN}"}, checks=checks)
        assert response.status_code == 200, (route, response.text)
