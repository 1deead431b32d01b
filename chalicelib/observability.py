"""Structured JSON logging (Powertools Logger), one logger for the whole package.

The service name comes from POWERTOOLS_SERVICE_NAME (set for every function by the stage config), the
level from POWERTOOLS_LOG_LEVEL. `lambda_handler` injects the Lambda context (request id, function name,
cold start) into every line of an invocation; the step handlers add the execution, tenant and step with
`step_keys(...)`, and those keys are cleared when the next invocation starts.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from functools import cache
from typing import TYPE_CHECKING, Any

from chalicelib.domain.constants import APP_NAME

if TYPE_CHECKING:
    from aws_lambda_powertools import Logger

Handler = Callable[[Any, Any], Any]


@cache
def get_logger() -> Logger:
    from aws_lambda_powertools import Logger  # ~0.1 s: only when something logs, not at `import app`

    return Logger(service=os.environ.get("POWERTOOLS_SERVICE_NAME") or APP_NAME)


def lambda_handler(fn: Handler) -> Handler:
    """A Lambda handler whose log lines carry the invocation's context, with no keys left over from the
    previous invocation of a warm sandbox (Powertools' `inject_lambda_context(clear_state=True)`)."""
    wrapped: Handler | None = None

    @functools.wraps(fn)
    def handler(event: Any, context: Any) -> Any:
        nonlocal wrapped
        logger = get_logger()
        if wrapped is None:
            wrapped = logger.inject_lambda_context(fn, clear_state=True)
        logger.thread_safe_clear_keys()  # this thread's step keys from an earlier invocation
        return wrapped(event, context)

    return handler


def step_keys(**keys: str) -> None:
    """The execution, tenant and step on every line this invocation logs. Kept per thread: the local
    cloud runs many invocations in threads of one process, where a Lambda sandbox runs one at a time."""
    get_logger().thread_safe_append_keys(**keys)


METRICS_NAMESPACE = "BakeryOrchestrator"


def emit_metric(name: str, value: float, unit: str = "Seconds", *, stage: str) -> None:
    """One CloudWatch metric as an EMF log line (Powertools `single_metric`): CloudWatch reads it from the
    function's log, so it needs no permission. Dimensions: service and stage (what the alarms name).
    POWERTOOLS_METRICS_DISABLED=true (the local stack) writes nothing."""
    from aws_lambda_powertools.metrics import MetricUnit, single_metric
    from aws_lambda_powertools.metrics.functions import is_metrics_disabled

    if is_metrics_disabled():
        return

    with single_metric(
        name=name,
        unit=MetricUnit(unit),
        value=value,
        namespace=METRICS_NAMESPACE,
        default_dimensions={"service": os.environ.get("POWERTOOLS_SERVICE_NAME") or APP_NAME, "stage": stage},
    ):
        pass
