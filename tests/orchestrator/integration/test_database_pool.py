"""One request never breaks the next one on Postgres: input that could overflow inside the driver is refused
before any SQL, and a connection the driver broke in the middle of a statement is thrown away, never
handed to the next caller."""

from __future__ import annotations

import base64
import json
import uuid
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from sqlalchemy import text

from chalicelib.db.engine import get_engine, session_scope
from tests.orchestrator.api import assert_error_shape, in_process, token_for


def cursor_of(value: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")


def test_a_statement_the_driver_breaks_midway_never_poisons_the_pool(pg_url: str) -> None:
    # GIVEN a statement whose parameter pg8000 cannot convert (year 1 at +14:00 is before year 1 in UTC):
    # the driver raises after part of the statement went out on the connection
    too_early = datetime(1, 1, 1, tzinfo=timezone(timedelta(hours=14)))
    with pytest.raises(OverflowError), session_scope(pg_url) as session:
        session.execute(text("SELECT :at"), {"at": too_early}).all()
    # WHEN the next ten callers use the pool
    answers = []
    for n in range(10):
        with session_scope(pg_url) as session:
            answers.append(session.execute(text("SELECT :n * 10"), {"n": n}).scalar())
    # THEN each gets its own answer (the broken connection was discarded, not reused)
    assert answers == [n * 10 for n in range(10)]
    assert get_engine(pg_url).pool.checkedout() == 0


@pytest.mark.parametrize(
    "cursor",
    [
        cursor_of(["0001-01-01T00:00:00+14:00", str(uuid.uuid4())]),
        cursor_of(["9999-12-31T23:59:59-14:00", str(uuid.uuid4())]),
        cursor_of(["2026-12-01T00:00:00", str(uuid.uuid4())]),
        cursor_of(["2026-12-01T00:00:00+00:00", 12345]),
        cursor_of(["2026-12-01T00:00:00+00:00", None]),
        cursor_of(["2026-12-01T00:00:00+00:00"]),
        cursor_of({"started": "2026-12-01T00:00:00+00:00"}),
    ],
)
def test_a_hostile_cursor_is_a_400_and_the_next_ten_callers_get_correct_answers(pg_stack: Any, cursor: str) -> None:
    with in_process() as api:
        # WHEN a tenant user sends a cursor this API never returned (out-of-range instant, wrong types)
        status, body, _ = api.call("GET", f"/executions?cursor={cursor}", token_for("tenant_user"))
        # THEN 400 naming the cursor, in the one error shape
        assert status == 400, body
        assert_error_shape(status, body)
        assert body["field"] == "cursor"
        # AND the next ten callers, of every role, get correct answers from the same database
        admin = token_for("platform_admin")
        for n in range(10):
            status, workflow, _ = api.call("GET", "/workflows/daily_operations", admin)
            assert (status, workflow["name"]) == (200, "daily_operations"), workflow
            status, page, _ = api.call("GET", "/executions?limit=1", token_for("tenant_admin", f"other-{n}"))
            assert status == 200 and page["executions"] == [], page
        status, schedule, _ = api.call(
            "PUT", "/schedule", admin, {"workflows": [{"workflow_name": "daily_operations", "holiday_policy": "run"}]}
        )
        assert status in (200, 207) and "daily_operations" in {w["workflow_name"] for w in schedule["workflows"]}
