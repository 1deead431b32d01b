"""Event sinks for the outbox bridge: RabbitMQ (pika, publisher confirms) or a local JSON-lines log."""

from __future__ import annotations

import contextlib
import json
import threading
from pathlib import Path
from typing import Any, Protocol

from chalicelib.domain.events import EXCHANGE
from chalicelib.settings import PROJECT_ROOT, get_settings

DEFAULT_EVENT_LOG = PROJECT_ROOT / ".local" / "events.jsonl"


class EventSink(Protocol):
    def publish(self, *, message_id: str, routing_key: str, payload: dict[str, Any]) -> None:
        """Return only once the event is durably accepted; raise otherwise."""

    def close(self) -> None: ...


class RabbitMQSink:
    """Durable topic exchange, persistent messages, publisher confirms: publish() returning means the
    broker has the message."""

    def __init__(self, url: str) -> None:
        import pika  # imported here: only the bridge needs it (cold start of the other steps)

        self._pika = pika
        params = pika.URLParameters(url)
        # A stopped broker must fail the drain fast (the events wait in the outbox), and a broker
        # that blocks publishers (memory/disk alarm) must not hang the bridge until its Lambda timeout.
        params.connection_attempts = 1
        params.socket_timeout = 5
        params.blocked_connection_timeout = 15
        self._connection = pika.BlockingConnection(params)
        self._channel = self._connection.channel()
        self._channel.exchange_declare(exchange=EXCHANGE, exchange_type="topic", durable=True)
        self._channel.confirm_delivery()

    def publish(self, *, message_id: str, routing_key: str, payload: dict[str, Any]) -> None:
        self._channel.basic_publish(
            exchange=EXCHANGE,
            routing_key=routing_key,
            body=json.dumps(payload, default=str).encode(),
            properties=self._pika.BasicProperties(
                content_type="application/json",
                delivery_mode=2,
                message_id=message_id,
                type=payload.get("event_type"),
            ),
            mandatory=False,
        )

    def close(self) -> None:
        # Closing a broken connection must not mask the real outcome.
        with contextlib.suppress(Exception):
            self._connection.close()


class LocalLogSink:
    """Without RABBITMQ_URL (the embedded default) events are appended to a local JSON-lines file."""

    _lock = threading.Lock()

    def __init__(self, path: Path | None = None) -> None:
        self._path = path or Path(get_settings().event_log_path or DEFAULT_EVENT_LOG)
        self._path.parent.mkdir(parents=True, exist_ok=True)

    def publish(self, *, message_id: str, routing_key: str, payload: dict[str, Any]) -> None:
        line = json.dumps({"message_id": message_id, "routing_key": routing_key, "payload": payload}, default=str)
        with self._lock, self._path.open("a", encoding="utf-8") as handle:
            handle.write(line + "\n")

    def close(self) -> None:
        return None


def open_sink() -> EventSink:
    url = get_settings().rabbitmq_url
    return RabbitMQSink(url) if url else LocalLogSink()
