"""Structured JSON logging (Powertools Logger), one logger for the whole package."""

from __future__ import annotations

from functools import cache

from aws_lambda_powertools import Logger


@cache
def get_logger() -> Logger:
    return Logger(service="bakery-orchestrator")
