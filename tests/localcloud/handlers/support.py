"""Shared helpers for the localcloud functional tests (not a test module)."""

from __future__ import annotations

import io
import json
import threading
import time
import uuid
import zipfile
from typing import Any

from localcloud import LocalCloud

_cloud: LocalCloud | None = None
_cloud_lock = threading.Lock()
ROLE_NAME = "localcloud-test-lambda-role"


def shared_cloud() -> LocalCloud:
    """One emulator per test session: moto state is process-global anyway."""
    global _cloud
    with _cloud_lock:
        if _cloud is None:
            _cloud = LocalCloud().start()
        return _cloud


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def dummy_zip() -> bytes:
    # moto requires a code package; the runner never reads it.
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("placeholder.py", "")
    return buffer.getvalue()


def role_arn(cloud: LocalCloud) -> str:
    # moto rejects CreateFunction unless the role exists in its IAM backend.
    iam = cloud.client("iam")
    try:
        return iam.get_role(RoleName=ROLE_NAME)["Role"]["Arn"]
    except iam.exceptions.NoSuchEntityException:
        trust = {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Service": "lambda.amazonaws.com"},
                    "Action": "sts:AssumeRole",
                }
            ],
        }
        return iam.create_role(RoleName=ROLE_NAME, AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]


def create_function(
    cloud: LocalCloud,
    handler: str,
    *,
    timeout: int = 3,
    env: dict[str, str] | None = None,
    prefix: str = "fn",
) -> dict[str, Any]:
    return cloud.client("lambda").create_function(
        FunctionName=unique(prefix),
        Runtime="python3.11",
        Role=role_arn(cloud),
        Handler=handler,
        Code={"ZipFile": dummy_zip()},
        Timeout=timeout,
        Environment={"Variables": env or {}},
    )


def sfn_role_arn() -> str:
    return "arn:aws:iam::123456789012:role/localcloud-test-sfn-role"


def wait_for_execution(cloud: LocalCloud, execution_arn: str, timeout_s: float = 60) -> dict[str, Any]:
    sfn = cloud.client("stepfunctions")
    deadline = time.monotonic() + timeout_s
    while True:
        described = sfn.describe_execution(executionArn=execution_arn)
        if described["status"] != "RUNNING" or time.monotonic() > deadline:
            return described
        time.sleep(0.1)


def history(cloud: LocalCloud, execution_arn: str) -> list[dict[str, Any]]:
    sfn = cloud.client("stepfunctions")
    events: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {"executionArn": execution_arn, "maxResults": 1000}
    while True:
        page = sfn.get_execution_history(**kwargs)
        events += page["events"]
        if not page.get("nextToken"):
            return events
        kwargs["nextToken"] = page["nextToken"]
