"""The API over real HTTP: `chalice local` as a subprocess against the Postgres stack (Redis, RabbitMQ real).

Covers what only a separate process shows: the stage environment reaching the API process, auth over the
wire, a manual run and a retry from failure driven through HTTP, tenant isolation, and schemathesis
against the served /openapi.json (a small bound: the in-process fuzz test does the bulk).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from prometheus_client.parser import text_string_to_metric_families
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance, status_code_conformance

from chalicelib.api.auth import issue_token

ADMIN = issue_token(subject="ops", role="platform_admin")


@pytest.fixture(scope="module")
def api_url(pg_stack: Any) -> Iterator[str]:
    """`chalice local` on a free port with the stack's environment (as `make run` starts it)."""
    from localrun.api import LocalApi

    api = LocalApi(pg_stack.env).start()
    try:
        yield api.url
    finally:
        api.stop()


def call(url: str, method: str, path: str, token: str | None = ADMIN, body: Any = None) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.request(method, f"{url}/api/v1/orchestrator{path}", headers=headers, json=body, timeout=30)


def test_health_over_http_checks_postgres_redis_rabbitmq_and_step_functions(api_url: str) -> None:
    response = call(api_url, "GET", "/health", token=None)
    body = response.json()
    assert response.status_code == 200, body
    jobs = body["checks"].pop("jobs")  # the scheduled jobs' state depends on what earlier tests dispatched
    assert body["status"] == ("healthy" if jobs["status"] == "up" else "degraded")
    assert {n: c["status"] for n, c in body["checks"].items()} == {
        "database": "up",
        "redis": "up",
        "stepfunctions": "up",
        "rabbitmq": "up",
    }
    assert "stage" not in body and "detail" not in body["checks"]["database"]
    assert call(api_url, "GET", "/health").json()["checks"]["database"]["detail"] == "postgresql"


def test_auth_over_http(api_url: str) -> None:
    missing = call(api_url, "GET", "/executions", token=None)
    assert missing.status_code == 401 and "missing bearer token" in missing.json()["message"]
    assert missing.headers["WWW-Authenticate"].startswith("Bearer")
    tenant = issue_token(subject="t", role="tenant_user", tenant_id="t-1")
    assert call(api_url, "GET", "/workflows", token=tenant).status_code == 403


def test_retry_from_failure_over_http_on_postgres(api_url: str, pg_stack: Any) -> None:
    # GIVEN two Madrid tenants, the procurement service failing for one of them
    madrid = sorted(
        (
            t
            for t in pg_stack.simulator.state.sorted_tenants
            if t["status"] == "active" and t["timezone"] == "Europe/Madrid"
        ),
        key=lambda t: t["name"],
    )
    victim, other = madrid[0]["id"], madrid[1]["id"]
    pg_stack.simulator.state.set_fault("procurement", status_code=503, error_rate=1.0, tenant_ids=[victim])
    try:
        # WHEN an operator triggers the run over HTTP
        started = call(
            api_url,
            "POST",
            "/workflows/daily_operations/execute",
            body={"tenant_ids": [victim, other], "run_date": "2028-05-05"},
        )
        assert started.status_code == 202, started.text
        original = pg_stack.wait(started.json()["runs"][0]["execution_name"], timeout=180).summary
        assert original["status"] == "completed_with_failures"
    finally:
        pg_stack.simulator.state.clear_faults()
    # AND retries it once the fault is off
    retried = call(api_url, "POST", f"/executions/{original['execution_id']}/retry")
    assert retried.status_code == 202, retried.text
    assert retried.json()["tenant_ids"] == [victim]
    result = pg_stack.wait(retried.json()["execution_name"], timeout=180).summary
    # THEN the retry completes, reusing the victim's forecast and production plan
    assert result["status"] == "completed" and result["tenants_processed"] == 1
    logs = call(api_url, "GET", f"/executions/{result['execution_id']}/logs?tenant_id={victim}").json()["logs"]
    assert {log["step_name"] for log in logs if "reused from execution" in log["message"]} == {
        "generate_forecasts",
        "plan_production",
        "validate_forecasts",
    }
    # AND tenant isolation holds over HTTP: the other tenant cannot see the retry (only the victim ran in it)
    other_token = issue_token(subject="o", role="tenant_admin", tenant_id=other)
    for method, path in (
        ("GET", f"/executions/{result['execution_id']}"),
        ("GET", f"/executions/{result['execution_id']}/logs"),
        ("POST", f"/executions/{result['execution_id']}/retry"),
    ):
        assert call(api_url, method, path, token=other_token).status_code == 404
    listed = call(api_url, "GET", "/executions?date_from=2028-05-05&date_to=2028-05-05", token=other_token).json()
    assert [e["execution_name"] for e in listed["executions"]] == [original["execution_name"]]
    # AND the metrics count both runs
    metrics = httpx.get(f"{api_url}/api/v1/orchestrator/metrics", headers={"Authorization": f"Bearer {ADMIN}"})
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(metrics.text)
        for s in family.samples
    }
    assert (
        samples[
            ("orchestrator_workflow_executions_total", (("status", "completed"), ("workflow_name", "daily_operations")))
        ]
        >= 1
    )


def test_schemathesis_over_http(api_url: str) -> None:
    # GIVEN the document served by chalice local
    schema = schemathesis.openapi.from_url(f"{api_url}/openapi.json")
    checks = [not_a_server_error, status_code_conformance, response_schema_conformance]
    tenant = issue_token(subject="t", role="tenant_admin", tenant_id="fuzz-http-tenant")
    ran = 0

    def case_runner(token: str) -> Any:
        def run(case: Any) -> None:
            nonlocal ran
            ran += 1
            case.call_and_validate(headers={"Authorization": f"Bearer {token}"}, checks=checks)

        return run

    bound = settings(
        max_examples=5,
        deadline=None,
        database=None,
        derandomize=True,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    # WHEN each read operation gets a few generated requests, as admin and as a tenant
    for operation in schema.get_all_operations():
        op = operation.ok()
        if op.method.upper() != "GET":
            continue  # writes are fuzzed in process (tests/orchestrator/functional/test_openapi_fuzz.py)
        for token in (ADMIN, tenant):
            bound(given(case=op.as_strategy())(case_runner(token)))()
    # THEN nothing failed (a failure raises above) and cases ran for every read operation
    assert ran > 0
