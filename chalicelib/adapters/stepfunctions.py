"""Step Functions: start executions by deterministic name, read and stop them."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any

import boto3

if TYPE_CHECKING:
    from mypy_boto3_stepfunctions import SFNClient

TERMINAL = ("SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED")


@dataclass(frozen=True)
class StartResult:
    execution_name: str
    execution_arn: str | None
    already_existed: bool


def execution_arn(state_machine_arn: str, name: str) -> str:
    """The ARN Step Functions gives the execution `name` of that state machine."""
    return state_machine_arn.replace(":stateMachine:", ":execution:", 1) + f":{name}"


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

    def status_and_input(self, arn: str) -> tuple[str, dict[str, Any]]:
        """The execution's status and its input (raises the client's error when unknown)."""
        found = self._client.describe_execution(executionArn=arn)
        try:
            run_input = json.loads(found.get("input") or "{}")
        except json.JSONDecodeError:
            run_input = {}
        return found["status"], run_input if isinstance(run_input, dict) else {}

    def definition(self, state_machine_arn: str) -> str:
        return self._client.describe_state_machine(stateMachineArn=state_machine_arn)["definition"]

    def update_definition(self, state_machine_arn: str, definition: str) -> None:
        """New executions use the new definition; running ones keep theirs."""
        self._client.update_state_machine(stateMachineArn=state_machine_arn, definition=definition)

    def stop(self, arn: str, *, error: str, cause: str) -> None:
        self._client.stop_execution(executionArn=arn, error=error, cause=cause[:32000])


@cache
def get_sfn_client() -> SFNClient:
    """One client per process; the endpoint comes from AWS_ENDPOINT_URL on the local cloud (never an
    endpoint_url in code). `get_sfn_client.cache_clear()` forgets it."""
    return boto3.client("stepfunctions")


@cache
def get_probe_client() -> SFNClient:
    """A client that answers fast or fails (health checks): short timeouts, no retries."""
    from botocore.config import Config

    return boto3.client("stepfunctions", config=Config(connect_timeout=2, read_timeout=3, retries={"max_attempts": 1}))


def describe_state_machine(arn: str | None) -> str:
    """The deployed state machine's status, or that the service answers when no ARN is configured."""
    client = get_probe_client()
    if arn:
        return client.describe_state_machine(stateMachineArn=arn)["status"]
    client.list_state_machines(maxResults=1)
    return "reachable (no state machine ARN configured)"
