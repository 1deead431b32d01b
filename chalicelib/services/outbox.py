"""The bridge: drain the outbox to the event sink. A row is marked published only after the sink
accepted it (RabbitMQ: the publisher confirm), so a broker outage leaves events in the outbox for the
next drain (nothing is lost). Each message carries the outbox row's id as message_id: a consumer that
sees one twice (the bridge died between the confirm and its commit) recognises it.

Runs as the state machine's PublishEvents step and on the every-minute rule (`{"source": "schedule"}`);
the scheduled run first lets the watchdog stop runs past their max_execution_time_seconds, so their
`workflow_failed` events go out in the same drain."""

from __future__ import annotations

from typing import Any

from chalicelib.adapters.events import EventSink, open_sink
from chalicelib.db import outbox
from chalicelib.db.engine import session_scope
from chalicelib.observability import get_logger

BATCH_SIZE = 100


def publish_events(event: Any = None, *, sink: EventSink | None = None, max_batches: int = 50) -> dict[str, Any]:
    expired: list[dict[str, Any]] = []
    if isinstance(event, dict) and event.get("source") == "schedule":
        from chalicelib.services.watchdog import expire_overdue

        try:
            expired = expire_overdue()
        except Exception as exc:  # noqa: BLE001 - the drain must still run
            get_logger().error("watchdog failed", extra={"error": f"{type(exc).__name__}: {exc}"})
    result = drain(sink=sink, max_batches=max_batches)
    if expired:
        result["expired"] = expired
    _report_backlog_age(result)
    return result


def _report_backlog_age(result: dict[str, Any]) -> None:
    """The oldest waiting event's age, as a metric the backlog alarm watches (every drain reports it)."""
    from chalicelib.observability import emit_metric
    from chalicelib.settings import get_settings

    try:
        with session_scope() as session:
            age = outbox.oldest_pending_age_seconds(session)
    except Exception as exc:  # noqa: BLE001 - the database is down: no value (the alarm treats silence as breaching)
        get_logger().warning("outbox age unknown", extra={"error": str(exc)})
        return
    result["oldest_pending_age_seconds"] = round(age, 3)
    emit_metric("OutboxOldestPendingAgeSeconds", age, "Seconds", stage=get_settings().stage)


def drain(*, sink: EventSink | None = None, max_batches: int = 50) -> dict[str, Any]:
    published = failed = 0
    own_sink = sink is None
    try:
        sink = sink or open_sink()
    except Exception as exc:  # noqa: BLE001 - broker down or misconfigured: the events wait in the outbox
        get_logger().warning("event sink unavailable", extra={"error": str(exc)})
        return {"published": 0, "failed": 0, "pending": _pending(), "error": f"{type(exc).__name__}: {exc}"}
    try:
        for _ in range(max_batches):
            with session_scope() as session:
                rows = outbox.pending_batch(session, BATCH_SIZE)
                if not rows:
                    break
                for row in rows:
                    try:
                        sink.publish(message_id=str(row.id), routing_key=row.routing_key, payload=row.payload)
                    except Exception as exc:  # noqa: BLE001 - any sink failure leaves the row pending
                        outbox.mark_failed(row, f"{type(exc).__name__}: {exc}")
                        failed += 1
                        break
                    outbox.mark_published(row)
                    published += 1
            if failed:
                break
    finally:
        if own_sink and sink is not None:
            sink.close()
    return {"published": published, "failed": failed, "pending": _pending()}


def _pending() -> int:
    with session_scope() as session:
        return outbox.pending_count(session)
