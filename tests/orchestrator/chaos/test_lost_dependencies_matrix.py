"""The fault matrix grows by the lost dependencies (tests/orchestrator/scenarios.py): Redis data lost between
runs, EventBridge failing during a schedule change, a Postgres connection killed in the middle of a
request. Each touches only what the test owns: this session's Redis keys (its prefix; never FLUSHALL), the
API process's EventBridge endpoint, the backends of the test's own database.

Dates: runs named for July 2027 (2027-07-01..2027-07-16)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from tests.orchestrator import scenarios
from tests.orchestrator.api import Api, in_process

Line = Callable[[str, str], None]


@pytest.fixture(scope="module")
def api(chaos_stack: Any) -> Iterator[Api]:
    with in_process() as client:
        yield client


def test_redis_data_lost_between_runs(api: Api, chaos_stack: Any, matrix_line: Line) -> None:
    seen = scenarios.redis_lost_between_runs(api, chaos_stack, ("2027-07-01", "2027-07-02", "2027-07-03"), 6)
    assert seen["summary"]["status"] == "completed", seen["summary"]
    assert seen["after"] > seen["stored"] >= 2
    matrix_line(
        "Redis data lost between runs",
        f"{seen['forgotten']} keys gone; next run {seen['summary']['status']}, "
        f"fence {seen['stored']} -> {seen['after']} (not superseded)",
    )


def test_eventbridge_failing_during_a_schedule_change(
    api: Api, chaos_stack: Any, matrix_line: Line, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen = scenarios.eventbridge_down_during_a_schedule_change(
        api, chaos_stack, monkeypatch, "drift_probe_chaos", datetime(2027, 7, 15, tzinfo=UTC)
    )
    status, body, _ = seen["change"]
    assert status == 207 and body["rules"]["status"] == "failed", body
    assert seen["drifted"] == [] and seen["sweep"][0]["rules"]["status"] == "ok"
    assert [r["status"] for r in seen["results"]] == ["completed"]
    matrix_line(
        "EventBridge failing during a schedule change",
        f"change answered {status} (rules failed); sweep reconciled; next day ran at the new time "
        f"({seen['results'][0]['status']})",
    )


def test_postgres_connection_killed_mid_request(api: Api, chaos_stack: Any, matrix_line: Line) -> None:
    seen = scenarios.postgres_connection_killed_mid_request(api, chaos_stack.database_url)
    assert seen["status"] == 503, seen
    assert [status for status, _ in seen["after"]] == [200] * 10
    matrix_line(
        "Postgres connection killed mid-request",
        f"that request {seen['status']} {seen['body']['error']}; next 10 requests 200",
    )
