"""Fencing on Postgres, where a step's fence check, step row and logs are one statement."""

from __future__ import annotations

import json
import uuid
from datetime import date
from typing import Any

from sqlalchemy import func, select

from chalicelib.db.engine import session_scope
from chalicelib.db.models import Execution, ExecutionLog, StepRun
from chalicelib.db.runs import get_execution_by_name
from chalicelib.db.workflows import get_workflow


def test_a_taken_over_run_writes_nothing_on_postgres(pg_stack: Any) -> None:
    from chalicelib.adapters.locks import RunLocks
    from chalicelib.adapters.redis_client import get_redis
    from chalicelib.services.runs import start_run

    lam = pg_stack.cloud.client("lambda")

    def invoke(function: str, payload: dict[str, Any]) -> tuple[str | None, dict[str, Any]]:
        response = lam.invoke(
            FunctionName=pg_stack.deployment.function_arns[function], Payload=json.dumps(payload).encode()
        )
        return response.get("FunctionError"), json.loads(response["Payload"].read())

    # GIVEN run A started with the lock's fencing number, then its lock expired
    locks = RunLocks()
    key = locks.key("daily_operations", "Europe/Madrid")
    old_name = "daily_operations-europe-madrid-2027-03-19"
    lock = locks.acquire(key, old_name, ttl_seconds=60)
    assert lock is not None
    request = {
        "workflow_name": "daily_operations",
        "scope": "Europe/Madrid",
        "run_date": "2027-03-19",
        "fencing_token": lock.fencing_token,
        "lock_key": key,
    }
    error, old_run = invoke("start_run", {"request": request, "execution_name": old_name})
    assert error is None, old_run
    from bakery_sim.tenants import demo_tenants

    demo = next(t for t in demo_tenants() if t["status"] == "active")
    tenant = {"id": demo["id"], "name": demo["name"]}
    # AND before the takeover A's step still writes (one row, one log)
    error, body = invoke("generate_forecasts", {"run": old_run, "tenant": tenant})
    assert error is None, body
    get_redis().delete(key)
    # WHEN run B takes the lock over
    newer = start_run("daily_operations", "Europe/Madrid", date(2027, 3, 19), trigger="manual", name_suffix="takeover")
    assert newer["outcome"] == "started" and newer["fencing_token"] > lock.fencing_token
    pg_stack.wait(newer["execution_name"], timeout=180)
    # THEN A's next step is refused with StaleRunError naming both runs, and wrote nothing
    error, body = invoke("plan_production", {"run": old_run, "tenant": tenant})
    assert error and body["errorType"] == "StaleRunError"
    assert old_name in body["errorMessage"] and newer["execution_name"] in body["errorMessage"]
    with session_scope() as session:
        old_id = uuid.UUID(old_run["execution_id"])
        steps = session.scalars(select(StepRun.step_name).where(StepRun.execution_id == old_id)).all()
        logs = session.scalar(
            select(func.count()).where(ExecutionLog.execution_id == old_id, ExecutionLog.tenant_id == tenant["id"])
        )
        assert steps == ["generate_forecasts"] and logs == 1
        assert session.get(Execution, old_id).status == "running"
    # AND when A's state machine reaches FailRun, A ends failed as superseded, B stays the workflow's last
    error, body = invoke(
        "fail_run",
        {"execution_name": old_name, "request": request, "error": {"Error": "StaleRunError", "Cause": "fenced"}},
    )
    assert error is None, body
    with session_scope() as session:
        old = session.get(Execution, old_id)
        assert old.status == "failed" and old.error_message.startswith("superseded: ")
        workflow = get_workflow(session, "daily_operations")
        newer_row = get_execution_by_name(session, newer["execution_name"])
        assert workflow.last_execution_id == newer_row.id
