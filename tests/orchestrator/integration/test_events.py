"""The platform's view of runs: a consumer on RabbitMQ receives `orchestrator_workflow_completed` and
`orchestrator_workflow_failed` with exactly the documented payloads (validated against the JSON Schema
kept in contracts/events.schema.json), routing keys and message properties (real Postgres, Redis,
RabbitMQ)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pika
from jsonschema import Draft202012Validator
from sqlalchemy import select

from chalicelib.db.engine import session_scope
from chalicelib.db.models import OutboxEvent
from tests.conftest import ROOT, bind_event_queue

SCHEMA = json.loads((ROOT / "contracts" / "events.schema.json").read_text(encoding="utf-8"))


def validate_event(payload: dict[str, Any]) -> None:
    """The payload is one of the documented events (jsonschema raises naming what is wrong)."""
    Draft202012Validator.check_schema(SCHEMA)
    Draft202012Validator(SCHEMA, format_checker=Draft202012Validator.FORMAT_CHECKER).validate(payload)


def _received(connection: pika.BlockingConnection, queue: str) -> list[tuple[Any, Any, dict]]:
    channel, found = connection.channel(), []
    while True:
        method, properties, body = channel.basic_get(queue=queue, auto_ack=True)
        if method is None:
            return found
        found.append((method, properties, json.loads(body)))


def _of(received: list[tuple[Any, Any, dict]], execution_id: str) -> list[tuple[Any, Any, dict]]:
    return [message for message in received if message[2].get("execution_id") == execution_id]


def _run(stack: Any, at: datetime) -> dict[str, Any]:
    runs = stack.dispatches(stack.fire(at))[0]["runs"]
    return stack.wait(runs[0]["execution_name"], timeout=180).summary


def _outbox_id(execution_id: str) -> str:
    with session_scope() as session:
        return str(session.scalar(select(OutboxEvent.id).where(OutboxEvent.aggregate_id == execution_id)))


def test_consumer_receives_exact_completed_and_failed_events(pg_stack: Any) -> None:
    # GIVEN a consumer bound to the orchestrator exchange
    connection, queue = bind_event_queue()
    try:
        # WHEN one run completes and the next fails (the forecasting service down for every tenant)
        completed = _run(pg_stack, datetime(2027, 2, 3, 7, 0, tzinfo=UTC))
        pg_stack.simulator.state.set_fault("forecasting", status_code=503, error_rate=1.0)
        try:
            failed = _run(pg_stack, datetime(2027, 2, 4, 7, 0, tzinfo=UTC))
        finally:
            pg_stack.simulator.state.reset()
        assert (completed["status"], failed["status"]) == ("completed", "failed")
        received = _received(connection, queue)
        # THEN exactly one workflow_completed event arrived with the seed's payload
        [(method, props, payload)] = _of(received, completed["execution_id"])
        assert method.exchange == "orchestrator" and method.routing_key == "orchestrator.workflow_completed"
        assert props.message_id == _outbox_id(completed["execution_id"])
        assert props.delivery_mode == 2 and props.content_type == "application/json"
        validate_event(payload)
        assert payload["event_type"] == "orchestrator_workflow_completed"
        assert payload["workflow_name"] == "daily_operations"
        assert (payload["tenants_processed"], payload["steps_completed"], payload["steps_failed"]) == (10, 60, 0)
        assert payload["duration_seconds"] == completed["duration_seconds"]
        assert payload["timestamp"].endswith("Z") and datetime.fromisoformat(payload["timestamp"]).tzinfo is not None
        # AND exactly one workflow_failed event with the error and the tenants affected
        [(method, props, payload)] = _of(received, failed["execution_id"])
        assert method.routing_key == "orchestrator.workflow_failed"
        assert props.message_id == _outbox_id(failed["execution_id"]) and props.delivery_mode == 2
        validate_event(payload)
        assert payload["event_type"] == "orchestrator_workflow_failed"
        assert payload["error_message"] == "all 10 tenants failed"
        assert payload["tenants_affected"] == 10
    finally:
        connection.close()
