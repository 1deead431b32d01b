"""The fault matrix (issue 4): real Postgres, Redis and RabbitMQ, the real ASL on the local cloud, the real
handlers; faults come from the edges only (the simulator's faults, an unreachable Redis URL, the machine's
own commands stopping RabbitMQ and Postgres). Each test prints one matrix line with what it observed.

Executions are named by local date: this module uses January 2027 weekdays (11-20)."""

from __future__ import annotations

import json
import os
import socket
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pika
import pytest
from sqlalchemy import func, select, update

from chalicelib.adapters.locks import RunLocks
from chalicelib.db.engine import session_scope
from chalicelib.db.models import Execution, ExecutionLog, OutboxEvent, StepRun, Workflow
from chalicelib.domain.models import DAILY_STEPS
from chalicelib.runtime import reset
from tests.conftest import bind_event_queue
from tests.orchestrator.chaos import services
from tests.orchestrator.chaos.conftest import RABBITMQ_URL

MADRID = "Europe/Madrid"
ACTIVE_MADRID = 10
# A UTC instant at which only the every-minute rule (outbox drain + watchdog) is due.
HOUSEKEEPING_AT = datetime(2027, 1, 20, 12, 34, tzinfo=UTC)

Line = Callable[[str, str], None]


def eight_madrid(day: int) -> datetime:
    """08:00 Europe/Madrid in January is 07:00 UTC."""
    return datetime(2027, 1, day, 7, 0, tzinfo=UTC)


def madrid_tenants() -> list[dict[str, Any]]:
    from bakery_sim.tenants import demo_tenants

    return [t for t in demo_tenants() if t["status"] == "active" and t["timezone"] == MADRID]


def fire_run(stack: Any, at: datetime) -> str:
    runs = stack.dispatches(stack.fire(at))[0]["runs"]
    assert [r["outcome"] for r in runs] == ["started"], runs
    return runs[0]["execution_name"]


def failed_attempts(execution_id: str, tenant_id: str, step: str) -> list[datetime]:
    """When each failed attempt of one tenant's step was recorded (one log row per attempt)."""
    with session_scope() as session:
        rows = session.scalars(
            select(ExecutionLog.created_at)
            .where(
                ExecutionLog.execution_id == uuid.UUID(execution_id),
                ExecutionLog.tenant_id == tenant_id,
                ExecutionLog.step_name == step,
                ExecutionLog.message.like(f"{step} failed for %"),
            )
            .order_by(ExecutionLog.id)
        ).all()
    return list(rows)


def gaps(times: list[datetime]) -> str:
    return "/".join(f"{(b - a).total_seconds():.1f}s" for a, b in zip(times, times[1:], strict=False))


def step_rows(execution_id: str) -> list[StepRun]:
    with session_scope() as session:
        return list(session.scalars(select(StepRun).where(StepRun.execution_id == uuid.UUID(execution_id))))


def outbox_for(execution_id: str) -> list[OutboxEvent]:
    with session_scope() as session:
        return list(session.scalars(select(OutboxEvent).where(OutboxEvent.aggregate_id == execution_id)))


def test_downstream_5xx_timeout_and_slowness_fail_only_their_tenant(
    chaos_stack: Any, sim: Any, matrix_line: Line
) -> None:
    # GIVEN three tenants whose services misbehave: forecasting answers 503, production hangs past the
    # client timeout (2 s), inventory answers every call 3 s late
    five_xx, hangs, slow = (t["id"] for t in madrid_tenants()[:3])
    sim.set_fault("forecasting", status_code=503, error_rate=1.0, tenant_ids=[five_xx])
    sim.set_fault("production", hang_seconds=4, tenant_ids=[hangs])
    sim.set_fault("inventory", latency_ms=3000, tenant_ids=[slow])
    # WHEN the daily run fires
    result = chaos_stack.wait(fire_run(chaos_stack, eight_madrid(11)), timeout=240)
    # THEN the run completes with failures: exactly those three tenants failed, the others completed
    summary = result.summary
    assert result.sfn_status == "SUCCEEDED"
    assert summary["status"] == "completed_with_failures"
    assert (summary["tenants_processed"], summary["tenants_failed"]) == (ACTIVE_MADRID - 3, 3)
    failed = {(r.tenant_id, r.step_name): r for r in step_rows(summary["execution_id"]) if r.status == "failed"}
    assert {t for t, _ in failed} == {five_xx, hangs, slow}
    assert "503" in failed[(five_xx, "generate_forecasts")].error_message
    assert "timed out" in failed[(hangs, "plan_production")].error_message
    assert "timed out" in failed[(slow, "project_inventory")].error_message
    # AND each failing step was tried three times (1 + 2 retries with backoff), each attempt recorded
    # (forecasting also serves the accuracy check in the other Parallel branch: whichever of the two
    # exhausts its retries first fails the Parallel state, which stops the other branch mid-retry)
    observed = []
    for tenant, step, service in (
        (five_xx, "generate_forecasts", "forecasting"),
        (hangs, "plan_production", "production"),
        (slow, "project_inventory", "inventory"),
    ):
        attempts = failed_attempts(summary["execution_id"], tenant, step)
        if service == "forecasting":
            validation = failed_attempts(summary["execution_id"], tenant, "validate_forecasts")
            attempts = max(attempts, validation, key=len)
        assert len(attempts) == 3, (step, attempts)
        assert failed[(tenant, step)].error_type == "TransientServiceError"
        observed.append(f"{service} {len(attempts)} attempts (gaps {gaps(attempts)})")
    assert sim.calls_for("production", hangs) == 3 and sim.calls_for("inventory", slow) == 3
    matrix_line(
        "downstream 5xx / hang / slow for one tenant each",
        f"{summary['status']}, {summary['tenants_processed']} ok, failed: " + "; ".join(observed),
    )


def test_step_handler_crash_is_caught_and_recorded(chaos_stack: Any, sim: Any, matrix_line: Line) -> None:
    # GIVEN the procurement service rejects one tenant's request (the handler raises an error no Retry
    # matches: it leaves the Lambda unhandled, like any crash)
    victim = madrid_tenants()[3]["id"]
    sim.set_fault("procurement", status_code=422, error_rate=1.0, tenant_ids=[victim])
    # WHEN the daily run fires
    result = chaos_stack.wait(fire_run(chaos_stack, eight_madrid(12)), timeout=240)
    # THEN the tenant's Catch recorded it after a single attempt and the run completed with failures
    summary = result.summary
    assert result.sfn_status == "SUCCEEDED"
    assert summary["status"] == "completed_with_failures"
    assert (summary["tenants_processed"], summary["tenants_failed"]) == (ACTIVE_MADRID - 1, 1)
    failed = [r for r in step_rows(summary["execution_id"]) if r.status == "failed"]
    assert [(r.tenant_id, r.step_name, r.error_type) for r in failed] == [
        (victim, "calculate_procurement", "PermanentServiceError")
    ]
    assert sim.calls_for("procurement", victim) == 1
    with session_scope() as session:
        caught = session.scalar(
            select(func.count()).where(
                ExecutionLog.execution_id == uuid.UUID(summary["execution_id"]),
                ExecutionLog.tenant_id == victim,
                ExecutionLog.message.like("tenant % failed at calculate_procurement%"),
            )
        )
    assert caught == 1
    matrix_line(
        "step handler crashes (unhandled error)",
        f"{summary['status']}, Catch recorded {failed[0].error_type} at {failed[0].step_name} "
        f"after 1 attempt, {summary['tenants_processed']} others ok",
    )


def test_same_step_delivered_twice_calls_downstream_once(chaos_stack: Any, sim: Any, matrix_line: Line) -> None:
    # GIVEN an open execution and a forecasting service slow enough that two deliveries overlap
    lam, arns = chaos_stack.cloud.client("lambda"), chaos_stack.deployment.function_arns
    tenant = madrid_tenants()[4]
    request = {"workflow_name": "daily_operations", "scope": MADRID, "run_date": "2027-01-13", "trigger": "manual"}
    run = _invoke(lam, arns["start_run"], {"request": request, "execution_name": f"chaos-twice-{uuid.uuid4().hex[:8]}"})
    sim.set_fault("forecasting", latency_ms=500, tenant_ids=[tenant["id"]])
    event = {"run": run, "tenant": {"id": tenant["id"], "name": tenant["name"]}}
    # WHEN the same step is delivered twice at once, and once more afterwards
    results: list[Any] = []
    threads = [
        threading.Thread(target=lambda: results.append(_invoke(lam, arns["generate_forecasts"], event)))
        for _ in range(2)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    results.append(_invoke(lam, arns["generate_forecasts"], event))
    # THEN the forecasting service was called once and every delivery got the same result
    assert sim.calls_for("forecasting", tenant["id"]) == 1
    assert len(results) == 3 and results[0] == results[1] == results[2]
    # AND one step row and one log entry record it
    rows = step_rows(run["execution_id"])
    assert [(r.tenant_id, r.step_name, r.status) for r in rows] == [(tenant["id"], "generate_forecasts", "completed")]
    with session_scope() as session:
        logs = session.scalar(
            select(func.count()).where(
                ExecutionLog.execution_id == uuid.UUID(run["execution_id"]), ExecutionLog.tenant_id == tenant["id"]
            )
        )
    assert logs == 1
    matrix_line(
        "same step delivered twice (+1 later)",
        f"downstream called {sim.calls_for('forecasting', tenant['id'])}x, 3 identical results, "
        f"1 step row, {logs} log row",
    )


def test_hundred_concurrent_triggers_start_one_execution(chaos_stack: Any, matrix_line: Line) -> None:
    # GIVEN 100 deliveries of the same EventBridge event arriving at once
    at = eight_madrid(14)
    event = json.dumps({"workflow_name": "daily_operations", "time": at.isoformat(), "event_id": "same"}).encode()
    lam, arn = chaos_stack.cloud.client("lambda"), chaos_stack.deployment.function_arns["dispatch"]
    outcomes: list[str] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(100)

    def deliver() -> None:
        try:
            barrier.wait()
            response = lam.invoke(FunctionName=arn, Payload=event)
            body = json.loads(response["Payload"].read())
            assert not response.get("FunctionError"), body
            outcomes.extend(r["outcome"] for r in body["runs"])
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=deliver) for _ in range(100)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=240)
    # THEN exactly one started, one execution exists, and it completes
    assert not errors, errors[:3]
    assert outcomes.count("started") == 1, Counter(outcomes)
    name = "daily_operations-europe-madrid-2027-01-14"
    result = chaos_stack.wait(name, timeout=240)
    assert result.summary["status"] == "completed"
    sfn = chaos_stack.cloud.client("stepfunctions")
    machine = chaos_stack.deployment.state_machine_arns["daily_operations"]
    names = [e["name"] for e in sfn.list_executions(stateMachineArn=machine)["executions"]]
    with session_scope() as session:
        rows = session.scalar(select(func.count()).where(Execution.execution_name == name))
    assert names.count(name) == 1 and rows == 1
    matrix_line(
        "100 concurrent triggers of the same run",
        f"1 execution ({dict(Counter(outcomes))}), run {result.summary['status']}",
    )


def test_redis_unavailable_at_start_starts_nothing(chaos_stack: Any, matrix_line: Line) -> None:
    # GIVEN the dispatcher's Redis points at a port where nothing listens (Redis down for it; the
    # machine's Redis keeps serving other test sessions)
    lam, arn = chaos_stack.cloud.client("lambda"), chaos_stack.deployment.function_arns["dispatch"]
    env = lam.get_function_configuration(FunctionName=arn)["Environment"]["Variables"]
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    lam.update_function_configuration(
        FunctionName=arn, Environment={"Variables": {**env, "REDIS_URL": f"redis://127.0.0.1:{closed_port}/0"}}
    )
    name = "daily_operations-europe-madrid-2027-01-15"
    try:
        # WHEN the daily rule fires
        firings = [f for f in chaos_stack.fire(eight_madrid(15)) if f.target_id == "dispatch"]
    finally:
        lam.update_function_configuration(FunctionName=arn, Environment={"Variables": env})
        os.environ["REDIS_URL"] = env["REDIS_URL"]  # the local runner applies a function's env process-wide
        reset()
    # THEN the dispatch failed with a clear error naming Redis
    assert len(firings) == 1 and firings[0].function_error
    error = firings[0].response_payload
    assert error["errorType"] == "LockUnavailableError"
    assert "Redis unreachable, no run started" in error["errorMessage"]
    # AND nothing was half-written: no execution row, no state machine execution, no lock, no event
    sfn = chaos_stack.cloud.client("stepfunctions")
    machine = chaos_stack.deployment.state_machine_arns["daily_operations"]
    assert name not in [e["name"] for e in sfn.list_executions(stateMachineArn=machine)["executions"]]
    with session_scope() as session:
        assert session.scalar(select(func.count()).where(Execution.execution_name == name)) == 0
    locks = RunLocks()
    assert locks.holder(locks.key("daily_operations", MADRID)) is None
    # AND when Redis is reachable again the next delivery starts the run normally
    result = chaos_stack.wait(fire_run(chaos_stack, eight_madrid(15)), timeout=240)
    assert result.summary["status"] == "completed" and len(outbox_for(result.summary["execution_id"])) == 1
    matrix_line(
        "Redis unavailable at start (closed port)",
        f"no run: {error['errorType']}: {error['errorMessage'][:60]}...; 0 rows; next firing ran "
        f"{result.summary['status']}",
    )


def test_run_past_its_max_execution_time_is_stopped_failed_and_announced(
    chaos_stack: Any, sim: Any, matrix_line: Line
) -> None:
    # GIVEN a workflow limited to 1 s and a forecasting service that keeps its run busy longer
    with session_scope() as session:
        original = session.scalar(
            select(Workflow.max_execution_time_seconds).where(Workflow.name == "daily_operations")
        )
        session.execute(
            update(Workflow).where(Workflow.name == "daily_operations").values(max_execution_time_seconds=1)
        )
    sim.set_fault("forecasting", latency_ms=1500)
    consumer, queue = bind_event_queue(durable=False)
    try:
        name = fire_run(chaos_stack, eight_madrid(18))
        # WHEN the every-minute housekeeping rule fires (polled until the watchdog acts)
        deadline = time.monotonic() + 60
        while _status(name) in (None, "running"):
            assert time.monotonic() < deadline, "the watchdog never stopped the run"
            chaos_stack.fire(HOUSEKEEPING_AT)
    finally:
        with session_scope() as session:
            session.execute(
                update(Workflow).where(Workflow.name == "daily_operations").values(max_execution_time_seconds=original)
            )
    try:
        # THEN the run is failed with the reason, its state machine execution stopped, its lock released
        with session_scope() as session:
            execution = session.scalar(select(Execution).where(Execution.execution_name == name))
            alerts = session.scalars(
                select(ExecutionLog.message).where(
                    ExecutionLog.execution_id == execution.id, ExecutionLog.step_name == "alert"
                )
            ).all()
        assert execution.status == "failed"
        assert "exceeded max_execution_time_seconds (1 s)" in execution.error_message
        assert _sfn_status_when_ended(chaos_stack, name) == "ABORTED"
        locks = RunLocks()
        assert locks.holder(locks.key("daily_operations", MADRID)) != name
        # AND its orchestrator_workflow_failed event went out and the operators were alerted
        events = outbox_for(str(execution.id))
        assert [e.event_type for e in events] == ["orchestrator_workflow_failed"] and events[0].published_at is not None
        received = _drain_queue(consumer, queue)
        mine = [(m, p) for m, p in received if p["execution_id"] == str(execution.id)]
        assert [(m.routing_key, p["error_message"]) for m, p in mine] == [
            ("orchestrator.workflow_failed", execution.error_message)
        ]
        assert any(a.startswith("alert sent:") for a in alerts), alerts
        assert any(
            n["type"] == "workflow_failed" and n["data"]["execution_id"] == str(execution.id)
            for n in sim.list_notifications()
        )
    finally:
        consumer.close()
    matrix_line(
        "run exceeds max_execution_time_seconds",
        f"watchdog: {execution.status} ({execution.error_message[:48]}...), SFN ABORTED, lock released, "
        f"event + alert sent",
    )


@pytest.mark.chaos
def test_rabbitmq_stopped_during_run_loses_and_doubles_nothing(chaos_stack: Any, matrix_line: Line) -> None:
    # GIVEN a durable queue bound to the orchestrator exchange (a consumer that survives broker restarts)
    queue = f"chaos-events-{uuid.uuid4().hex[:8]}"
    connection = pika.BlockingConnection(pika.URLParameters(RABBITMQ_URL))
    channel = connection.channel()
    channel.exchange_declare(exchange="orchestrator", exchange_type="topic", durable=True)
    channel.queue_declare(queue=queue, durable=True)
    channel.queue_bind(queue=queue, exchange="orchestrator", routing_key="orchestrator.#")
    connection.close()
    try:
        # WHEN RabbitMQ is stopped with the machine's command while a run executes and finishes
        with services.rabbitmq_stopped(RABBITMQ_URL):
            result = chaos_stack.wait(fire_run(chaos_stack, eight_madrid(19)), timeout=240)
            execution_id = result.summary["execution_id"]
            # THEN the run completed and its event waits in the outbox
            assert result.summary["status"] == "completed"
            waiting = outbox_for(execution_id)
            assert len(waiting) == 1 and waiting[0].published_at is None
            failed_drain = chaos_stack.drain_outbox()
            assert failed_drain["published"] == 0 and failed_drain["pending"] >= 1
        # AND once RabbitMQ is back, the every-minute rule (delivered twice) publishes it
        chaos_stack.fire(HOUSEKEEPING_AT)
        chaos_stack.fire(HOUSEKEEPING_AT)
        event = outbox_for(execution_id)[0]
        assert event.published_at is not None
        # AND a consumer counting by message_id sees every event exactly once
        connection = pika.BlockingConnection(pika.URLParameters(RABBITMQ_URL))
        received = _drain_queue(connection, queue)
        counts = Counter(message.message_id for message, _ in received)
        assert counts[str(event.id)] == 1, counts
        assert set(counts.values()) == {1}, counts
        connection.channel().queue_delete(queue=queue)
        connection.close()
    finally:
        services.start_rabbitmq(RABBITMQ_URL)
    matrix_line(
        "RabbitMQ stopped during the run, started after",
        f"event pending during outage, then delivered; {len(counts)} message(s), each id exactly once",
    )


@pytest.mark.chaos
def test_postgres_restarted_mid_run_finishes_without_lost_or_doubled_rows(
    chaos_stack: Any, sim: Any, matrix_line: Line
) -> None:
    # GIVEN services slow enough (0.8 s a call) that the run's steps are in flight for several seconds
    sim.clear_calls()
    for service in ("forecasting", "production", "procurement", "inventory", "notification"):
        sim.set_fault(service, latency_ms=800)
    name = fire_run(chaos_stack, eight_madrid(20))
    try:
        # WHEN Postgres is stopped and started again with the machine's commands once steps are completing
        deadline = time.monotonic() + 60
        while _completed_steps(name) < 1:
            assert time.monotonic() < deadline, "the run never completed a step"
            time.sleep(0.1)
        down_at = time.monotonic()
        services.stop_postgres()
    finally:
        services.start_postgres()
    outage = time.monotonic() - down_at
    result = chaos_stack.wait(name, timeout=300)
    # THEN the run finished with every tenant processed
    summary = result.summary
    assert result.sfn_status == "SUCCEEDED", summary
    assert summary["status"] == "completed", summary
    assert summary["tenants_processed"] == ACTIVE_MADRID
    # AND no audit row was lost or doubled: one completed row and one log entry per tenant and step
    rows = step_rows(summary["execution_id"])
    assert Counter(r.status for r in rows) == {"completed": ACTIVE_MADRID * len(DAILY_STEPS)}
    with session_scope() as session:
        logs = Counter(
            session.execute(
                select(ExecutionLog.tenant_id, ExecutionLog.step_name).where(
                    ExecutionLog.execution_id == uuid.UUID(summary["execution_id"]), ExecutionLog.tenant_id.is_not(None)
                )
            ).all()
        )
    assert len(logs) == ACTIVE_MADRID * len(DAILY_STEPS) and set(logs.values()) == {1}, logs
    assert len(outbox_for(summary["execution_id"])) == 1
    # AND no downstream service was called twice for a step that had already succeeded
    for tenant in madrid_tenants():
        calls = {
            s: sim.calls_for(s, tenant["id"])
            for s in ("forecasting", "production", "procurement", "inventory", "notification")
        }
        assert calls == {"forecasting": 2, "production": 1, "procurement": 1, "inventory": 1, "notification": 1}
    matrix_line(
        "Postgres restarted in the middle of a run",
        f"down+up in {outage:.1f}s; run {summary['status']}, {len(rows)} step rows, "
        f"{sum(logs.values())} step logs (none doubled), downstream once per step",
    )


# --- helpers -------------------------------------------------------------------------------------------
def _invoke(lam: Any, arn: str, payload: dict[str, Any]) -> Any:
    response = lam.invoke(FunctionName=arn, Payload=json.dumps(payload).encode())
    body = json.loads(response["Payload"].read())
    assert not response.get("FunctionError"), body
    return body


def _sfn_status_when_ended(stack: Any, name: str, timeout: float = 60) -> str:
    """A stop takes effect once the state in flight returns: poll until the execution has ended."""
    sfn = stack.cloud.client("stepfunctions")
    deadline = time.monotonic() + timeout
    while (status := sfn.describe_execution(executionArn=stack.execution_arn(name))["status"]) == "RUNNING":
        assert time.monotonic() < deadline, f"{name} still RUNNING"
        time.sleep(0.2)
    return status


def _status(name: str) -> str | None:
    with session_scope() as session:
        return session.scalar(select(Execution.status).where(Execution.execution_name == name))


def _completed_steps(name: str) -> int:
    try:
        with session_scope() as session:
            return int(
                session.scalar(
                    select(func.count())
                    .select_from(StepRun)
                    .join(Execution, Execution.id == StepRun.execution_id)
                    .where(Execution.execution_name == name, StepRun.status == "completed")
                )
                or 0
            )
    except Exception:  # noqa: BLE001 - the database may be briefly unreachable
        return 0


class _Received:
    def __init__(self, method: Any, properties: Any, body: bytes) -> None:
        self.method, self.properties, self.body = method, properties, body
        self.routing_key = method.routing_key
        self.message_id = properties.message_id


def _drain_queue(connection: pika.BlockingConnection, queue: str) -> list[tuple[Any, dict[str, Any]]]:
    channel = connection.channel()
    received = []
    while True:
        method, properties, body = channel.basic_get(queue=queue, auto_ack=True)
        if method is None:
            return received
        received.append((_Received(method, properties, body), json.loads(body)))
