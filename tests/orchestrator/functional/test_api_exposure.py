"""What a caller may see, and in what shape: health details only for operators, no downstream paths or
service bodies for tenants, Chalice's own refusals (unknown path, method, media type) and loosely typed
bodies answered in the project's error shape.

Dates: this module's run is named for 2027-05-20."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from tests.orchestrator.api import Api, assert_error_shape, in_process, token_for


@pytest.fixture()
def api(stack: Any) -> Iterator[Api]:
    with in_process() as client:
        yield client


def test_public_health_says_which_dependency_is_down_and_only_operators_read_why(api: Api, set_env: Any) -> None:
    # GIVEN Redis unreachable (a closed port)
    set_env("REDIS_URL", "redis://127.0.0.1:9/0")
    # WHEN a stranger asks for health
    status, body, _ = api.call("GET", "/health")
    # THEN 503 and Redis "down", with no stage, address or driver error
    assert status == 503 and body["status"] == "unhealthy"
    assert body["checks"]["redis"] == {"status": "down", "required": True}
    assert "stage" not in body and "127.0.0.1" not in json.dumps(body)
    # AND an operator reads what Redis said
    status, detailed, _ = api.call("GET", "/health", token_for("platform_admin"))
    assert status == 503 and "127.0.0.1:9" in detailed["checks"]["redis"]["error"]


def test_a_tenant_reads_which_service_failed_but_not_its_paths_or_answers(api: Api, stack: Any) -> None:
    simulator = stack.simulator.state
    tenant = sorted(
        (t for t in simulator.sorted_tenants if t["status"] == "active" and t["timezone"] == "Europe/Madrid"),
        key=lambda t: t["name"],
    )[8]["id"]
    # GIVEN the production service failing for the tenant, answering a body of its own
    simulator.set_fault("production", status_code=503, error_rate=1.0, tenant_ids=[tenant])
    try:
        status, body, _ = api.call(
            "POST",
            "/workflows/daily_operations/execute",
            token_for("platform_admin"),
            {"tenant_ids": [tenant], "run_date": "2027-05-20"},
        )
        assert status == 202, body
        summary = stack.wait(body["runs"][0]["execution_name"], timeout=180).summary
    finally:
        simulator.clear_faults()
    # WHEN the tenant reads the execution and its logs
    token = token_for("tenant_admin", tenant)
    _, detail, _ = api.call("GET", f"/executions/{summary['execution_id']}", token)
    _, logs, _ = api.call("GET", f"/executions/{summary['execution_id']}/logs?level=ERROR", token)
    # THEN it learns which service failed and how ...
    (failure,) = detail["failed_tenants"]
    assert failure["error_message"] == "production service answered 503"
    messages = [
        failure["error_message"],
        detail["execution"]["error_message"],
        *(log["message"] for log in logs["logs"]),
    ]
    assert logs["logs"] and all("production service answered 503" in m for m in messages[2:])
    # ... but no request path, address or body of the service
    seen = json.dumps([detail, logs])
    assert "/api/v1/" not in seen and "127.0.0.1" not in seen and "simulated" not in seen.lower()


@pytest.mark.parametrize(
    ("method", "path", "headers", "status", "code"),
    [
        ("GET", "/no/such/route", {}, 403, "unknown_route"),
        ("PATCH", "/workflows/daily_operations", {}, 405, "method_not_allowed"),
        ("DELETE", "/schedule", {}, 405, "method_not_allowed"),
        ("PUT", "/workflows/daily_operations", {"Content-Type": "text/plain"}, 415, "unsupported_media_type"),
    ],
)
def test_chalices_own_refusals_have_the_project_shape(
    api: Api, method: str, path: str, headers: dict[str, str], status: int, code: str
) -> None:
    # WHEN Chalice itself refuses a request (before any route runs)
    got, body, got_headers = api.call(method, path, token_for("platform_admin"), raw=b"{}", headers=headers)
    # THEN the answer is in the one error shape, with its own code
    assert got == status, body
    assert_error_shape(got, body)
    assert body["error"] == code
    if status == 405:
        assert got_headers.get("Allow") or got_headers.get("allow")


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("enabled", "yes"),
        ("enabled", 1),
        ("enabled", "true"),
        ("max_retries", "3"),
        ("max_retries", 3.0),
        ("max_retries", True),
    ],
)
def test_request_bodies_are_strictly_typed(api: Api, field: str, value: Any) -> None:
    admin = token_for("platform_admin")
    before = api.call("GET", "/workflows/daily_operations", admin)[1]
    # WHEN a body field gets a value of another JSON type that lax parsing would coerce
    status, body, _ = api.call("PUT", "/workflows/daily_operations", admin, {field: value})
    # THEN 400 naming the field, and nothing changed
    assert status == 400 and body["field"] == field, body
    after = api.call("GET", "/workflows/daily_operations", admin)[1]
    assert (after["enabled"], after["max_retries"]) == (before["enabled"], before["max_retries"])
