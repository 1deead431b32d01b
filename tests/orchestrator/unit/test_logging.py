"""Step log lines carry the Lambda context and the step's keys; a warm sandbox's next invocation does not
inherit the previous one's keys."""

from __future__ import annotations

import io
import json
import logging
from dataclasses import dataclass
from typing import Any

from chalicelib.observability import get_logger, lambda_handler, step_keys


@dataclass
class Context:
    function_name: str = "generate_forecasts"
    memory_limit_in_mb: int = 256
    invoked_function_arn: str = "arn:aws:lambda:eu-west-1:123456789012:function:generate_forecasts"
    aws_request_id: str = "req-1"


def test_step_keys_and_lambda_context_in_the_json_line() -> None:
    logger = get_logger()
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logger.registered_formatter)
    base = logging.getLogger(logger.name)
    base.addHandler(handler)
    level = base.level
    base.setLevel(logging.INFO)
    try:
        # GIVEN a handler that adds the step's keys the way the step handlers do
        @lambda_handler
        def step(event: dict[str, Any], context: Any) -> None:
            if event.get("tenant_id"):
                step_keys(execution_name="daily-x", tenant_id=event["tenant_id"], step="plan")
            get_logger().info("step completed")

        # WHEN it runs twice in one warm sandbox, the second time without keys
        step({"tenant_id": "t-1"}, Context())
        step({}, Context(aws_request_id="req-2"))
    finally:
        base.removeHandler(handler)
        base.setLevel(level)
    first, second = (json.loads(line) for line in stream.getvalue().splitlines())
    # THEN the first line names the execution, tenant, step and the Lambda invocation
    assert first["execution_name"] == "daily-x" and first["tenant_id"] == "t-1" and first["step"] == "plan"
    assert first["function_name"] == "generate_forecasts" and first["function_request_id"] == "req-1"
    assert "cold_start" in first and first["service"]
    # AND the second invocation's line has its own request id and none of the first one's keys
    assert second["function_request_id"] == "req-2"
    assert "tenant_id" not in second and "execution_name" not in second
