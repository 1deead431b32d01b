"""Deploy the described resources with boto3 to whatever endpoint the clients point at: the local cloud,
LocalStack or an account. Idempotent: running it again updates what exists.

Each function gets its own role with the policy `infra/policies.py` describes (the same the CloudFormation
template renders), and the code is the real `deployment.zip` of `make package` wherever the target is not
the project's own local cloud (which runs the handlers from this tree: `placeholder_code()`).

    python -m infra.deploy --stage dev --package out/package/deployment.zip   # AWS_ENDPOINT_URL picks the target

The CloudFormation stack (`make package`, then `aws cloudformation deploy`) is the way to a real account:
it also migrates, holds the connection URLs and JWT_SECRET as secrets, and alarms. This deploy is for
emulators (LocalStack, the local cloud): there the settings reach the functions as plain environment
values (`--env NAME=VALUE`), so its roles grant no secret reads.
"""

from __future__ import annotations

import argparse
import io
import json
import sys
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from infra import policies, resources
from infra.policies import Grant, Res


def _trust(service: str) -> dict[str, Any]:
    return {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole", "Principal": {"Service": service}}],
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


def placeholder_code() -> bytes:
    """The package for the project's own local cloud, whose Lambda runner executes the handlers from this
    tree (`Handler`): the upload only has to be a valid zip. Every other target gets `deployment.zip`."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("README.txt", "code runs from the project tree on the local cloud\n")
    return buffer.getvalue()


@dataclass(frozen=True)
class Target:
    """Where ARNs point: the account and region of the clients, the stage, its manifest bucket."""

    partition: str
    region: str
    account: str
    stage: str
    bucket: str

    def resources(self, res: Res, function: str = "") -> list[str]:
        from chalicelib.services.scheduling import rule_prefix

        region_account = f"{self.region}:{self.account}"
        names = [m.physical_name(self.stage) for m in resources.state_machines()]
        if res is Res.ANY:
            return ["*"]
        if res is Res.STATE_MACHINES:
            return [f"arn:{self.partition}:states:{region_account}:stateMachine:{n}" for n in names]
        if res is Res.EXECUTIONS:
            return [f"arn:{self.partition}:states:{region_account}:execution:{n}:*" for n in names]
        if res is Res.MAP_CHILD_EXECUTIONS:
            return [f"arn:{self.partition}:states:{region_account}:execution:{n}/*" for n in names]
        if res is Res.MAP_RUNS:
            return [f"arn:{self.partition}:states:{region_account}:mapRun:{n}/*" for n in names]
        if res is Res.MANIFEST_OBJECTS:
            return [f"arn:{self.partition}:s3:::{self.bucket}/manifests/*"]
        if res is Res.SCHEDULE_RULES:
            return [f"arn:{self.partition}:events:{region_account}:rule/{rule_prefix(self.stage)}*"]
        if res is Res.OWN_LOG_GROUP:
            name = f"{resources.APP_NAME}-{self.stage}-{function}"
            return [f"arn:{self.partition}:logs:{region_account}:log-group:/aws/lambda/{name}:*"]
        if res is Res.ASL_FUNCTIONS:
            from infra.template import asl_functions

            return [
                f"arn:{self.partition}:lambda:{region_account}:function:{resources.APP_NAME}-{self.stage}-{n}"
                for n in asl_functions()
            ]
        raise ValueError(f"unknown resource {res}")

    def policy(self, grants: tuple[Grant, ...], function: str = "") -> dict[str, Any]:
        statements = [
            {
                "Effect": "Allow",
                "Action": list(g.actions),
                "Resource": [r for res in g.resources for r in self.resources(res, function)],
            }
            for g in grants
        ]
        return {"Version": "2012-10-17", "Statement": statements}


def _put_role(iam: Any, name: str, service: str, policy: dict[str, Any] | None) -> str:
    try:
        arn = iam.get_role(RoleName=name)["Role"]["Arn"]
    except iam.exceptions.NoSuchEntityException:
        arn = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(_trust(service)))["Role"]["Arn"]
    if policy is not None:
        iam.put_role_policy(RoleName=name, PolicyName="least-privilege", PolicyDocument=json.dumps(policy))
    return arn


def _ensure_bucket(s3: Any, name: str) -> str:
    try:
        s3.head_bucket(Bucket=name)
    except s3.exceptions.ClientError:
        region = s3.meta.region_name
        config = {} if region == "us-east-1" else {"CreateBucketConfiguration": {"LocationConstraint": region}}
        s3.create_bucket(Bucket=name, **config)
    return name


def deploy(
    clients: dict[str, Any],
    *,
    code: bytes,
    stage: str = "local",
    environment: dict[str, str] | None = None,
    adapt_definition: Callable[[str], str] | None = None,
    reconcile_schedules: bool = True,
) -> Deployment:
    """`clients` maps "lambda", "stepfunctions", "events", "iam", "s3" to boto3 clients; `code` is the
    functions' package (`deployment.zip`, or `placeholder_code()` on the project's own local cloud).

    `reconcile_schedules`: also put the workflows' schedule rules (reads the workflows table, so the
    database must be migrated and seeded first; the Stack does that).
    """
    lam, sfn, events, iam = clients["lambda"], clients["stepfunctions"], clients["events"], clients["iam"]
    deployment = Deployment(stage=stage)
    deployment.manifest_bucket = _ensure_bucket(clients["s3"], resources.manifest_bucket_name(stage))
    specs = resources.functions(stage)
    # Roles first (one per function, one for the state machines), from the same description as the template.
    states_role = f"{resources.APP_NAME}-{stage}-states"
    role_arn = _put_role(iam, states_role, "states.amazonaws.com", None)
    _, partition, _, _, account, _ = role_arn.split(":", 5)  # the target's partition and account
    arns = Target(partition, clients["s3"].meta.region_name, account, stage, deployment.manifest_bucket)
    _put_role(iam, states_role, "states.amazonaws.com", arns.policy(policies.STATE_MACHINE_GRANTS))
    function_roles = {
        spec.name: _put_role(
            iam,
            f"{resources.APP_NAME}-{stage}-{spec.name}"[:64],
            "lambda.amazonaws.com",
            arns.policy(policies.grants_of(spec.name), spec.name),
        )
        for spec in specs
    }

    def env_for(spec: resources.FunctionSpec) -> dict[str, str]:
        return {**spec.environment, **(environment or {}), **deployment.environment()}

    for spec in specs:
        name = spec.physical_name(stage)
        config = {
            "Runtime": "python3.11",
            "Handler": spec.handler,
            "Role": function_roles[spec.name],
            "Timeout": spec.timeout,
            "MemorySize": spec.memory,
            "Environment": {"Variables": env_for(spec)},
        }
        try:
            arn = lam.get_function(FunctionName=name)["Configuration"]["FunctionArn"]
            lam.update_function_code(FunctionName=name, ZipFile=code)
            lam.get_waiter("function_updated").wait(FunctionName=name)  # one update at a time
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


def main(argv: list[str] | None = None) -> int:
    """Deploy to the endpoint of AWS_ENDPOINT_URL (LocalStack) with the real package; print the wiring."""
    parser = argparse.ArgumentParser(prog="python -m infra.deploy", description=main.__doc__)
    parser.add_argument("--stage", default="dev")
    parser.add_argument("--package", type=Path, default=Path("out/package/deployment.zip"))
    parser.add_argument("--env", action="append", default=[], help="NAME=VALUE for every function (repeatable)")
    parser.add_argument("--no-schedules", action="store_true", help="skip the reconcile (no database yet)")
    args = parser.parse_args(argv)
    if not args.package.is_file():
        print(f"--package: {args.package} not found (run `make package` first)", file=sys.stderr)
        return 2
    import boto3

    environment = dict(item.split("=", 1) for item in args.env)
    clients = {name: boto3.client(name) for name in ("lambda", "stepfunctions", "events", "iam", "s3")}
    deployment = deploy(
        clients,
        code=args.package.read_bytes(),
        stage=args.stage,
        environment=environment,
        reconcile_schedules=not args.no_schedules,
    )
    print(json.dumps({**deployment.environment(), "rules": deployment.rule_names}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
