"""Test handlers that call AWS with whatever credentials the runner gave them (their role's when IAM is on)."""

from __future__ import annotations

import os
import uuid
from typing import Any

import boto3


def whoami(event: Any, context: Any) -> dict[str, Any]:
    return {
        "arn": boto3.session.Session().client("sts").get_caller_identity()["Arn"],
        "only_a": os.environ.get("ONLY_A"),
    }


def start_execution(event: Any, context: Any) -> str:
    client = boto3.session.Session().client("stepfunctions")
    return client.start_execution(stateMachineArn=event["arn"], name=uuid.uuid4().hex)["executionArn"]


def put_rule(event: Any, context: Any) -> str:
    client = boto3.session.Session().client("events")
    return client.put_rule(Name=event["name"], ScheduleExpression="rate(1 day)", State="DISABLED")["RuleArn"]


def read_secret(event: Any, context: Any) -> str:
    return boto3.session.Session().client("secretsmanager").get_secret_value(SecretId=event["arn"])["SecretString"]


def answer_custom_resource(event: Any, context: Any) -> dict[str, Any]:
    """A custom resource's function: answers the stack through the product's own adapter."""
    from chalicelib.adapters.cfn_response import send

    return send(
        event["ResponseURL"],
        status="SUCCESS",
        stack_id=event["StackId"],
        request_id=event["RequestId"],
        logical_resource_id=event["LogicalResourceId"],
        physical_resource_id=f"answer-{event['LogicalResourceId']}",
        data={"Answer": str(event["ResourceProperties"]["Question"] * 2)},
    )
