"""Deploy the described resources with boto3 to whatever endpoint the clients point at: the local cloud,
LocalStack or a real account. Idempotent: running it again updates what exists."""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from infra import resources

ROLE_NAME = "bakery-orchestrator-role"
ASSUME_ROLE = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Action": "sts:AssumeRole",
            "Principal": {"Service": ["lambda.amazonaws.com", "states.amazonaws.com", "events.amazonaws.com"]},
        }
    ],
}


@dataclass
class Deployment:
    stage: str
    function_arns: dict[str, str] = field(default_factory=dict)
    state_machine_arns: dict[str, str] = field(default_factory=dict)
    rule_names: list[str] = field(default_factory=list)
    manifest_bucket: str = ""

    def environment(self) -> dict[str, str]:
        """The wiring the functions need: each workflow's state machine ARN, the manifest bucket."""
        env = {
            m.arn_env_var: self.state_machine_arns[m.workflow]
            for m in resources.state_machines()
            if m.workflow in self.state_machine_arns
        }
        if self.manifest_bucket:
            env["MANIFEST_BUCKET"] = self.manifest_bucket
        if "dispatch" in self.function_arns:  # the schedule rules' target (scheduling.reconcile_rules)
            env["DISPATCH_FUNCTION_ARN"] = self.function_arns["dispatch"]
        return env


def _placeholder_zip() -> bytes:
    # The local cloud's Lambda runner executes the project's code in-process from `Handler`; the
    # uploaded package only has to be a valid zip. A real deploy uses `chalice package` instead.
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("README.txt", "code runs from the project tree on the local cloud\n")
    return buffer.getvalue()


def _ensure_bucket(s3: Any, name: str) -> str:
    try:
        s3.head_bucket(Bucket=name)
    except s3.exceptions.ClientError:
        region = s3.meta.region_name
        config = {} if region == "us-east-1" else {"CreateBucketConfiguration": {"LocationConstraint": region}}
        s3.create_bucket(Bucket=name, **config)
    return name


def _role_arn(iam: Any) -> str:
    try:
        return iam.get_role(RoleName=ROLE_NAME)["Role"]["Arn"]
    except iam.exceptions.NoSuchEntityException:
        return iam.create_role(RoleName=ROLE_NAME, AssumeRolePolicyDocument=json.dumps(ASSUME_ROLE))["Role"]["Arn"]


def deploy(
    clients: dict[str, Any],
    *,
    stage: str = "local",
    environment: dict[str, str] | None = None,
    adapt_definition: Callable[[str], str] | None = None,
    reconcile_schedules: bool = True,
) -> Deployment:
    """`clients` maps "lambda", "stepfunctions", "events", "iam", "s3" to boto3 clients.

    `reconcile_schedules`: also put the workflows' schedule rules (reads the workflows table, so the
    database must be migrated and seeded first; the Stack does that).
    """
    lam, sfn, events, iam = clients["lambda"], clients["stepfunctions"], clients["events"], clients["iam"]
    deployment = Deployment(stage=stage)
    role_arn = _role_arn(iam)
    deployment.manifest_bucket = _ensure_bucket(clients["s3"], resources.manifest_bucket_name(stage))
    specs = resources.functions(stage)
    code = _placeholder_zip()

    def env_for(spec: resources.FunctionSpec) -> dict[str, str]:
        return {**spec.environment, **(environment or {}), **deployment.environment()}

    for spec in specs:
        name = spec.physical_name(stage)
        config = {
            "Runtime": "python3.11",
            "Handler": spec.handler,
            "Role": role_arn,
            "Timeout": spec.timeout,
            "MemorySize": spec.memory,
            "Environment": {"Variables": env_for(spec)},
        }
        try:
            arn = lam.get_function(FunctionName=name)["Configuration"]["FunctionArn"]
            lam.update_function_configuration(FunctionName=name, **config)
        except lam.exceptions.ResourceNotFoundException:
            arn = lam.create_function(FunctionName=name, Code={"ZipFile": code}, **config)["FunctionArn"]
        deployment.function_arns[spec.name] = arn

    existing = {
        m["name"]: m["stateMachineArn"]
        for page in sfn.get_paginator("list_state_machines").paginate()
        for m in page["stateMachines"]
    }
    for machine in resources.state_machines():
        name = machine.physical_name(stage)
        definition = resources.render_definition(
            machine, resources.substitutions(machine, deployment.function_arns), stage, environment
        )
        if adapt_definition is not None:  # an emulator's known parser gaps (see localcloud.compat)
            definition = adapt_definition(definition)
        if name in existing:
            sfn.update_state_machine(stateMachineArn=existing[name], definition=definition, roleArn=role_arn)
            deployment.state_machine_arns[machine.workflow] = existing[name]
        else:
            arn = sfn.create_state_machine(name=name, definition=definition, roleArn=role_arn, type=machine.type)[
                "stateMachineArn"
            ]
            deployment.state_machine_arns[machine.workflow] = arn

    # Second pass: the functions learn the state machine ARNs (the dispatcher starts executions).
    for spec in specs:
        lam.update_function_configuration(
            FunctionName=spec.physical_name(stage), Environment={"Variables": env_for(spec)}
        )

    # Fixed rules (the outbox drain) from the description; the schedule rules (`sched-*`) from the workflows
    # table, through the same reconciliation the API runs after a workflow changes.
    from chalicelib.adapters.eventbridge import delete_rule, rule_names
    from chalicelib.services.scheduling import reconcile_rules, rule_prefix

    schedule_prefix = rule_prefix(stage)
    for rule in resources.rules():
        rule_name = f"{resources.APP_NAME}-{stage}-{rule.name}"
        events.put_rule(
            Name=rule_name,
            ScheduleExpression=rule.schedule_expression,
            State="ENABLED",
            Description=rule.description[:512],
        )
        target: dict[str, Any] = {"Id": rule.target_function, "Arn": deployment.function_arns[rule.target_function]}
        if rule.input is not None:
            target["Input"] = rule.input
        if rule.input_transformer is not None:
            target["InputTransformer"] = rule.input_transformer
        events.put_targets(Rule=rule_name, Targets=[target])
        deployment.rule_names.append(rule_name)
    if reconcile_schedules:
        reconciled = reconcile_rules(
            stage=stage,
            dispatch_arn=deployment.function_arns["dispatch"],
            events=events,
            machines=deployment.state_machine_arns,
        )
        deployment.rule_names += reconciled["created"] + reconciled["updated"] + reconciled["unchanged"]
    # Rules of this stage that the description no longer has are removed (schedules changed).
    prefix = f"{resources.APP_NAME}-{stage}-"
    for name in rule_names(events, prefix):
        if name not in deployment.rule_names and not name.startswith(schedule_prefix):
            delete_rule(events, name)
    return deployment
