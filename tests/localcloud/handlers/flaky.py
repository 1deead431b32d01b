"""A handler that fails a configurable number of times, counting per key in memory."""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any

CALLS: Counter[str] = Counter()
_lock = threading.Lock()


class FlakyError(Exception):
    """Transient failure the state machine retries."""


class FatalError(Exception):
    """Permanent failure the state machine catches."""


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    with _lock:
        CALLS[event["key"]] += 1
        attempt = CALLS[event["key"]]
    if attempt <= event.get("fail_times", 0):
        raise FlakyError(f"attempt {attempt} failed")
    if event.get("then_fatal"):
        raise FatalError(f"attempt {attempt}: giving up")
    return {"key": event["key"], "attempt": attempt}


def item(event: Any, context: Any) -> Any:
    """Map item step: doubles the number it gets."""
    return {"value": event["value"] * 2}
