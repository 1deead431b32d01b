"""Step Functions on the local cloud: Retry/Catch by error name over the Lambda runner."""

from __future__ import annotations

import json
from typing import Any

import pytest

from localcloud import LocalCloud
from tests.localcloud.handlers import flaky
from tests.localcloud.handlers.support import (
    create_function,
    history,
    sfn_role_arn,
    shared_cloud,
    unique,
    wait_for_execution,
)


@pytest.fixture(scope="module")
def cloud() -> LocalCloud:
    return shared_cloud()


def _definition(function_arn: str, integration: bool) -> dict[str, Any]:
    # Two ways a Task calls Lambda: the bare function ARN, or the lambda:invoke
    # service integration (which wraps the result in Payload).
    if integration:
        task: dict[str, Any] = {
            "Resource": "arn:aws:states:::lambda:invoke",
            "Parameters": {"FunctionName": function_arn, "Payload.$": "$"},
            "ResultSelector": {"result.$": "$.Payload"},
        }
    else:
        task = {"Resource": function_arn, "ResultPath": "$.result"}
    return {
        "StartAt": "Bake",
        "States": {
            "Bake": {
                "Type": "Task",
                **task,
                "Retry": [
                    {
                        "ErrorEquals": ["FlakyError"],
                        "IntervalSeconds": 1,
                        "MaxAttempts": 3,
                        "BackoffRate": 1,
                    }
                ],
                "Catch": [
                    {
                        "ErrorEquals": ["FatalError"],
                        "ResultPath": "$.error",
                        "Next": "GaveUp",
                    }
                ],
                "Next": "Done",
            },
            "GaveUp": {
                "Type": "Pass",
                "Result": "caught",
                "ResultPath": "$.outcome",
                "End": True,
            },
            "Done": {"Type": "Succeed"},
        },
    }


def _run(cloud: LocalCloud, integration: bool, event: dict[str, Any]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    fn = create_function(cloud, "tests.localcloud.handlers.flaky.handler", prefix="flaky")
    sfn = cloud.client("stepfunctions")
    machine = sfn.create_state_machine(
        name=unique("retry-catch"),
        definition=json.dumps(_definition(fn["FunctionArn"], integration)),
        roleArn=sfn_role_arn(),
    )
    execution = sfn.start_execution(stateMachineArn=machine["stateMachineArn"], input=json.dumps(event))
    described = wait_for_execution(cloud, execution["executionArn"])
    return described, history(cloud, execution["executionArn"])


def _failures(events: list[dict[str, Any]]) -> list[str]:
    """Error names of the failed Lambda attempts, in order."""
    names = []
    for event in events:
        details = event.get("lambdaFunctionFailedEventDetails") or event.get("taskFailedEventDetails")
        if event["type"] in ("LambdaFunctionFailed", "TaskFailed") and details:
            names.append(details["error"])
    return names


@pytest.mark.parametrize("integration", [False, True], ids=["function-arn", "lambda-invoke"])
def test_retry_on_custom_error_then_success(cloud: LocalCloud, integration: bool) -> None:
    # (IntervalSeconds must be >= 1, as in AWS, and moto really sleeps it.)
    # GIVEN a Task that retries FlakyError and a handler failing twice before succeeding
    key = unique("retry")
    # WHEN the execution runs
    described, events = _run(cloud, integration, {"key": key, "fail_times": 2})
    # THEN two FlakyError failures are in the history and the third attempt succeeds
    assert described["status"] == "SUCCEEDED", described
    assert _failures(events) == ["FlakyError", "FlakyError"]
    assert flaky.CALLS[key] == 3
    assert json.loads(described["output"])["result"] == {"key": key, "attempt": 3}


@pytest.mark.parametrize("integration", [False, True], ids=["function-arn", "lambda-invoke"])
def test_retry_then_catch_other_error(cloud: LocalCloud, integration: bool) -> None:
    # GIVEN a handler that fails twice with FlakyError, then with FatalError
    key = unique("catch")
    # WHEN the execution runs
    described, events = _run(cloud, integration, {"key": key, "fail_times": 2, "then_fatal": True})
    # THEN the retries happen, the FatalError is caught and the Catch path is taken
    assert described["status"] == "SUCCEEDED", described
    assert _failures(events) == ["FlakyError", "FlakyError", "FatalError"]
    output = json.loads(described["output"])
    assert output["outcome"] == "caught"
    assert output["error"]["Error"] == "FatalError"
    assert json.loads(output["error"]["Cause"])["errorMessage"] == "attempt 3: giving up"
    entered = [e["stateEnteredEventDetails"]["name"] for e in events if e["type"] == "PassStateEntered"]
    assert entered == ["GaveUp"]
