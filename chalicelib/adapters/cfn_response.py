"""CloudFormation custom resources: the answer a custom resource's function sends to the stack.

CloudFormation waits (up to an hour) for a JSON document PUT to the event's `ResponseURL` (a presigned
S3 URL on AWS; the emulator's endpoint on the local cloud): SUCCESS with data, or FAILED with a reason,
which CloudFormation shows in the stack's events and turns into a rollback.
"""

from __future__ import annotations

import json
from typing import Any, Literal

Status = Literal["SUCCESS", "FAILED"]


def send(
    response_url: str,
    *,
    status: Status,
    stack_id: str,
    request_id: str,
    logical_resource_id: str,
    physical_resource_id: str,
    reason: str = "",
    data: dict[str, Any] | None = None,
    client: Any = None,
) -> dict[str, Any]:
    """PUT the answer; returns the document sent. Raises when the URL does not accept it."""
    import httpx

    body = {
        "Status": status,
        "Reason": reason[:3000] or status,
        "PhysicalResourceId": physical_resource_id,
        "StackId": stack_id,
        "RequestId": request_id,
        "LogicalResourceId": logical_resource_id,
        "Data": data or {},
    }
    payload = json.dumps(body, default=str).encode()
    # The presigned URL is signed for an empty Content-Type.
    headers = {"Content-Type": "", "Content-Length": str(len(payload))}
    if client is not None:
        response = client.put(response_url, content=payload, headers=headers)
    else:
        response = httpx.put(response_url, content=payload, headers=headers, timeout=30)
    if response.status_code >= 300:
        raise RuntimeError(f"ResponseURL refused the answer: HTTP {response.status_code}: {response.text[:500]}")
    return body
