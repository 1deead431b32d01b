"""Operator routes through chalice.test.Client, reading what a real run on the local cloud recorded."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from chalice.test import Client

from app import app


@pytest.fixture(scope="module")
def recorded_run(stack: Any) -> dict[str, Any]:
    at = datetime(2026, 12, 20, 7, 0, tzinfo=UTC)
    runs = stack.dispatches(stack.fire(at))[0]["runs"]
    return stack.wait(runs[0]["execution_name"], timeout=180).summary


@pytest.fixture()
def client(stack: Any) -> Any:
    with Client(app, stage_name="local") as test_client:
        yield test_client.http


def get(client: Any, path: str) -> tuple[int, dict[str, Any]]:
    response = client.get(f"/api/v1/orchestrator{path}")
    return response.status_code, json.loads(response.body)


def test_health_reports_database_and_redis_up(client: Any) -> None:
    status, body = get(client, "/health")
    assert status == 200
    assert body["status"] == "healthy"
    assert {"database", "redis"} <= set(body["checks"])
    assert all(check["status"] == "up" and check["latency_ms"] >= 0 for check in body["checks"].values())


def test_executions_list_detail_and_logs(client: Any, recorded_run: dict[str, Any]) -> None:
    # WHEN the executions are listed
    status, body = get(client, "/executions?workflow=daily_operations&status=completed")
    # THEN the recorded run is there with its counters
    assert status == 200
    listed = {e["execution_name"]: e for e in body["executions"]}
    assert listed[recorded_run["execution_name"]]["tenants_processed"] == recorded_run["tenants_processed"]
    # AND its detail and its logs can be read, logs paged by cursor and filtered by step
    status, detail = get(client, f"/executions/{recorded_run['execution_id']}")
    assert status == 200 and detail["execution"]["status"] == "completed"
    status, page = get(client, f"/executions/{recorded_run['execution_id']}/logs?limit=5")
    assert status == 200 and page["count"] == 5 and page["total"] > 5 and page["next_cursor"]
    status, rest = get(client, f"/executions/{recorded_run['execution_id']}/logs?after={page['next_cursor']}")
    assert status == 200 and rest["logs"][0]["id"] > page["next_cursor"]
    status, steps = get(client, f"/executions/{recorded_run['execution_id']}/logs?step_name=generate_forecasts")
    assert status == 200 and steps["count"] == recorded_run["tenants_processed"]
    assert {log["step_name"] for log in steps["logs"]} == {"generate_forecasts"}


@pytest.mark.parametrize(
    ("path", "status", "field"),
    [
        ("/executions?limit=0", 400, "limit"),
        ("/executions?limit=abc", 400, "limit"),
        ("/executions?status=bogus", 400, "status"),
        ("/executions/not-a-uuid", 400, "execution_id"),
        ("/executions/00000000-0000-0000-0000-000000000000", 404, "execution_id"),
        ("/executions/00000000-0000-0000-0000-000000000000/logs", 404, "execution_id"),
    ],
)
def test_bad_requests_get_a_clear_4xx(client: Any, path: str, status: int, field: str) -> None:
    got, body = get(client, path)
    assert got == status
    assert body["field"] == field and body["message"] and body["error"]
