"""Structured JSON logging (Powertools Logger), one logger for the whole package.

The service name comes from POWERTOOLS_SERVICE_NAME (set for every function by the stage config), the
level from POWERTOOLS_LOG_LEVEL. Step handlers add the execution, tenant and step to every line they log
(`step_keys`), and `app.py` injects the Lambda context (request id, function name, cold start).
"""

from __future__ import annotations

import os
from functools import cache

from aws_lambda_powertools import Logger

from chalicelib.domain.constants import APP_NAME


@cache
def get_logger() -> Logger:
    return Logger(service=os.environ.get("POWERTOOLS_SERVICE_NAME") or APP_NAME)
