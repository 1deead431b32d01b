"""The CloudFormation merge template for `chalice package`, rendered from the same description the
local cloud deploys (infra/resources.py): state machines with DefinitionSubstitutions, the manifest
bucket, the static EventBridge rules, roles, and the wiring environment of the functions.

    python -m infra.template out/merge-template.json
    chalice package --stage prod --merge-template out/merge-template.json out/

The workflow schedule rules (`sched-*`) are not in the template: the dispatcher reconciles them from
the workflow table at run time (chalicelib.services.scheduling.reconcile_rules), so the two never fight.
ARNs the functions need are built from names with Fn::Sub, not Ref/GetAtt, to avoid a dependency
cycle (the state machine references the functions, the functions would reference the state machine).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from infra import resources

STATE_MACHINE_ROLE = "StateMachineRole"
MANIFEST_BUCKET = "ManifestBucket"


def _function_arn(spec: resources.FunctionSpec) -> dict[str, Any]:
    return {"Fn::GetAtt": [spec.logical_id, "Arn"]}


def _state_machine_name(machine: resources.StateMachineSpec) -> dict[str, Any]:
    return {"Fn::Sub": f"{resources.APP_NAME}-${{AWS::StackName}}-{machine.workflow}"}


def _state_machine_arn(machine: resources.StateMachineSpec) -> dict[str, Any]:
    return {
        "Fn::Sub": "arn:${AWS::Partition}:states:${AWS::Region}:${AWS::AccountId}:stateMachine:"
        f"{resources.APP_NAME}-${{AWS::StackName}}-{machine.workflow}"
    }


def render(stage: str = "prod") -> dict[str, Any]:
    functions = resources.functions(stage)
    by_name = {f.name: f for f in functions}
    machines = resources.state_machines()
    template_resources: dict[str, Any] = {
        MANIFEST_BUCKET: {
            "Type": "AWS::S3::Bucket",
            "Properties": {
                "LifecycleConfiguration": {
                    "Rules": [
                        {"Id": "expire-manifests", "Status": "Enabled", "ExpirationInDays": 14, "Prefix": "manifests/"}
                    ]
                }
            },
        },
        STATE_MACHINE_ROLE: {
            "Type": "AWS::IAM::Role",
            "Properties": {
                "AssumeRolePolicyDocument": {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Principal": {"Service": "states.amazonaws.com"},
                            "Action": "sts:AssumeRole",
                        }
                    ],
                },
                "Policies": [
                    {
                        "PolicyName": "run-daily-operations",
                        "PolicyDocument": {
                            "Version": "2012-10-17",
                            "Statement": [
                                {
                                    "Effect": "Allow",
                                    "Action": "lambda:InvokeFunction",
                                    "Resource": [_function_arn(f) for f in functions],
                                },
                                {
                                    "Effect": "Allow",
                                    "Action": "s3:GetObject",
                                    "Resource": {"Fn::Sub": f"${{{MANIFEST_BUCKET}.Arn}}/manifests/*"},
                                },
                                # The Distributed Map starts and stops its child executions.
                                {
                                    "Effect": "Allow",
                                    "Action": [
                                        "states:StartExecution",
                                        "states:DescribeExecution",
                                        "states:StopExecution",
                                    ],
                                    "Resource": [_state_machine_arn(m) for m in machines]
                                    + [
                                        {
                                            "Fn::Sub": "arn:${AWS::Partition}:states:${AWS::Region}:${AWS::AccountId}:execution:"
                                            f"{resources.APP_NAME}-${{AWS::StackName}}-{m.workflow}/*"
                                        }
                                        for m in machines
                                    ],
                                },
                            ],
                        },
                    }
                ],
            },
        },
    }
    outputs: dict[str, Any] = {}
    for machine in machines:
        placeholders = sorted(machine.placeholders())
        substitutions = {name: _function_arn(by_name[_function_of(name, by_name)]) for name in placeholders}
        template_resources[machine.logical_id] = {
            "Type": "AWS::StepFunctions::StateMachine",
            "Properties": {
                "StateMachineName": _state_machine_name(machine),
                "StateMachineType": machine.type,
                "DefinitionString": resources.packaged_definition(machine, stage),
                "DefinitionSubstitutions": substitutions,
                "RoleArn": {"Fn::GetAtt": [STATE_MACHINE_ROLE, "Arn"]},
            },
        }
        outputs[machine.logical_id + "Arn"] = {"Value": {"Ref": machine.logical_id}}

    wiring = {m.arn_env_var: _state_machine_arn(m) for m in machines}
    wiring["MANIFEST_BUCKET"] = {"Ref": MANIFEST_BUCKET}
    wiring["DISPATCH_FUNCTION_ARN"] = {
        "Fn::Sub": "arn:${AWS::Partition}:lambda:${AWS::Region}:${AWS::AccountId}:function:"
        f"{by_name['dispatch'].physical_name(stage)}"
    }
    # Merged into the function resources `chalice package` generates (same logical ids); the API
    # handler starts executions and reconciles rules too.
    for logical_id in [*(spec.logical_id for spec in functions), "APIHandler"]:
        template_resources[logical_id] = {"Properties": {"Environment": {"Variables": dict(wiring)}}}

    for rule in resources.rules():
        target: dict[str, Any] = {"Id": rule.target_function, "Arn": _function_arn(by_name[rule.target_function])}
        if rule.input is not None:
            target["Input"] = rule.input
        if rule.input_transformer is not None:
            target["InputTransformer"] = rule.input_transformer
        template_resources[rule.logical_id] = {
            "Type": "AWS::Events::Rule",
            "Properties": {
                "Description": rule.description[:512],
                "ScheduleExpression": rule.schedule_expression,
                "State": "ENABLED",
                "Targets": [target],
            },
        }
        template_resources[rule.logical_id + "Permission"] = {
            "Type": "AWS::Lambda::Permission",
            "Properties": {
                "Action": "lambda:InvokeFunction",
                "Principal": "events.amazonaws.com",
                "FunctionName": {"Ref": by_name[rule.target_function].logical_id},
                "SourceArn": {"Fn::GetAtt": [rule.logical_id, "Arn"]},
            },
        }
    return {"Resources": template_resources, "Outputs": outputs}


def _function_of(placeholder: str, by_name: dict[str, resources.FunctionSpec]) -> str:
    for name in by_name:
        if resources.placeholder_for(name) == placeholder:
            return name
    raise KeyError(f"no function for placeholder ${{{placeholder}}}")


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m infra.template OUTPUT.json", file=sys.stderr)
        return 2
    Path(argv[0]).parent.mkdir(parents=True, exist_ok=True)
    Path(argv[0]).write_text(json.dumps(render(), indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
