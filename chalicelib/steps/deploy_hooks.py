"""The deploy hook (the CloudFormation custom resource `Custom::DeployHook`: migrations and seeds, then the
schedule rules):
parse the request, run the hook, always answer the stack (a custom resource that never answers holds the
deployment for an hour)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from chalicelib.adapters import cfn_response
from chalicelib.domain.constants import APP_NAME
from chalicelib.errors import InvalidInputError
from chalicelib.observability import get_logger
from chalicelib.services import deploy_hooks
from chalicelib.steps.common import parse


class HookProperties(BaseModel):
    model_config = ConfigDict(extra="ignore")

    Action: Literal["deploy"]


class CustomResourceRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")

    RequestType: Literal["Create", "Update", "Delete"]
    ResponseURL: str = Field(min_length=1)
    StackId: str = Field(min_length=1)
    RequestId: str = Field(min_length=1)
    LogicalResourceId: str = Field(min_length=1)
    PhysicalResourceId: str | None = None
    ResourceProperties: HookProperties


def deploy_hook(event: Any) -> dict[str, Any]:
    try:
        request = parse(CustomResourceRequest, event)
    except InvalidInputError as exc:
        url = event.get("ResponseURL") if isinstance(event, dict) else None
        if not isinstance(url, str) or not url:
            raise  # nobody to answer: the invocation fails with the message naming the field
        return cfn_response.send(
            url,
            status="FAILED",
            reason=str(exc),
            stack_id=str(event.get("StackId", "")),
            request_id=str(event.get("RequestId", "")),
            logical_resource_id=str(event.get("LogicalResourceId", "")),
            physical_resource_id=str(event.get("PhysicalResourceId") or f"{APP_NAME}-deploy-hook"),
        )
    action = request.ResourceProperties.Action
    get_logger().append_keys(step="deploy_hook", action=action, request_type=request.RequestType)
    # Returned at Create, sent back by CloudFormation on Update and Delete: it never changes.
    physical_id = request.PhysicalResourceId or f"{APP_NAME}-{request.LogicalResourceId}"
    try:
        data = deploy_hooks.run_hook(action, request.RequestType)
    except Exception as exc:  # noqa: BLE001 - the stack must hear of any failure (it rolls back with the reason)
        get_logger().exception("deploy hook failed")
        return cfn_response.send(
            request.ResponseURL,
            status="FAILED",
            reason=f"{action}: {type(exc).__name__}: {exc}",
            stack_id=request.StackId,
            request_id=request.RequestId,
            logical_resource_id=request.LogicalResourceId,
            physical_resource_id=physical_id,
        )
    return cfn_response.send(
        request.ResponseURL,
        status="SUCCESS",
        stack_id=request.StackId,
        request_id=request.RequestId,
        logical_resource_id=request.LogicalResourceId,
        physical_resource_id=physical_id,
        data=data,
    )
