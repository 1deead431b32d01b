"""Step Functions: start executions by deterministic name."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any

import boto3

if TYPE_CHECKING:
    from mypy_boto3_stepfunctions import SFNClient


@dataclass(frozen=True)
class StartResult:
    execution_name: str
    execution_arn: str | None
    already_existed: bool


class Executions:
    def __init__(self, *, client: SFNClient | None = None) -> None:
        self._client = client or get_sfn_client()

    def start(self, state_machine_arn: str, name: str, run_input: dict[str, Any]) -> StartResult:
        """Start `name`; a second start of the same name is "already done", never an error."""
        try:
            response = self._client.start_execution(
                stateMachineArn=state_machine_arn, name=name, input=json.dumps(run_input, default=str)
            )
        except self._client.exceptions.ExecutionAlreadyExists:
            return StartResult(name, None, already_existed=True)
        return StartResult(name, response["executionArn"], already_existed=False)


def get_sfn_client() -> SFNClient:
    # Endpoint comes from AWS_ENDPOINT_URL on the local cloud; never an endpoint_url in code.
    return _client_for(os.environ.get("AWS_ENDPOINT_URL"), os.environ.get("AWS_DEFAULT_REGION"))


@cache
def _client_for(_endpoint: str | None, _region: str | None) -> SFNClient:
    return boto3.client("stepfunctions")


get_sfn_client.cache_clear = _client_for.cache_clear  # type: ignore[attr-defined]
