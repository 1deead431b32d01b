"""Lost dependencies on Postgres, Redis and RabbitMQ (the machine's own): Redis forgetting its data between
runs, EventBridge unreachable during a schedule change, a Postgres connection killed in the middle of a
request. The fault matrix (tests/orchestrator/chaos) runs the same scenarios (tests/orchestrator/scenarios.py)
and prints their lines; these tests prove the behaviour on every run of the suite.

Dates: runs named for June 2027 (2027-06-01..2027-06-16)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from tests.orchestrator import scenarios
from tests.orchestrator.api import Api, in_process


@pytest.fixture(scope="module")
def api(pg_stack: Any) -> Iterator[Api]:
    with in_process() as client:
        yield client


def test_redis_data_lost_between_runs_on_postgres_loses_no_run(api: Api, pg_stack: Any) -> None:
    # GIVEN two runs (a stored fencing number of 2 or more); WHEN Redis forgets this deployment's keys;
    # AND a third run starts
    seen = scenarios.redis_lost_between_runs(api, pg_stack, ("2027-06-01", "2027-06-02", "2027-06-03"), 6)
    # THEN it completes, and its fencing number is above the stored one
    assert seen["stored"] >= 2 and seen["forgotten"] > 0
    assert seen["summary"]["status"] == "completed", seen["summary"]
    assert seen["after"] > seen["stored"]


def test_eventbridge_down_during_a_schedule_change_on_postgres_is_repaired(
    api: Api, pg_stack: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN a workflow at 16:17 Madrid; WHEN it moves to 16:47 while EventBridge cannot be reached
    seen = scenarios.eventbridge_down_during_a_schedule_change(
        api, pg_stack, monkeypatch, "drift_probe_pg", datetime(2027, 6, 15, tzinfo=UTC)
    )
    # THEN the change answers 207 with the rules' failure
    status, body, _ = seen["change"]
    assert status == 207 and body["rules"]["status"] == "failed", body
    # AND at 16:47 that day nothing fires it (the rules still say 16:17)
    assert seen["drifted"] == []
    # AND the sweep repairs the rules, and the next day it runs at 16:47
    (sweep,) = seen["sweep"]
    assert sweep["rules"]["status"] == "ok", sweep["rules"]
    assert [r["execution_name"] for r in seen["runs"]] == ["drift_probe_pg-europe-madrid-2027-06-16"]
    assert [r["status"] for r in seen["results"]] == ["completed"]


def test_a_postgres_connection_killed_mid_request_is_a_503_and_the_next_requests_are_fine(
    api: Api, pg_stack: Any
) -> None:
    # GIVEN a request waiting inside its SELECT; WHEN its backend is killed (pg_terminate_backend)
    seen = scenarios.postgres_connection_killed_mid_request(api, pg_stack.database_url)
    # THEN that request gets a 503 in the one shape (retry later), not a 500
    assert seen["status"] == 503 and seen["body"]["error"] == "dependency_unavailable", seen
    # AND the next ten requests are answered correctly
    assert [(status, body["name"]) for status, body in seen["after"]] == [(200, "daily_operations")] * 10
