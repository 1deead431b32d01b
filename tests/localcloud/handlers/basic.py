"""Test handlers for the Lambda runner."""

from __future__ import annotations

import os
import time
from typing import Any


class TenantNotFound(Exception):
    pass


def ok(event: Any, context: Any) -> dict[str, Any]:
    return {
        "echo": event,
        "function_name": context.function_name,
        "function_version": context.function_version,
        "invoked_function_arn": context.invoked_function_arn,
        "memory_limit_in_mb": context.memory_limit_in_mb,
        "aws_request_id": context.aws_request_id,
        "log_group_name": context.log_group_name,
        "remaining_ms": context.get_remaining_time_in_millis(),
        "env_value": os.environ.get("LOCALCLOUD_TEST_VALUE"),
    }


def boom(event: Any, context: Any) -> None:
    raise TenantNotFound(f"tenant {event.get('tenant')} not found")


def slow(event: Any, context: Any) -> str:
    time.sleep(event.get("sleep_s", 3))
    return "finished"


def nothing(event: Any, context: Any) -> None:
    return None


def unserialisable(event: Any, context: Any) -> object:
    return object()


not_callable = 42
