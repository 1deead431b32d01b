"""Job health: /health says `degraded`, with the reason for operators, when an enabled workflow's due run
was not dispatched or a run is stuck past its limit; healthy again once it is handled."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from chalicelib.db import schedule as schedule_rows
from chalicelib.db.engine import session_scope
from chalicelib.db.models import Execution, Workflow
from chalicelib.domain.models import DAILY_STEPS
from chalicelib.services.scheduling import job_health
from tests.orchestrator.functional.test_api_routes import Api

MADRID = "Europe/Madrid"


@pytest.fixture()
def probe(stack: Any) -> Iterator[str]:
    """An enabled daily-pipeline workflow (08:00 Madrid) the test controls; disabled afterwards."""
    name = f"jobs_probe_{uuid.uuid4().hex[:6]}"
    with session_scope() as session:
        session.add(
            Workflow(
                name=name,
                workflow_type="daily",
                cron_expression="0 8 * * *",
                timezone=MADRID,
                steps=list(DAILY_STEPS),
                enabled=True,
                catchup_policy="skip",
            )
        )
    yield name
    with session_scope() as session:
        session.query(Workflow).filter(Workflow.name == name).update({"enabled": False})


def mine(problems: list[dict[str, Any]], name: str) -> list[dict[str, Any]]:
    return [p for p in problems if p.get("workflow_name") == name]


def test_a_due_run_not_dispatched_makes_the_service_degraded_until_it_is(api: Api, probe: str) -> None:
    now = datetime.now(UTC)
    # GIVEN the dispatcher last handled the probe's Madrid scope three days ago
    with session_scope() as session:
        schedule_rows.advance_watermark(session, probe, MADRID, now - timedelta(days=3))
    # WHEN health is checked
    [missed] = mine(job_health(now=now), probe)
    # THEN the missed 08:00 is reported, and /health is degraded (200) with the reason for an admin
    assert missed["kind"] == "missed" and missed["scope"] == MADRID and "has not been dispatched" in missed["reason"]
    status, body = api.get("/health")
    assert status == 200 and body["status"] == "degraded"
    assert body["checks"]["jobs"]["status"] == "degraded" and probe in body["checks"]["jobs"]["error"]
    # AND a caller without a token sees only that the jobs are degraded, not why
    status, public = api.get("/health", token=None)
    assert public["checks"]["jobs"] == {"status": "degraded", "required": False}
    # WHEN the dispatcher handles the scope up to now
    with session_scope() as session:
        schedule_rows.advance_watermark(session, probe, MADRID, now + timedelta(minutes=1))
    # THEN the probe is no longer reported
    assert mine(job_health(now=now), probe) == []


def test_a_run_stuck_past_its_limit_is_reported(probe: str) -> None:
    now = datetime.now(UTC)
    # GIVEN a run of the probe started two hours ago and still running (its limit is an hour)
    execution_id = uuid.uuid4()
    with session_scope() as session:
        session.add(
            Execution(
                id=execution_id,
                workflow_name=probe,
                execution_name=f"{probe}-stuck",
                scope=MADRID,
                run_date=date(2026, 1, 1),
                status="running",
                started_at=now - timedelta(hours=2),
            )
        )
    try:
        # THEN health names it as stuck
        stuck = [p for p in job_health(now=now) if p.get("execution_id") == str(execution_id)]
        assert [p["kind"] for p in stuck] == ["stuck"] and "past its 3600 s limit" in stuck[0]["reason"]
    finally:
        with session_scope() as session:
            session.get(Execution, execution_id).status = "failed"
