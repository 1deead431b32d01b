"""Lost-dependency scenarios on a running stack, shared by the integration tests (which prove each behaviour
on every `make test`) and the fault matrix (tests/orchestrator/chaos, which adds its line). Each one touches
only what the test owns: this session's Redis keys (its own prefix, never FLUSHALL), the API process's
EventBridge endpoint, and the backends of the test's own Postgres database."""

from __future__ import annotations

import os
import threading
import time
from datetime import datetime
from typing import Any

import pytest
from sqlalchemy import create_engine, select, text

from chalicelib.domain.models import DAILY_STEPS
from tests.orchestrator.api import Api, token_for

MADRID = "Europe/Madrid"


def madrid_tenant(stack: Any, index: int) -> str:
    tenants = sorted(
        (t for t in stack.simulator.state.sorted_tenants if t["status"] == "active" and t["timezone"] == MADRID),
        key=lambda t: t["name"],
    )
    return str(tenants[index]["id"])


def execute(api: Api, workflow: str, tenant: str, day: str) -> str:
    status, body, _ = api.call(
        "POST", f"/workflows/{workflow}/execute", token_for("platform_admin"), {"tenant_ids": [tenant], "run_date": day}
    )
    assert status == 202, body
    return str(body["runs"][0]["execution_name"])


def stored_fence(workflow: str, scope: str) -> int:
    """The fencing number registered in the database for the workflow's run lock in the scope."""
    from chalicelib.db.engine import session_scope
    from chalicelib.db.models import RunFence

    with session_scope() as session:
        value = session.scalar(
            select(RunFence.fencing_token).where(RunFence.workflow_name == workflow, RunFence.scope == scope)
        )
    return int(value or 0)


def forget_redis_keys() -> int:
    """Delete every key of this deployment (REDIS_KEY_PREFIX): what a flush or a failover without
    persistence does to it, without touching anyone else's keys on a shared server."""
    from chalicelib.adapters.redis_client import get_redis

    client = get_redis()
    keys = list(client.scan_iter(match=f"{os.environ['REDIS_KEY_PREFIX']}:*", count=500))
    if keys:
        client.delete(*keys)
    return len(keys)


def redis_lost_between_runs(api: Api, stack: Any, days: tuple[str, str, str], tenant_index: int) -> dict[str, Any]:
    """Two runs (the stored fencing number reaches 2 or more), Redis forgets everything, a third run."""
    tenant = madrid_tenant(stack, tenant_index)
    for day in days[:2]:
        assert stack.wait(execute(api, "daily_operations", tenant, day), timeout=240).summary["status"] == "completed"
    stored = stored_fence("daily_operations", MADRID)
    forgotten = forget_redis_keys()
    result = stack.wait(execute(api, "daily_operations", tenant, days[2]), timeout=240)
    return {
        "stored": stored,
        "forgotten": forgotten,
        "summary": result.summary,
        "after": stored_fence("daily_operations", MADRID),
    }


def runs_of(stack: Any, firings: list[Any], workflow: str) -> list[dict[str, Any]]:
    found = [r for answer in stack.dispatches(firings) if answer["workflow_name"] == workflow for r in answer["runs"]]
    sweeps = [f.response_payload for f in firings if f.target_id == "catchup"]
    return found + [r for sweep in sweeps for r in sweep["runs"] if r["workflow_name"] == workflow]


def eventbridge_down_during_a_schedule_change(
    api: Api, stack: Any, monkeypatch: pytest.MonkeyPatch, name: str, day: datetime
) -> dict[str, Any]:
    """A workflow at 16:17 Madrid moved to 16:47 while EventBridge cannot be reached from the API; the
    sweep at 15:00 UTC on `day` repairs the rules; the next day's 16:47 (14:47 UTC in summer) runs it.
    `day` is a summer date (UTC+2 in Madrid). The workflow is disabled again at the end."""
    from chalicelib.runtime import reset

    admin = token_for("platform_admin")
    spec = {
        "name": name,
        "cron_expression": "17 16 * * *",
        "timezone": MADRID,
        "steps": list(DAILY_STEPS),
        "catchup_policy": "skip",
    }
    status, created, _ = api.call("POST", "/workflows", admin, spec)
    assert status == 201 and created["rules"]["status"] == "ok", created
    try:
        monkeypatch.setenv("AWS_ENDPOINT_URL_EVENTBRIDGE", "http://127.0.0.1:9")
        monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
        reset()
        try:
            changed = api.call("PUT", f"/workflows/{name}", admin, {"cron_expression": "47 16 * * *"})
        finally:
            monkeypatch.delenv("AWS_ENDPOINT_URL_EVENTBRIDGE")
            monkeypatch.delenv("AWS_MAX_ATTEMPTS")
            reset()
        drifted = runs_of(stack, stack.fire(day.replace(hour=14, minute=47)), name)
        sweep = [f.response_payload for f in stack.fire(day.replace(hour=15, minute=0)) if f.target_id == "catchup"]
        next_day = day.replace(day=day.day + 1, hour=14, minute=47)
        runs = runs_of(stack, stack.fire(next_day), name)
        results = [stack.wait(r["execution_name"], timeout=240).summary for r in runs if r["outcome"] == "started"]
    finally:
        api.call("POST", f"/workflows/{name}/disable", admin)
    return {"change": changed, "drifted": drifted, "sweep": sweep, "runs": runs, "results": results}


def postgres_connection_killed_mid_request(api: Api, database_url: str) -> dict[str, Any]:
    """A request blocked inside its SELECT (the table locked by another session) has its backend killed
    with pg_terminate_backend; then ten normal requests. Only this database's backends are looked at."""
    admin_token = token_for("platform_admin")
    locker = create_engine(database_url, pool_size=1, max_overflow=0)
    answer: dict[str, Any] = {}

    def blocked_request() -> None:
        answer["status"], answer["body"], _ = api.call("GET", "/workflows/daily_operations", admin_token)

    killed = None
    try:
        with locker.connect() as conn:
            transaction = conn.begin()
            conn.execute(text("LOCK TABLE orchestrator_workflows IN ACCESS EXCLUSIVE MODE"))
            worker = threading.Thread(target=blocked_request, name="blocked-request")
            worker.start()
            deadline = time.monotonic() + 60
            while killed is None and time.monotonic() < deadline:
                # (pg_stat_activity is read once per transaction unless its snapshot is cleared)
                conn.execute(text("SELECT pg_stat_clear_snapshot()"))
                killed = conn.execute(
                    text(
                        "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
                        "AND pid <> pg_backend_pid() AND wait_event_type = 'Lock' LIMIT 1"
                    )
                ).scalar()
                if killed is None:
                    time.sleep(0.05)
            assert killed is not None, "the request never reached its SELECT"
            conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": killed})
            transaction.rollback()
        worker.join(timeout=60)
    finally:
        locker.dispose()
    after = [api.call("GET", "/workflows/daily_operations", admin_token)[:2] for _ in range(10)]
    return {"killed": killed, "status": answer.get("status"), "body": answer.get("body"), "after": after}
