"""EventBridge delivers at least once: 100 concurrent dispatches of one instant against the local cloud,
real Postgres and real Redis, start exactly one execution. April 2027 dates: used by no other test."""

from __future__ import annotations

import json
import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from sqlalchemy import func, select

from chalicelib.db.engine import session_scope
from chalicelib.db.models import Execution, Leader

CONCURRENCY = 100


def _hammer(call: Any) -> list[dict[str, Any]]:
    barrier = threading.Barrier(CONCURRENCY)

    def one(_: int) -> dict[str, Any]:
        barrier.wait(timeout=60)
        return call()

    with ThreadPoolExecutor(max_workers=CONCURRENCY) as pool:
        return list(pool.map(one, range(CONCURRENCY)))


def _executions_named(stack: Any, name: str) -> tuple[int, int]:
    sfn = stack.cloud.client("stepfunctions")
    machine = stack.deployment.state_machine_arns["daily_operations"]
    in_sfn = [
        e["name"]
        for page in sfn.get_paginator("list_executions").paginate(stateMachineArn=machine)
        for e in page["executions"]
    ].count(name)
    with session_scope() as session:
        rows = session.scalar(select(func.count()).where(Execution.execution_name == name))
    return in_sfn, int(rows or 0)


def test_hundred_concurrent_dispatch_lambdas_start_one_execution(pg_stack: Any) -> None:
    # GIVEN the 08:00 Madrid instant of 2027-04-06 (CEST: 06:00 UTC) and the dispatch Lambda
    lam = pg_stack.cloud.client("lambda")
    event = json.dumps(
        {"workflow_name": "daily_operations", "time": "2027-04-06T06:00:00Z", "event_id": "redelivered"}
    ).encode()

    def invoke() -> dict[str, Any]:
        response = lam.invoke(FunctionName=pg_stack.deployment.function_arns["dispatch"], Payload=event)
        body = json.loads(response["Payload"].read())
        assert not response.get("FunctionError"), body
        return body

    # WHEN 100 deliveries of the same firing arrive at once
    answers = _hammer(invoke)
    # THEN exactly one started the Madrid run; the others saw the dispatch lock or the running/done run
    outcomes = Counter(run["outcome"] for a in answers for run in a["runs"] if run["scope"] == "Europe/Madrid")
    assert outcomes["started"] == 1, outcomes
    assert set(outcomes) <= {"started", "already_running", "already_done"}
    locked_out = sum(1 for a in answers if "dispatch_locked" in a)
    assert locked_out + sum(outcomes.values()) == CONCURRENCY
    # AND Step Functions and Postgres hold one execution of that name, which completes
    name = "daily_operations-europe-madrid-2027-04-06"
    assert pg_stack.wait(name, timeout=300).sfn_status == "SUCCEEDED"
    assert _executions_named(pg_stack, name) == (1, 1)
    # AND the leader row names the dispatch lock's last holder
    with session_scope() as session:
        leader = session.get(Leader, "dispatch:daily_operations")
    assert leader is not None and leader.ttl_seconds > 0 and leader.fencing_token >= 1


def test_hundred_concurrent_dispatches_without_the_dispatch_lock_still_start_one(pg_stack: Any) -> None:
    from chalicelib.steps.dispatch import dispatch

    # GIVEN ENABLE_LEADER_ELECTION off (single-instance setups): only the run lock and the name protect
    event = {"workflow_name": "daily_operations", "time": "2027-04-07T06:00:00Z"}
    # WHEN 100 threads dispatch the same instant at once (the handler's code, real Redis, real Postgres)
    answers = _hammer(lambda: dispatch(event, leader_election=False))
    # THEN exactly one started it, every other one was told it is locked, running or done
    outcomes = Counter(run["outcome"] for a in answers for run in a["runs"] if run["scope"] == "Europe/Madrid")
    assert outcomes["started"] == 1 and sum(outcomes.values()) == CONCURRENCY, outcomes
    name = "daily_operations-europe-madrid-2027-04-07"
    assert pg_stack.wait(name, timeout=300).sfn_status == "SUCCEEDED"
    assert _executions_named(pg_stack, name) == (1, 1)
