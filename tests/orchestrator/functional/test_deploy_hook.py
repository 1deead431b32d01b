"""The deploy hook (the `migrate` function behind the stack's Custom::DeployHook): on Create and Update it
migrates, seeds and reconciles the schedule rules, then answers CloudFormation at the ResponseURL; on
Delete it removes the stage's schedule rules; bad input is answered FAILED naming the field. Invoked
through the local cloud's Lambda, answering a real HTTP endpoint."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest


class Answers(BaseHTTPRequestHandler):
    received: list[dict[str, Any]] = []

    def do_PUT(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        type(self).received.append({"content_type": self.headers.get("Content-Type"), "body": json.loads(body)})
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture(autouse=True)
def stage_settings(stack: Any, set_env: Any) -> None:
    """The stack's stage, read afresh (a route test's `chalice.test.Client` may have left other settings cached)."""
    set_env("STAGE", stack.stage)


@pytest.fixture
def response_url() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    Answers.received = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), Answers)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/answer?signed=1", Answers.received
    server.shutdown()
    server.server_close()


def request(url: str, request_type: str, **properties: Any) -> dict[str, Any]:
    return {
        "RequestType": request_type,
        "ResponseURL": url,
        "StackId": "arn:aws:cloudformation:eu-west-1:123456789012:stack/orchestrator/1",
        "RequestId": "r-1",
        "LogicalResourceId": "DeployHook",
        "ResourceType": "Custom::DeployHook",
        "ResourceProperties": {"ServiceToken": "arn:...", **properties},
    }


def invoke(stack: Any, event: dict[str, Any]) -> tuple[str | None, Any]:
    response = stack.cloud.client("lambda").invoke(
        FunctionName=stack.deployment.function_arns["migrate"], Payload=json.dumps(event).encode()
    )
    return response.get("FunctionError"), json.loads(response["Payload"].read())


def schedule_rules(stack: Any) -> list[str]:
    events = stack.cloud.client("events")
    return [r["Name"] for r in events.list_rules(NamePrefix=f"bakery-orchestrator-{stack.stage}-sched-")["Rules"]]


def test_create_migrates_seeds_and_makes_the_schedule_rules_then_answers_success(stack: Any, response_url: Any) -> None:
    url, received = response_url
    # GIVEN the deployed stage / WHEN CloudFormation sends Create
    error, answer = invoke(stack, request(url, "Create", Action="deploy", Revision="1"))
    # THEN the stack hears SUCCESS, on the URL it gave, signed for an empty Content-Type
    assert error is None
    [sent] = received
    assert sent["content_type"] == "" and sent["body"] == answer
    assert answer["Status"] == "SUCCESS"
    assert (answer["RequestId"], answer["LogicalResourceId"]) == ("r-1", "DeployHook")
    assert answer["PhysicalResourceId"] == "bakery-orchestrator-DeployHook"
    # AND its data names the schema revision and the schedule rules now in EventBridge
    assert answer["Data"]["Revision"] == "head"
    assert set(answer["Data"]["Rules"].split(",")) == set(schedule_rules(stack))


def test_delete_removes_the_stage_schedule_rules_and_keeps_the_database(stack: Any, response_url: Any) -> None:
    from chalicelib.db.engine import session_scope
    from chalicelib.db.workflows import get_workflow

    url, received = response_url
    assert schedule_rules(stack)
    try:
        # WHEN CloudFormation deletes the hook
        error, answer = invoke(
            stack, {**request(url, "Delete", Action="deploy"), "PhysicalResourceId": "bakery-orchestrator-DeployHook"}
        )
        # THEN the schedule rules are gone (they would fire at a deleted dispatcher), the workflows kept
        assert error is None and answer["Status"] == "SUCCESS"
        assert answer["PhysicalResourceId"] == "bakery-orchestrator-DeployHook"
        assert schedule_rules(stack) == []
        with session_scope() as session:
            assert get_workflow(session, "daily_operations") is not None
    finally:
        # (the other tests of this stack keep their rules)
        invoke(stack, request(url, "Update", Action="deploy"))
    assert schedule_rules(stack)


def test_bad_input_is_answered_failed_naming_the_field(stack: Any, response_url: Any) -> None:
    url, received = response_url
    # GIVEN a request with an unknown action / WHEN invoked
    error, answer = invoke(stack, request(url, "Create", Action="drop_everything"))
    # THEN CloudFormation hears FAILED with the field named (it rolls back instead of waiting an hour)
    assert error is None
    assert answer["Status"] == "FAILED"
    assert "ResourceProperties.Action" in answer["Reason"]
    assert received and received[-1]["body"]["Status"] == "FAILED"


def test_a_request_with_nowhere_to_answer_fails_the_invocation_naming_the_field(stack: Any) -> None:
    # GIVEN an event without ResponseURL / WHEN invoked / THEN the invocation fails naming the field
    event = request("", "Create", Action="deploy")
    del event["ResponseURL"]
    error, payload = invoke(stack, event)
    assert error == "Unhandled"
    assert payload["errorType"] == "InvalidInputError" and "ResponseURL" in payload["errorMessage"]
