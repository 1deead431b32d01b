"""Full runs against real Postgres, Redis and RabbitMQ: rows, events, concurrent dispatch."""

from __future__ import annotations

import json
import threading
import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select, text

from chalicelib.db.engine import session_scope
from chalicelib.db.models import Execution, ExecutionLog, OutboxEvent, StepRun
from tests.conftest import bind_event_queue


def test_daily_run_on_postgres_records_everything_and_publishes_to_rabbitmq(pg_stack: Any) -> None:
    # GIVEN a consumer bound to the orchestrator exchange
    connection, queue = bind_event_queue()
    try:
        # WHEN the daily run fires at 08:00 Madrid
        at = datetime(2026, 12, 10, 7, 0, tzinfo=UTC)
        runs = pg_stack.dispatches(pg_stack.fire(at))[0]["runs"]
        assert [r["outcome"] for r in runs] == ["started"]
        result = pg_stack.wait(runs[0]["execution_name"], timeout=180)
        # THEN the execution, its steps and its logs are rows in Postgres
        assert result.sfn_status == "SUCCEEDED"
        assert result.summary["status"] == "completed"
        execution_id = uuid.UUID(result.summary["execution_id"])
        with session_scope() as session:
            assert session.get_bind().dialect.name == "postgresql"
            assert session.scalar(select(func.count()).where(StepRun.execution_id == execution_id)) == 60
            assert session.scalar(select(func.count()).where(ExecutionLog.execution_id == execution_id)) >= 63
            row = session.get(Execution, execution_id)
            assert row is not None and row.tenants_processed == 10 and row.completed_at is not None
            # JSON columns are JSONB on Postgres
            kind = session.execute(
                text("SELECT jsonb_typeof(data) FROM orchestrator_execution_logs WHERE data IS NOT NULL LIMIT 1")
            ).scalar()
            assert kind == "object"
            event = session.scalar(select(OutboxEvent).where(OutboxEvent.aggregate_id == str(execution_id)))
            assert event is not None and event.published_at is not None
        # AND the completion event reached RabbitMQ with its id as message_id
        # (other runs on this broker may publish too: pick this execution's event by its id)
        channel = connection.channel()
        while True:
            method, properties, body = channel.basic_get(queue=queue, auto_ack=True)
            assert method is not None, "no event arrived for this execution"
            if properties.message_id == str(event.id):
                break
        assert method.routing_key == "orchestrator.workflow_completed"
        assert properties.message_id == str(event.id)
        payload = json.loads(body)
        assert payload["execution_id"] == str(execution_id)
        assert payload["tenants_processed"] == 10 and payload["steps_completed"] == 60
    finally:
        connection.close()


def test_concurrent_dispatches_of_one_instant_start_one_execution(pg_stack: Any) -> None:
    # GIVEN 20 deliveries of the same EventBridge event arriving at once
    at = "2026-12-11T07:00:00Z"
    event = json.dumps({"workflow_name": "daily_operations", "time": at, "event_id": "same"}).encode()
    arn = pg_stack.deployment.function_arns["dispatch"]
    outcomes: list[str] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(20)

    def deliver() -> None:
        try:
            barrier.wait()
            response = pg_stack.cloud.client("lambda").invoke(FunctionName=arn, Payload=event)
            body = json.loads(response["Payload"].read())
            assert not response.get("FunctionError"), body
            outcomes.extend(r["outcome"] for r in body["runs"])
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=deliver) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    # THEN exactly one started; every other delivery was refused harmlessly
    assert not errors, errors
    assert outcomes.count("started") == 1, outcomes
    assert set(outcomes) <= {"started", "locked", "already_running", "already_done"}
    name = "daily_operations-europe-madrid-2026-12-11"
    result = pg_stack.wait(name, timeout=180)
    assert result.summary["status"] == "completed"
    with session_scope() as session:
        assert session.scalar(select(func.count()).where(Execution.execution_name == name)) == 1
