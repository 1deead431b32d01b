"""The in-process Lambda runner, directly and through moto's Lambda API."""

from __future__ import annotations

import json
import os
import time
from typing import Any

import pytest

from localcloud import LocalCloud, invoke_handler
from tests.localcloud.handlers.support import create_function, shared_cloud

H = "tests.localcloud.handlers.basic"


@pytest.fixture(scope="module")
def cloud() -> LocalCloud:
    return shared_cloud()


def _invoke(cloud: LocalCloud, name: str, event: Any, **kwargs: Any) -> tuple[dict[str, Any], Any]:
    response = cloud.client("lambda").invoke(FunctionName=name, Payload=json.dumps(event).encode(), **kwargs)
    raw = response["Payload"].read()
    return response, json.loads(raw) if raw else None


# --- invoke_handler without moto ---------------------------------------------------


def test_invoke_handler_returns_json_result() -> None:
    # GIVEN a handler that echoes its event and context
    # WHEN it is invoked directly
    payload, error = invoke_handler(f"{H}.ok", {"a": 1}, env={}, timeout_s=5, function_name="direct")
    # THEN the JSON result and a populated context come back
    body = json.loads(payload)
    assert error is None
    assert body["echo"] == {"a": 1}
    assert body["function_name"] == "direct"
    assert body["log_group_name"] == "/aws/lambda/direct"
    assert 0 < body["remaining_ms"] <= 5000


def test_invoke_handler_none_result_is_null() -> None:
    # GIVEN a handler returning None / WHEN invoked / THEN the payload is JSON null
    assert invoke_handler(f"{H}.nothing", {}, timeout_s=1) == (b"null", None)


@pytest.mark.parametrize(
    ("handler", "error_type"),
    [
        (
            "tests.localcloud.handlers.missing_module.fn",
            "Runtime.ImportModuleError",
        ),
        (f"{H}.no_such_function", "Runtime.HandlerNotFound"),
        (f"{H}.not_callable", "Runtime.HandlerNotFound"),
        ("nodots", "Runtime.MalformedHandlerName"),
        (f"{H}.unserialisable", "Runtime.MarshalError"),
    ],
)
def test_invoke_handler_runtime_errors(handler: str, error_type: str) -> None:
    # GIVEN a handler string AWS could not run / WHEN invoked / THEN the AWS runtime error type
    payload, error = invoke_handler(handler, {}, timeout_s=1)
    assert error == error_type
    assert json.loads(payload)["errorType"] == error_type


# --- through moto ------------------------------------------------------------------


def test_invoke_returns_handler_result(cloud: LocalCloud) -> None:
    # GIVEN a function whose handler echoes the event, with an env variable
    fn = create_function(cloud, f"{H}.ok", env={"LOCALCLOUD_TEST_VALUE": "from-env"}, timeout=7)
    # WHEN invoked through boto3
    response, body = _invoke(cloud, fn["FunctionName"], {"tenant": "t1"})
    # THEN the handler's result, context and env come back without a function error
    assert response["StatusCode"] == 200
    assert "FunctionError" not in response
    assert body["echo"] == {"tenant": "t1"}
    assert body["function_name"] == fn["FunctionName"]
    assert body["invoked_function_arn"] == fn["FunctionArn"]
    assert body["function_version"] == "$LATEST"
    assert body["env_value"] == "from-env"
    assert 6000 < body["remaining_ms"] <= 7000
    assert os.environ["LOCALCLOUD_TEST_VALUE"] == "from-env"  # applied process-wide, by design


def test_invoke_exception_returns_error_envelope(cloud: LocalCloud) -> None:
    # GIVEN a function whose handler raises TenantNotFound
    fn = create_function(cloud, f"{H}.boom")
    # WHEN invoked
    response, body = _invoke(cloud, fn["FunctionName"], {"tenant": "t9"})
    # THEN the AWS error envelope names the exception class, flagged Unhandled
    assert response["FunctionError"] == "Unhandled"
    assert body["errorType"] == "TenantNotFound"
    assert body["errorMessage"] == "tenant t9 not found"
    assert any("raise TenantNotFound" in line for line in body["stackTrace"])


def test_invoke_timeout_is_sandbox_timedout(cloud: LocalCloud) -> None:
    # GIVEN a 1 s function whose handler sleeps 3 s
    fn = create_function(cloud, f"{H}.slow", timeout=1)
    # WHEN invoked
    started = time.monotonic()
    response, body = _invoke(cloud, fn["FunctionName"], {"sleep_s": 3})
    elapsed = time.monotonic() - started
    # THEN it fails after ~1 s like AWS does
    assert response["FunctionError"] == "Unhandled"
    assert body["errorType"] == "Sandbox.Timedout"
    assert body["errorMessage"] == "Task timed out after 1.00 seconds"
    assert elapsed < 2.5


def test_invoke_event_and_dry_run_do_not_wait(cloud: LocalCloud) -> None:
    # GIVEN a slow function
    fn = create_function(cloud, f"{H}.slow", timeout=5)
    # WHEN invoked asynchronously and as a dry run
    started = time.monotonic()
    event_response, event_body = _invoke(cloud, fn["FunctionName"], {"sleep_s": 1}, InvocationType="Event")
    dry_response, dry_body = _invoke(cloud, fn["FunctionName"], {}, InvocationType="DryRun")
    # THEN both return at once with the AWS status codes
    assert time.monotonic() - started < 0.9
    assert (event_response["StatusCode"], event_body) == (202, None)
    assert (dry_response["StatusCode"], dry_body) == (204, None)


def test_invoke_log_tail(cloud: LocalCloud) -> None:
    # GIVEN a function / WHEN invoked with LogType=Tail / THEN a Lambda-style log tail comes back
    import base64

    fn = create_function(cloud, f"{H}.nothing")
    response, body = _invoke(cloud, fn["FunctionName"], {}, LogType="Tail")
    assert body is None
    assert base64.b64decode(response["LogResult"]).startswith(b"START RequestId: ")


def test_second_cloud_shares_state_and_hands_back_moto_port(cloud: LocalCloud) -> None:
    # GIVEN a second emulator started in the same process
    fn = create_function(cloud, f"{H}.nothing")
    with LocalCloud() as other:
        # WHEN it is running / THEN it sees the same (process-wide) moto state
        assert other.port != cloud.port
        assert os.environ["MOTO_PORT"] == str(other.port)
        assert other.client("lambda").get_function(FunctionName=fn["FunctionName"])
        assert other.env()["AWS_ENDPOINT_URL"] == other.endpoint_url
    # AND once it stops, Step Functions' Lambda calls go to the server still running
    assert os.environ["MOTO_PORT"] == str(cloud.port)
