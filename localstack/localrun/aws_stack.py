"""`python -m localrun.aws_stack`: the packaged stack (`make package`) deployed on the local cloud through
CloudFormation, as an operator deploys it on AWS, then one daily run from the stack's own resources.

    python -m localrun.aws_stack --package out/package --database-url postgresql+pg8000://... \\
        --redis-url redis://127.0.0.1:6379/14 --rabbitmq-url amqp://guest:guest@127.0.0.1:5672/%2F

What it does, in the order an operator would on a fresh account:
1. the local cloud with IAM enforced (moto's INITIAL_NO_AUTH_ACTION_COUNT; `--no-iam` to skip), an operator
   identity allowed everything, and the bakery platform simulator with the demo tenants;
2. the secrets (database, Redis and RabbitMQ URLs, JWT secret) created in Secrets Manager beforehand, the
   `deployment.zip` uploaded to S3 (what `aws cloudformation package` does);
3. the SAM template translated offline (aws-sam-translator, what CloudFormation's transform does) and the
   stack created with its parameters; its deploy hook migrates, seeds and reconciles the schedule rules
   while the functions run as their own roles;
4. the EventBridge clock fired at 08:00 Europe/Madrid (or `--at`) over the stack's rules; the runs the
   dispatcher starts are followed to their end.
The last stdout line is a JSON summary.

Differences from AWS, exactly: API Gateway's resources (AWS::ApiGateway::RestApi/Deployment/Stage and the
API's invoke permission) are left out (moto cannot import Chalice's Swagger body); the API's function is
deployed and can be invoked directly. moto skips AWS::CloudWatch::Alarm (with a warning). The state
machine's role is enforced for the interpreter's S3 reads only (see localcloud.iam).
`--without Role:action` removes one action from one role of the template before the stack is created.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

LOG = logging.getLogger("localrun.aws_stack")
TERMINAL = ("CREATE_COMPLETE", "CREATE_FAILED", "ROLLBACK_COMPLETE", "ROLLBACK_FAILED")
LEFT_OUT_TYPES = ("AWS::ApiGateway::RestApi", "AWS::ApiGateway::Deployment", "AWS::ApiGateway::Stage")
SECRET_NAMES = {
    "DatabaseUrlSecretArn": "database-url",
    "RedisUrlSecretArn": "redis-url",
    "RabbitmqUrlSecretArn": "rabbitmq-url",
    "JwtSecretArn": "jwt-secret",
}


def without_action(template: dict[str, Any], role: str, action: str) -> dict[str, Any]:
    """The template with `action` removed from every statement of `role`'s inline policies."""
    found = False
    for policy in template["Resources"][role]["Properties"]["Policies"]:
        statements = policy["PolicyDocument"]["Statement"]
        for statement in list(statements):
            actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            if action in actions:
                found = True
                kept = [a for a in actions if a != action]
                if kept:
                    statement["Action"] = kept
                else:
                    statements.remove(statement)
    if not found:
        raise ValueError(f"{role} has no {action} to remove")
    return template


def translate(sam: dict[str, Any], code_uri: str) -> dict[str, Any]:
    """The SAM template as CloudFormation (aws-sam-translator, offline), with the code at `code_uri`."""
    from samtranslator.translator.transform import transform

    class _NoManagedPolicies:  # the template names no managed policy: nothing to look up
        def load(self) -> dict[str, str]:
            return {}

    sam = json.loads(json.dumps(sam))
    for resource in sam["Resources"].values():
        if resource["Type"] == "AWS::Serverless::Function":
            resource["Properties"]["CodeUri"] = code_uri
    return dict(transform(sam, {}, _NoManagedPolicies()))


def for_local_cloud(template: dict[str, Any]) -> dict[str, Any]:
    """Leave out what moto cannot create (API Gateway from a Swagger body, and what refers to it)."""
    left_out = {name for name, r in template["Resources"].items() if r["Type"] in LEFT_OUT_TYPES}

    def refers(node: Any) -> bool:  # by Ref, GetAtt or ${Name} in a Sub
        text = json.dumps(node)
        return any(f'"{gone}"' in text or "${" + gone in text for gone in left_out)

    out = dict(template)
    out["Resources"] = {k: v for k, v in template["Resources"].items() if k not in left_out and not refers(v)}
    out["Outputs"] = {k: v for k, v in template.get("Outputs", {}).items() if not refers(v)}
    return out


def _wait_stack(cfn: Any, name: str, timeout: float) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        stack = cfn.describe_stacks(StackName=name)["Stacks"][0]
        if stack["StackStatus"] in TERMINAL:
            return stack
        if time.monotonic() > deadline:
            return stack
        time.sleep(0.25)


def _wait_execution(sfn: Any, arn: str, timeout: float) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        found = sfn.describe_execution(executionArn=arn)
        if found["status"] != "RUNNING" or time.monotonic() > deadline:
            return found
        time.sleep(0.25)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m localrun.aws_stack", description=__doc__.split("\n")[0])
    parser.add_argument("--package", type=Path, required=True, help="the `make package` output (sam.json, zip)")
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--redis-url", required=True)
    parser.add_argument("--rabbitmq-url", required=True)
    parser.add_argument("--redis-key-prefix", default=f"orchestrator-aws-{os.getpid()}")
    parser.add_argument("--stack-name", default="bakery-orchestrator")
    parser.add_argument("--at", default=None, help="UTC instant to fire the clock at (default: next 08:00 Madrid)")
    parser.add_argument(
        "--without", default=None, help="Role:action to remove from the template, e.g. ListTenantsRole:s3:PutObject"
    )
    parser.add_argument("--no-iam", action="store_true", help="do not enforce IAM")
    parser.add_argument("--timeout", type=float, default=600)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    logging.getLogger("werkzeug").setLevel(logging.ERROR)

    import boto3

    from bakery_sim.server import SimulatorServer
    from bakery_sim.tenants import demo_tenants
    from localcloud import iam
    from localcloud.clock import EventBridgeClock
    from localcloud.lambda_runner import ACCOUNT_ID, ENV_CHANGE_HOOK, SANDBOX
    from localcloud.server import LocalCloud
    from localrun.__main__ import next_daily_instant, parse_instant

    summary: dict[str, Any] = {"iam_enforced": not args.no_iam, "without": args.without}
    cloud = LocalCloud().start()
    simulator = SimulatorServer(tenants=demo_tenants()).start()
    try:
        # What the functions' sandboxes see besides their own environment: the way to the local cloud.
        os.environ.update({**cloud.env(), ENV_CHANGE_HOOK: "chalicelib.runtime:reset"})
        key, secret = iam.admin_credentials(ACCOUNT_ID) if not args.no_iam else ("testing", "testing")

        def client(service: str) -> Any:
            return boto3.client(
                service,
                endpoint_url=cloud.endpoint_url,
                region_name=cloud.region,
                aws_access_key_id=key,
                aws_secret_access_key=secret,
            )

        if not args.no_iam:
            iam.enforce(True)
        secrets = client("secretsmanager")
        values = {
            "DatabaseUrlSecretArn": args.database_url,
            "RedisUrlSecretArn": args.redis_url,
            "RabbitmqUrlSecretArn": args.rabbitmq_url,
            "JwtSecretArn": "local-cloud-jwt-secret-" + os.urandom(16).hex(),
        }
        parameters = {
            param: secrets.create_secret(Name=f"{args.stack_name}/{SECRET_NAMES[param]}", SecretString=value)["ARN"]
            for param, value in values.items()
        }
        s3 = client("s3")
        code_bucket = f"{args.stack_name}-code-{os.getpid()}"
        s3.create_bucket(Bucket=code_bucket, CreateBucketConfiguration={"LocationConstraint": cloud.region})
        s3.upload_file(str(args.package / "deployment.zip"), code_bucket, "deployment.zip")

        sam = json.loads((args.package / "sam.json").read_text(encoding="utf-8"))
        if args.without:
            role, _, action = args.without.partition(":")
            sam = without_action(sam, role, action)
        template = for_local_cloud(translate(sam, f"s3://{code_bucket}/deployment.zip"))
        parameters.update(
            {"PlatformBaseUrl": simulator.url, "RedisKeyPrefix": args.redis_key_prefix, "LogRetentionDays": "7"}
        )
        cfn = client("cloudformation")
        started = time.monotonic()
        cfn.create_stack(
            StackName=args.stack_name,
            TemplateBody=json.dumps(template),
            Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in parameters.items()],
            Capabilities=["CAPABILITY_IAM", "CAPABILITY_AUTO_EXPAND"],
        )
        stack = _wait_stack(cfn, args.stack_name, args.timeout)
        summary["stack_status"] = stack["StackStatus"]
        summary["stack_seconds"] = round(time.monotonic() - started, 3)
        resources = cfn.list_stack_resources(StackName=args.stack_name)["StackResourceSummaries"]
        summary["resources"] = sorted(
            [
                {
                    "logical_id": r["LogicalResourceId"],
                    "type": r["ResourceType"],
                    "physical_id": r["PhysicalResourceId"],
                }
                for r in resources
            ],
            key=lambda r: r["logical_id"],
        )
        stage = sam["Resources"]["Dispatch"]["Properties"]["Environment"]["Variables"]["STAGE"]
        prefix = f"bakery-orchestrator-{stage}-"
        sfn, events, lam = client("stepfunctions"), client("events"), client("lambda")
        # (from the stack: moto checks the signature of Lambda's GET requests wrongly when IAM is enforced)
        summary["functions"] = sorted(
            r["PhysicalResourceId"] for r in resources if r["ResourceType"] == "AWS::Lambda::Function"
        )
        summary["state_machines"] = sorted(m["name"] for m in sfn.list_state_machines()["stateMachines"])
        summary["rules"] = sorted(r["Name"] for r in events.list_rules(NamePrefix=prefix)["Rules"])
        if stack["StackStatus"] != "CREATE_COMPLETE":
            print(json.dumps(summary), flush=True)
            return 1
        for machine in sfn.list_state_machines()["stateMachines"]:
            role_arn = sfn.describe_state_machine(stateMachineArn=machine["stateMachineArn"])["roleArn"]
            if not args.no_iam:
                iam.act_as_state_machine_role(ACCOUNT_ID, role_arn)

        at = parse_instant(args.at) if args.at else next_daily_instant(datetime.now(UTC))
        summary["fired_at"] = at.isoformat()
        firings = EventBridgeClock(events, lam, name_prefix=prefix).fire(at)
        summary["firings"] = [
            {"rule": f.rule_name, "target": f.target_id, "error": f.function_error, "response": f.response_payload}
            for f in firings
        ]
        runs = [
            run
            for f in firings
            if f.target_id in ("dispatch", "catchup") and isinstance(f.response_payload, dict)
            for run in f.response_payload.get("runs", [])
        ]
        summary["runs"] = []
        for run in runs:
            arn = run.get("execution_arn")
            outcome = {"execution_name": run["execution_name"], "outcome": run["outcome"]}
            if arn:
                outcome["sfn_status"] = _wait_execution(sfn, arn, args.timeout)["status"]
            outcome.update(_recorded(args.database_url, run["execution_name"]))
            summary["runs"].append(outcome)
        executed = [r["execution_id"] for r in summary["runs"] if r.get("execution_id")]
        summary["api"] = _api_checks(lam, events, sfn, prefix, values["JwtSecretArn"], args, executed)
        summary["wall_seconds"] = round(time.monotonic() - started, 3)
        print(json.dumps(summary, default=str), flush=True)
        ok = bool(runs) and all(r.get("status") in ("completed", "completed_with_failures") for r in summary["runs"])
        return 0 if ok else 1
    finally:
        iam.enforce(False)
        SANDBOX.restore()
        simulator.stop()
        cloud.stop()


API_PREFIX = "/api/v1/orchestrator"


def _api_call(
    lam: Any, function: str, method: str, resource: str, params: dict[str, str], token: str, body: Any = None
) -> dict[str, Any]:
    """The API's function invoked as API Gateway invokes it (a proxy event): (status, body)."""
    path = resource
    for name, value in params.items():
        path = path.replace("{" + name + "}", value)
    event = {
        "resource": API_PREFIX + resource,
        "path": API_PREFIX + path,
        "httpMethod": method,
        "headers": {"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        "multiValueHeaders": {},
        "queryStringParameters": None,
        "multiValueQueryStringParameters": None,
        "pathParameters": params or None,
        "stageVariables": None,
        "requestContext": {
            "resourcePath": API_PREFIX + resource,
            "httpMethod": method,
            "path": API_PREFIX + path,
            "stage": "api",
            "apiId": "local",
            "requestId": os.urandom(8).hex(),
            "identity": {"sourceIp": "127.0.0.1"},
        },
        "body": json.dumps(body) if body is not None else None,
        "isBase64Encoded": False,
    }
    response = lam.invoke(FunctionName=function, Payload=json.dumps(event).encode())
    payload = json.loads(response["Payload"].read() or b"null")
    if response.get("FunctionError"):
        return {"status": None, "error": payload}
    answer = payload.get("body")
    with contextlib.suppress(ValueError):
        answer = json.loads(answer) if answer else None
    return {"status": payload.get("statusCode"), "body": answer}


def _api_checks(
    lam: Any, events: Any, sfn: Any, prefix: str, jwt_secret: str, args: argparse.Namespace, executed: list[str]
) -> dict[str, Any]:
    """What the API's role must allow: GET /health (DescribeStateMachine), the console's graph and tenants
    of a run (GetExecutionHistory, DescribeStateMachineForExecution, DescribeMapRun, the manifest), a retry
    policy change (UpdateStateMachine), disable and enable the daily workflow (the rules' reconcile), a
    manual run for one tenant (StartExecution)."""
    import jwt

    from bakery_sim.tenants import demo_tenants

    function = f"{prefix}api_handler"
    now = int(time.time())
    token = jwt.encode({"sub": "operator", "role": "platform_admin", "iat": now, "exp": now + 600}, jwt_secret, "HS256")
    daily = {"workflow_id": "daily_operations"}
    out: dict[str, Any] = {"health": _api_call(lam, function, "GET", "/health", {}, token)}
    sched = f"{prefix}sched-daily"

    def daily_rules() -> list[str]:
        return [r["Name"] for r in events.list_rules(NamePrefix=sched)["Rules"]]

    for execution_id in executed[:1]:
        run = {"execution_id": execution_id}
        out["graph"] = _api_call(lam, function, "GET", "/executions/{execution_id}/graph", run, token)
        out["tenants"] = _api_call(lam, function, "GET", "/executions/{execution_id}/tenants", run, token)
    out["retry_policy"] = _api_call(lam, function, "PUT", "/workflows/{workflow_id}", daily, token, {"max_retries": 2})
    out["disable"] = _api_call(lam, function, "POST", "/workflows/{workflow_id}/disable", daily, token)
    out["rules_after_disable"] = daily_rules()
    out["enable"] = _api_call(lam, function, "POST", "/workflows/{workflow_id}/enable", daily, token)
    out["rules_after_enable"] = daily_rules()
    tenant = next(t for t in demo_tenants() if t["status"] == "active" and t["timezone"] == "Europe/Madrid")
    out["execute"] = _api_call(
        lam, function, "POST", "/workflows/{workflow_id}/execute", daily, token, {"tenant_ids": [tenant["id"]]}
    )
    for run in (out["execute"].get("body") or {}).get("runs", []):
        if run.get("execution_arn"):
            run["sfn_status"] = _wait_execution(sfn, run["execution_arn"], args.timeout)["status"]
            run.update(_recorded(args.database_url, run["execution_name"]))
    return out


def _recorded(database_url: str, execution_name: str) -> dict[str, Any]:
    """What the run recorded in the database (read with the harness's own engine)."""
    import sqlalchemy as sa
    from sqlalchemy.orm import Session

    from chalicelib.db import runs
    from chalicelib.db.engine import normalize_url

    engine = sa.create_engine(normalize_url(database_url))
    try:
        with Session(engine) as session:
            execution = runs.get_execution_by_name(session, execution_name)
            if execution is None:
                return {"status": "not_recorded"}
            summary = runs.execution_summary(execution)
            summary["error_message"] = execution.error_message
            return summary
    finally:
        engine.dispose()


if __name__ == "__main__":
    sys.exit(main())
