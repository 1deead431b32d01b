"""Deploy the described resources with boto3 to whatever endpoint the clients point at: the local cloud,
LocalStack or a real account. Idempotent: running it again updates what exists."""

from __future__ import annotations

import io
import json
import zipfile
from dataclasses import dataclass, field
from typing import Any

from infra import resources

ROLE_NAME = "bakery-orchestrator-role"
ASSUME_ROLE = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                   "Principal": {"Service": ["lambda.amazonaws.com", "states.amazonaws.com",
                                             "events.amazonaws.com"]}}],
}


@dataclass
class Deployment:
    stage: str
    function_arns: dict[str, str] = field(default_factory=dict)
    state_machine_arns: dict[str, str] = field(default_factory=dict)
    rule_names: list[str] = field(default_factory=list)

    def environment(self) -> dict[str, str]:
        """The wiring the functions need: each workflow's state machine ARN."""
        return {m.arn_env_var: self.state_machine_arns[m.workflow] for m in resources.state_machines()
                if m.workflow in self.state_machine_arns}


def _placeholder_zip() -> bytes:
    # The local cloud's Lambda runner executes the project's code in-process from `Handler`; the
    # uploaded package only has to be a valid zip. A real deploy uses `chalice package` instead.
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("README.txt", "code runs from the project tree on the local cloud\n")
    return buffer.getvalue()


def _role_arn(iam: Any) -> str:
    try:
        return iam.get_role(RoleName=ROLE_NAME)["Role"]["Arn"]
    except iam.exceptions.NoSuchEntityException:
        return iam.create_role(RoleName=ROLE_NAME, AssumeRolePolicyDocument=json.dumps(ASSUME_ROLE))["Role"]["Arn"]


def deploy(clients: dict[str, Any], *, stage: str = "local", environment: dict[str, str] | None = None
           ) -> Deployment:
    """`clients` maps "lambda", "stepfunctions", "events", "iam" to boto3 clients."""
    lam, sfn, events, iam = clients["lambda"], clients["stepfunctions"], clients["events"], clients["iam"]
    deployment = Deployment(stage=stage)
    role_arn = _role_arn(iam)
    specs = resources.functions(stage)
    code = _placeholder_zip()

    def env_for(spec: resources.FunctionSpec) -> dict[str, str]:
        return {**spec.environment, **(environment or {}), **deployment.environment()}

    for spec in specs:
        name = spec.physical_name(stage)
        config = {"Runtime": "python3.11", "Handler": spec.handler, "Role": role_arn, "Timeout": spec.timeout,
                  "MemorySize": spec.memory, "Environment": {"Variables": env_for(spec)}}
        try:
            arn = lam.get_function(FunctionName=name)["Configuration"]["FunctionArn"]
            lam.update_function_configuration(FunctionName=name, **config)
        except lam.exceptions.ResourceNotFoundException:
            arn = lam.create_function(FunctionName=name, Code={"ZipFile": code}, **config)["FunctionArn"]
        deployment.function_arns[spec.name] = arn

    existing = {m["name"]: m["stateMachineArn"] for page in sfn.get_paginator("list_state_machines").paginate()
                for m in page["stateMachines"]}
    for machine in resources.state_machines():
        name = machine.physical_name(stage)
        definition = resources.render_definition(
            machine, resources.substitutions(machine, deployment.function_arns)
        )
        if name in existing:
            sfn.update_state_machine(stateMachineArn=existing[name], definition=definition, roleArn=role_arn)
            deployment.state_machine_arns[machine.workflow] = existing[name]
        else:
            arn = sfn.create_state_machine(name=name, definition=definition, roleArn=role_arn,
                                           type=machine.type)["stateMachineArn"]
            deployment.state_machine_arns[machine.workflow] = arn

    # Second pass: the functions learn the state machine ARNs (the dispatcher starts executions).
    for spec in specs:
        lam.update_function_configuration(FunctionName=spec.physical_name(stage),
                                          Environment={"Variables": env_for(spec)})

    wanted = resources.rules()
    for rule in wanted:
        rule_name = f"{resources.APP_NAME}-{stage}-{rule.name}"
        events.put_rule(Name=rule_name, ScheduleExpression=rule.schedule_expression, State="ENABLED",
                        Description=rule.description[:512])
        target: dict[str, Any] = {"Id": rule.target_function, "Arn": deployment.function_arns[rule.target_function]}
        if rule.input is not None:
            target["Input"] = rule.input
        if rule.input_transformer is not None:
            target["InputTransformer"] = rule.input_transformer
        events.put_targets(Rule=rule_name, Targets=[target])
        deployment.rule_names.append(rule_name)
    # Rules of this stage that the description no longer has are removed (schedules changed).
    prefix = f"{resources.APP_NAME}-{stage}-"
    for page in events.get_paginator("list_rules").paginate(NamePrefix=prefix):
        for rule in page["Rules"]:
            if rule["Name"] not in deployment.rule_names:
                ids = [t["Id"] for t in events.list_targets_by_rule(Rule=rule["Name"])["Targets"]]
                if ids:
                    events.remove_targets(Rule=rule["Name"], Ids=ids)
                events.delete_rule(Name=rule["Name"])
    return deployment
