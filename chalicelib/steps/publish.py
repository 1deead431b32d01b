"""The bridge Lambda: PublishEvents in the state machine and the every-minute housekeeping rule."""

from __future__ import annotations

from typing import Any

from chalicelib.services.outbox import publish_events as run


def publish_events(event: Any) -> dict[str, Any]:
    return run(event)
