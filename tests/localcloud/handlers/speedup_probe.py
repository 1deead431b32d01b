"""Runs a set of state machines on a fresh local cloud and prints their normalised histories as JSON.

tests/localcloud/test_speedups.py runs this twice, with LOCALCLOUD_SPEEDUPS=1 and =0, and
compares the outputs: the speed patches must not change what an execution does or records.
"""

from __future__ import annotations

import json
import sys
from typing import Any

from localcloud import LocalCloud
from tests.localcloud.handlers.support import create_function, history, wait_for_execution

H = "tests.localcloud.handlers"
LAMBDA_RETRY = {"ErrorEquals": ["FlakyError"], "IntervalSeconds": 1, "MaxAttempts": 3, "BackoffRate": 1.0}


def machines(arns: dict[str, str]) -> dict[str, tuple[dict[str, Any], dict[str, Any]]]:
    """name -> (definition, input)."""

    def task(fn: str, **extra: Any) -> dict[str, Any]:
        return {"Type": "Task", "Resource": arns[fn], **extra}

    return {
        "retry_then_succeed": (
            {
                "StartAt": "Bake",
                "States": {
                    "Bake": task("flaky", TimeoutSeconds=30, Retry=[LAMBDA_RETRY], ResultPath="$.out", End=True)
                },
            },
            {"key": "retry", "fail_times": 2},
        ),
        "catch_fatal": (
            {
                "StartAt": "Bake",
                "States": {
                    "Bake": task(
                        "flaky",
                        TimeoutSeconds=30,
                        Retry=[LAMBDA_RETRY],
                        ResultPath="$.out",
                        Next="Done",
                        Catch=[{"ErrorEquals": ["FatalError"], "ResultPath": "$.error", "Next": "Caught"}],
                    ),
                    "Caught": {"Type": "Pass", "Result": "caught", "ResultPath": "$.outcome", "End": True},
                    "Done": {"Type": "Succeed"},
                },
            },
            {"key": "fatal", "then_fatal": True},
        ),
        # The ASL timeout is shorter than the function's: moto's own timeout thread must still fire.
        "states_timeout": (
            {
                "StartAt": "Slow",
                "States": {
                    "Slow": task(
                        "slow_long",
                        TimeoutSeconds=1,
                        Catch=[{"ErrorEquals": ["States.Timeout"], "ResultPath": "$.error", "Next": "TimedOut"}],
                        End=True,
                    ),
                    "TimedOut": {"Type": "Pass", "End": True},
                },
            },
            {"sleep_s": 3},
        ),
        # The function's timeout is shorter: the runner answers Sandbox.Timedout (the inline path).
        "lambda_timeout": (
            {
                "StartAt": "Slow",
                "States": {
                    "Slow": task(
                        "slow_short",
                        TimeoutSeconds=30,
                        Catch=[{"ErrorEquals": ["Sandbox.Timedout"], "ResultPath": "$.error", "Next": "TimedOut"}],
                        End=True,
                    ),
                    "TimedOut": {"Type": "Pass", "End": True},
                },
            },
            {"sleep_s": 3},
        ),
        "parallel_and_map": (
            {
                "StartAt": "Both",
                "States": {
                    "Both": {
                        "Type": "Parallel",
                        "End": True,
                        "Branches": [
                            {
                                "StartAt": "Items",
                                "States": {
                                    "Items": {
                                        "Type": "Map",
                                        "ItemsPath": "$.items",
                                        "MaxConcurrency": 1,
                                        "End": True,
                                        "ItemProcessor": {
                                            "StartAt": "Double",
                                            "States": {"Double": task("item", TimeoutSeconds=10, End=True)},
                                        },
                                    }
                                },
                            },
                            {
                                "StartAt": "Echo",
                                "States": {"Echo": task("item", TimeoutSeconds=10, Parameters={"value": 21}, End=True)},
                            },
                        ],
                    }
                },
            },
            {"items": [{"value": i} for i in range(5)]},
        ),
    }


def normalise(events: list[dict[str, Any]]) -> list[list[Any]]:
    """What an execution did, without ids, timestamps or generated names."""
    out = []
    for event in events:
        details = next((v for k, v in event.items() if k.endswith("EventDetails")), {})
        out.append(
            [
                event["type"],
                details.get("name"),
                details.get("error"),
                details.get("output") if event["type"].endswith("Succeeded") else None,
            ]
        )
    return out


def main() -> None:
    cloud = LocalCloud().start()
    try:
        sfn = cloud.client("stepfunctions")
        arns = {
            "flaky": create_function(cloud, f"{H}.flaky.handler", timeout=10, prefix="probe")["FunctionArn"],
            "item": create_function(cloud, f"{H}.flaky.item", timeout=10, prefix="probe")["FunctionArn"],
            "slow_long": create_function(cloud, f"{H}.basic.slow", timeout=10, prefix="probe")["FunctionArn"],
            "slow_short": create_function(cloud, f"{H}.basic.slow", timeout=1, prefix="probe")["FunctionArn"],
        }
        result = {}
        for name, (definition, run_input) in machines(arns).items():
            machine = sfn.create_state_machine(
                name=f"probe-{name}", definition=json.dumps(definition), roleArn="arn:aws:iam::123456789012:role/probe"
            )
            execution = sfn.start_execution(
                stateMachineArn=machine["stateMachineArn"], name=f"probe-{name}", input=json.dumps(run_input)
            )
            described = wait_for_execution(cloud, execution["executionArn"], timeout_s=60)
            result[name] = {
                "status": described["status"],
                "output": described.get("output"),
                "history": normalise(history(cloud, execution["executionArn"])),
            }
        json.dump(result, sys.stdout, sort_keys=True)
    finally:
        cloud.stop()


if __name__ == "__main__":
    main()
