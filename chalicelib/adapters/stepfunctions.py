"""Step Functions: start executions by deterministic name, read and stop them, and read what the console
shows (the definition an execution ran, its history, its Distributed Map runs)."""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any

import boto3

if TYPE_CHECKING:
    from mypy_boto3_stepfunctions import SFNClient

TERMINAL = ("SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED")
MAX_HISTORY_EVENTS = 25_000  # the history cap of a STANDARD execution


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

    # --- reads for the console ------------------------------------------------------------------------
    def definition_for(self, arn: str) -> tuple[dict[str, Any], str]:
        """The definition this execution ran (not the state machine's current one), parsed, and its state
        machine's ARN. An execution's definition never changes: each is read once per process."""
        with _kept_lock:
            if arn in _definitions:
                return _definitions[arn]
        found = self._client.describe_state_machine_for_execution(executionArn=arn)
        value = (dict(json.loads(found["definition"])), str(found["stateMachineArn"]))
        _keep(_definitions, arn, value)
        return value

    def history(self, arn: str, *, max_events: int = MAX_HISTORY_EVENTS) -> tuple[list[dict[str, Any]], bool]:
        """The execution's events, oldest first, reading every page up to `max_events` (a STANDARD
        execution has at most 25,000). Returns (events, truncated). A finished execution's history never
        changes: the last few read are kept."""
        with _kept_lock:
            if arn in _histories:
                return _histories[arn]
        events: list[dict[str, Any]] = []
        token: str | None = None
        truncated = True
        while len(events) < max_events:
            page_size = min(1000, max_events - len(events))
            kwargs: dict[str, Any] = {"executionArn": arn, "maxResults": page_size, "includeExecutionData": True}
            if token:
                kwargs["nextToken"] = token
            page = self._client.get_execution_history(**kwargs)
            events.extend(dict(e) for e in page["events"])
            token = page.get("nextToken")
            if not token:
                truncated = len(events) > max_events
                break
        value = (events[:max_events], truncated)
        if events and events[-1].get("type") in FINISHED_EVENTS:
            _keep(_histories, arn, value)
        return value

    def map_run(self, map_run_arn: str) -> dict[str, Any]:
        """DescribeMapRun: the map run's status and item counts (kept once the map run has ended)."""
        with _kept_lock:
            if map_run_arn in _map_runs:
                return _map_runs[map_run_arn]
        found = dict(self._client.describe_map_run(mapRunArn=map_run_arn))
        if found.get("status") not in (None, "RUNNING"):
            _keep(_map_runs, map_run_arn, found)
        return found


FINISHED_EVENTS = ("ExecutionSucceeded", "ExecutionFailed", "ExecutionAborted", "ExecutionTimedOut")
_KEPT = 16
_kept_lock = threading.Lock()
_definitions: OrderedDict[str, tuple[dict[str, Any], str]] = OrderedDict()
_histories: OrderedDict[str, tuple[list[dict[str, Any]], bool]] = OrderedDict()
_map_runs: OrderedDict[str, dict[str, Any]] = OrderedDict()


def _keep(store: OrderedDict[str, Any], key: str, value: Any) -> None:
    with _kept_lock:
        store[key] = value
        while len(store) > _KEPT:
            store.popitem(last=False)


def forget_executions() -> None:
    """Drop what was kept of finished executions (a new endpoint, in tests and the local stack)."""
    with _kept_lock:
        for store in (_definitions, _histories, _map_runs):
            store.clear()


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
