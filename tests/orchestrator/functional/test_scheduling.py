"""Scheduling on the local cloud: rules reconciled from the workflows table, next run, catch-up after an
outage (skip / latest / all), a manual run refused while the scheduled one holds the lock, fencing.

Real ASL on moto, real handlers, SQLite + embedded Redis. Dates are February/March 2027, used by no other
test (executions are named by local date)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime
from typing import Any

import pytest
from sqlalchemy import func, select

from chalicelib.db.engine import session_scope
from chalicelib.db.models import Execution, StepRun, Workflow
from chalicelib.db.runs import get_execution_by_name
from chalicelib.db.workflows import get_workflow
from chalicelib.domain.models import DAILY_STEPS
from chalicelib.errors import InvalidInputError
from chalicelib.services import scheduling


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def started(firings: list[Any]) -> list[dict[str, Any]]:
    """Runs the dispatcher and the catch-up sweep started among the clock's firings."""
    return [
        run
        for f in firings
        if f.target_id in ("dispatch", "catchup") and isinstance(f.response_payload, dict)
        for run in f.response_payload.get("runs", [])
        if run["outcome"] == "started"
    ]


def wait_all(stack: Any, runs: list[dict[str, Any]]) -> None:
    for run in runs:
        result = stack.wait(run["execution_name"], timeout=180)
        assert result.sfn_status == "SUCCEEDED", result


@pytest.fixture()
def workflows(stack: Any) -> Iterator[Any]:
    """Creates workflows (daily pipeline steps, so they run on the daily state machine) and reconciles the
    rules; disables them again afterwards so later tests' sweeps ignore them."""
    made: list[str] = []

    def make(prefix: str, **values: Any) -> str:
        name = f"{prefix}_{uuid.uuid4().hex[:6]}"
        spec = {
            "name": name,
            "workflow_type": "daily",
            "cron_expression": "0 8 * * *",
            "timezone": "Europe/Madrid",
            "steps": list(DAILY_STEPS),
            "enabled": True,
            **values,
        }
        with session_scope() as session:
            session.add(Workflow(**spec))
        made.append(name)
        scheduling.reconcile_rules()
        return name

    yield make
    with session_scope() as session:
        for name in made:
            workflow = get_workflow(session, name)
            if workflow is not None:
                workflow.enabled = False
    scheduling.reconcile_rules()


def _rules(stack: Any) -> dict[str, dict[str, Any]]:
    events = stack.cloud.client("events")
    prefix = scheduling.rule_prefix(stack.stage)
    found = {}
    for rule in events.list_rules(NamePrefix=prefix)["Rules"]:
        targets = events.list_targets_by_rule(Rule=rule["Name"])["Targets"]
        found[rule["Name"]] = {"expression": rule["ScheduleExpression"], "targets": targets}
    return found


def test_rules_follow_the_table_idempotently(stack: Any, workflows: Any) -> None:
    # GIVEN the deployed stage: the daily workflow's rule and the catch-up sweep, no rule for the disabled ones
    before = _rules(stack)
    daily = [r for r in before.values() if '"daily_operations"' in r["targets"][0]["InputTransformer"]["InputTemplate"]]
    assert [r["expression"] for r in daily] == ["cron(0 6,7,8 * * ? *)"]
    assert not any("weekly_maintenance" in json.dumps(r) for r in before.values())
    assert any(r["targets"][0]["Id"] == "catchup" for r in before.values())
    # WHEN a Lisbon workflow at 09:30 is added
    name = workflows("lisbon", cron_expression="30 9 * * *", timezone="Europe/Lisbon")
    added = {n: r for n, r in _rules(stack).items() if n not in before}
    # THEN one rule covers Lisbon, Madrid and the Canaries at every UTC offset, targeting the dispatcher
    assert len(added) == 1
    (rule,) = added.values()
    assert rule["expression"] == "cron(30 7,8,9 * * ? *)"
    target = rule["targets"][0]
    assert target["Arn"] == stack.deployment.function_arns["dispatch"]
    assert json.loads(target["InputTransformer"]["InputTemplate"].replace("<time>", '"t"').replace("<id>", '"i"')) == {
        "workflow_name": name,
        "scopes": ["Atlantic/Canary", "Europe/Lisbon", "Europe/Madrid"],
        "time": "t",
        "event_id": "i",
    }
    # AND reconciling again changes nothing
    again = scheduling.reconcile_rules()
    assert again["created"] == again["updated"] == again["deleted"] == []
    # WHEN its schedule changes, THEN the rule is updated in place; WHEN disabled, THEN it is deleted
    with session_scope() as session:
        get_workflow(session, name).cron_expression = "0 10 * * *"
    changed = scheduling.reconcile_rules()
    assert (
        changed["updated"] == list(added) and _rules(stack)[next(iter(added))]["expression"] == "cron(0 8,9,10 * * ? *)"
    )
    with session_scope() as session:
        get_workflow(session, name).enabled = False
    assert scheduling.reconcile_rules()["deleted"] == list(added)
    assert set(_rules(stack)) == set(before)


def test_next_run_per_scope_with_holidays(stack: Any, workflows: Any) -> None:
    # GIVEN the daily workflow; WHEN asked after noon UTC on 2027-02-05 (winter)
    nxt = scheduling.next_run("daily_operations", after=utc(2027, 2, 5, 12, 0))
    # THEN Madrid's 08:00 CET (07:00 UTC) comes first, the Canaries' 08:00 WET an hour later
    assert (nxt["scope"], nxt["next_run_at"], nxt["local_time"]) == (
        "Europe/Madrid",
        "2027-02-06T07:00:00+00:00",
        "08:00",
    )
    assert {s["scope"]: s["next_run_at"] for s in nxt["scopes"]}["Atlantic/Canary"] == "2027-02-06T08:00:00+00:00"
    json.dumps(nxt)  # JSON-able
    # AND a skip-holidays workflow on Christmas Eve next runs on the 26th, reporting the skipped holiday
    name = workflows("xmas", holiday_policy="skip")
    skip = scheduling.next_run(name, scope="Europe/Madrid", after=utc(2026, 12, 24, 12, 0))
    assert skip["run_date"] == "2026-12-26" and [s["holiday"] for s in skip["skipped"]] == ["Christmas Day"]
    # AND bad input names the field
    with pytest.raises(InvalidInputError, match="workflow_name"):
        scheduling.next_run("no_such_workflow")
    with pytest.raises(InvalidInputError, match="scope"):
        scheduling.next_run("daily_operations", scope="Mars/Olympus")


def _outage(stack: Any, day: int) -> list[Any]:
    """The dispatcher ran at 06:00 UTC, then was down until 11:00 UTC: the next firing is the 11:00 sweep."""
    early = stack.fire(utc(2027, 2, day, 6, 0))
    assert started(early) == []  # nothing is due at 06:00 UTC in winter
    return stack.fire(utc(2027, 2, day, 11, 0))


@pytest.mark.parametrize(
    ("policy", "day", "expected"),
    [
        ("skip", 9, []),
        # 10:00 local is the latest missed instant in each scope (09:00 UTC Madrid, 10:00 UTC Canaries)
        ("latest", 10, ["atlantic-canary-2027-02-10-1000", "europe-madrid-2027-02-10-1000"]),
    ],
)
def test_catch_up_after_an_outage(stack: Any, workflows: Any, policy: str, day: int, expected: list[str]) -> None:
    # GIVEN a workflow at 08:00, 09:00 and 10:00 local with this catch-up policy
    name = workflows(f"cu_{policy}", cron_expression="0 8,9,10 * * *", catchup_policy=policy)
    # WHEN the dispatcher misses 06:00-11:00 UTC and the sweep fires at 11:00
    firings = _outage(stack, day)
    runs = started(firings)
    wait_all(stack, runs)
    # THEN the policy decides what runs (the daily workflow catches up its own 08:00 too, under "latest")
    mine = sorted(r["execution_name"].removeprefix(f"{name}-") for r in runs if r["execution_name"].startswith(name))
    assert mine == expected
    assert all(r["trigger"] == "catch_up" for r in runs)


def test_catch_up_all_runs_every_missed_instant_one_at_a_time(stack: Any, workflows: Any) -> None:
    # GIVEN a workflow at 08:00, 09:00 and 10:00 local that catches up everything
    name = workflows("cu_all", cron_expression="0 8,9,10 * * *", catchup_policy="all")
    # WHEN the dispatcher misses 06:00-11:00 UTC, then sweeps every 15 minutes
    firings = _outage(stack, 11)
    mine: list[str] = []
    for minute in (15, 30, 45):
        runs = started(firings)
        wait_all(stack, runs)
        mine += [r["execution_name"] for r in runs if r["execution_name"].startswith(name)]
        firings = stack.fire(utc(2027, 2, 11, 11, minute))
    assert started(firings) == []  # nothing left after three rounds
    # THEN each missed instant ran once, oldest first, one run per scope at a time (the run lock)
    madrid = [n.removeprefix(f"{name}-europe-madrid-2027-02-11-") for n in mine if "europe-madrid" in n]
    canary = [n.removeprefix(f"{name}-atlantic-canary-2027-02-11-") for n in mine if "atlantic-canary" in n]
    assert madrid == canary == ["0800", "0900", "1000"]


def test_manual_run_is_refused_while_the_scheduled_run_holds_the_lock(stack: Any, simulator: Any) -> None:
    from chalicelib.services.runs import start_run

    # GIVEN the scheduled run of 2027-03-02 in progress (each daily summary takes 3 s)
    simulator.state.set_fault("notification", latency_ms=3000)
    (run,) = started(stack.fire(utc(2027, 3, 2, 7, 0)))
    # WHEN an operator asks for a manual run of the same workflow and scope
    manual = start_run("daily_operations", "Europe/Madrid", date(2027, 3, 2), trigger="manual", name_suffix="manual")
    # THEN it is refused with a message naming the running execution
    assert manual["outcome"] == "locked"
    assert manual["held_by"] == run["execution_name"]
    assert run["execution_name"] in manual["message"] and "manual run was refused" in manual["message"]
    # AND once the scheduled run finished (its lock released by token) the manual run starts
    simulator.state.clear_faults()
    wait_all(stack, [run])
    again = start_run("daily_operations", "Europe/Madrid", date(2027, 3, 2), trigger="manual", name_suffix="manual")
    assert again["outcome"] == "started" and again["execution_name"].endswith("-manual")
    wait_all(stack, [again])


def test_run_whose_lock_was_taken_over_cannot_write(stack: Any) -> None:
    from chalicelib.adapters.locks import RunLocks
    from chalicelib.adapters.redis_client import get_redis
    from chalicelib.services.runs import start_run

    lam = stack.cloud.client("lambda")

    def invoke(function: str, payload: dict[str, Any]) -> tuple[str | None, dict[str, Any]]:
        response = lam.invoke(
            FunctionName=stack.deployment.function_arns[function], Payload=json.dumps(payload).encode()
        )
        return response.get("FunctionError"), json.loads(response["Payload"].read())

    # GIVEN run A holding the Madrid lock with its fencing number, its execution row written by StartRun
    locks = RunLocks()
    key = locks.key("daily_operations", "Europe/Madrid")
    old_name = "daily_operations-europe-madrid-2027-03-09"
    lock = locks.acquire(key, old_name, ttl_seconds=60)
    assert lock is not None
    request = {
        "workflow_name": "daily_operations",
        "scope": "Europe/Madrid",
        "run_date": "2027-03-09",
        "fencing_token": lock.fencing_token,
        "lock_key": key,
    }
    error, old_run = invoke("start_run", {"request": request, "execution_name": old_name})
    assert error is None, old_run
    # AND its lock expires (A stalled past the TTL)
    get_redis().delete(key)
    # WHEN run B takes the lock over and runs
    newer = start_run("daily_operations", "Europe/Madrid", date(2027, 3, 9), trigger="manual", name_suffix="takeover")
    assert newer["outcome"] == "started" and newer["fencing_token"] > lock.fencing_token
    wait_all(stack, [newer])
    # THEN A's step and its finish are refused with StaleRunError, naming both runs
    tenant = {"id": "t-fence", "name": "Fenced bakery"}
    error, body = invoke("generate_forecasts", {"run": old_run, "tenant": tenant})
    assert error and body["errorType"] == "StaleRunError"
    assert old_name in body["errorMessage"] and newer["execution_name"] in body["errorMessage"]
    error, body = invoke("finish_run", {"run": old_run})
    assert error and body["errorType"] == "StaleRunError"
    # AND nothing of A was written over B's: A has no step rows and is not closed; the workflow shows B
    with session_scope() as session:
        old_id = uuid.UUID(old_run["execution_id"])
        assert session.scalar(select(func.count()).where(StepRun.execution_id == old_id)) == 0
        assert session.get(Execution, old_id).status == "running"
        workflow = get_workflow(session, "daily_operations")
        newer_row = get_execution_by_name(session, newer["execution_name"])
        assert workflow.last_execution_id == newer_row.id and newer_row.status == "completed"


def test_no_run_starts_when_redis_is_unreachable(stack: Any, set_env: Any) -> None:
    from chalicelib.errors import LockUnavailableError
    from chalicelib.steps.dispatch import dispatch

    # GIVEN Redis unreachable
    set_env("REDIS_URL", "redis://127.0.0.1:1/0")
    event = {"workflow_name": "daily_operations", "time": "2027-03-16T07:00:00Z"}
    # WHEN the 08:00 Madrid firing is dispatched, with and without the dispatch lock
    for leader_election in (True, False):
        with pytest.raises(LockUnavailableError, match="Redis unreachable, no run started"):
            dispatch(event, leader_election=leader_election)
    # THEN no execution was started or recorded
    with session_scope() as session:
        assert get_execution_by_name(session, "daily_operations-europe-madrid-2027-03-16") is None
    sfn = stack.cloud.client("stepfunctions")
    names = [
        e["name"]
        for e in sfn.list_executions(stateMachineArn=stack.deployment.state_machine_arns["daily_operations"])[
            "executions"
        ]
    ]
    assert "daily_operations-europe-madrid-2027-03-16" not in names
