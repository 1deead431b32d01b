"""The Lambda runner's worker-process mode (LOCALCLOUD_LAMBDA_PROCESSES): the same contract as the
in-process runner — result, AWS error envelope named after the exception, Sandbox.Timedout, the
function's environment — with each call running in a separate process."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator

import pytest

from localcloud import lambda_runner

H = "tests.localcloud.handlers.basic"


@pytest.fixture()
def processes(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("LOCALCLOUD_LAMBDA_PROCESSES", "2")
    yield
    with lambda_runner._process_pool_lock:
        if lambda_runner._process_pool is not None:
            lambda_runner._process_pool.shutdown(wait=False, cancel_futures=True)
            lambda_runner._process_pool = None


def test_result_context_and_environment_come_from_a_worker_process(processes: None) -> None:
    # WHEN a handler runs with the function's environment in worker-process mode
    # (a value no other test uses: the in-process runner leaves its env values in this process by design)
    payload, error = lambda_runner.invoke_handler(
        f"{H}.ok", {"n": 1}, env={"LOCALCLOUD_TEST_VALUE": "from-worker"}, timeout_s=30, function_name="probe"
    )
    # THEN it answers as in-process: the event, the context, the environment
    assert error is None
    body = json.loads(payload)
    assert body["echo"] == {"n": 1} and body["function_name"] == "probe"
    assert body["env_value"] == "from-worker" and 0 < body["remaining_ms"] <= 30_000
    # AND the environment went to the worker, not to this process
    assert os.environ.get("LOCALCLOUD_TEST_VALUE") != "from-worker"


def test_handler_error_is_the_aws_envelope(processes: None) -> None:
    payload, error = lambda_runner.invoke_handler(f"{H}.boom", {"tenant": "t1"}, timeout_s=30)
    assert error == "TenantNotFound"
    body = json.loads(payload)
    assert body["errorType"] == "TenantNotFound" and "t1" in body["errorMessage"] and body["stackTrace"]


def test_timeout_is_sandbox_timedout(processes: None) -> None:
    # GIVEN a warm worker (the first call pays for starting the process)
    lambda_runner.invoke_handler(f"{H}.nothing", {}, timeout_s=60)
    # WHEN a handler runs past its function's timeout
    payload, error = lambda_runner.invoke_handler(f"{H}.slow", {"sleep_s": 3}, timeout_s=1)
    # THEN the caller gets Sandbox.Timedout, as on AWS
    assert error == "Sandbox.Timedout"
    assert "timed out after 1.00 seconds" in json.loads(payload)["errorMessage"]
