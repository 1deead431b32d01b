"""The CloudFormation merge template for `chalice package`, rendered from the same description the
local cloud deploys (infra/resources.py, infra/policies.py):

- one IAM role per function with exactly what its code calls (`infra.policies`), its own log group, the
  VPC attachment when the stack is given subnets, and its secrets as ARNs (resolved at cold start by
  chalicelib/adapters/secrets.py, never a value in the template or the environment);
- the state machines with DefinitionSubstitutions, their role and log group; the manifest bucket;
- the fixed EventBridge rules (outbox drain) and the permission for every schedule rule of the stage to
  invoke the dispatcher;
- the deploy hook: a custom resource backed by the `migrate` function runs Alembic `upgrade head`, seeds
  the default workflows, then reconciles the schedule rules, on create and on every update that changes
  the migrations, the workflows, the scheduling code or the state machines (and removes the schedule
  rules when the stack is deleted; the database is kept);
- alarms (failed executions, dispatcher errors, outbox backlog age) to an optional SNS topic, and API
  Gateway's own error responses in the API's `{error, message, field}` shape.

    python -m infra.template out/merge-template.json [STAGE]
    chalice package --stage prod --merge-template out/merge-template.json out/package

Ownership of the schedule rules: the `bakery-orchestrator-<stage>-sched-*` rules belong to
`chalicelib.services.scheduling.reconcile_rules` alone (derived from the workflows table). The template
never declares them; the stack only asks for a reconcile at deploy time (and removes them when the stack
is deleted), the API reconciles after a workflow changes. Every other rule of the stage is a stack
resource, and the reconcile never touches it. So the two never fight.

Function names are fixed (`bakery-orchestrator-<stage>-<name>`, Chalice's own naming and the local
deploy's), so ARNs are built from names with Fn::Sub, without Ref/GetAtt cycles (the state machine
references the functions; their roles reference the state machine).
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path
from typing import Any

from chalicelib.domain.constants import APP_NAME
from chalicelib.settings import PROJECT_ROOT
from infra import policies, resources
from infra.policies import API_FUNCTION, Grant, Res

STATE_MACHINE_ROLE = "StateMachineRole"
MANIFEST_BUCKET = "ManifestBucket"
API_LOGICAL_ID = "APIHandler"  # Chalice's logical id of the API's function
REST_API = "RestAPI"  # Chalice's logical id of the API
MIGRATE_FUNCTION = "migrate"
VPC_POLICY = "VpcNetworkInterfacesPolicy"
DEPLOY_HOOK = "DeployHook"
METRICS_NAMESPACE = "BakeryOrchestrator"
OUTBOX_AGE_METRIC = "OutboxOldestPendingAgeSeconds"

SECRET_PARAMETERS = {
    "DATABASE_URL": "DatabaseUrlSecretArn",
    "REDIS_URL": "RedisUrlSecretArn",
    "RABBITMQ_URL": "RabbitmqUrlSecretArn",
    "JWT_SECRET": "JwtSecretArn",
}
SERVICE_URL_PARAMETERS = {
    "PLATFORM_BASE_URL": "PlatformBaseUrl",
    "TENANT_SERVICE_URL": "TenantServiceUrl",
    "FORECASTING_SERVICE_URL": "ForecastingServiceUrl",
    "PRODUCTION_SERVICE_URL": "ProductionServiceUrl",
    "PROCUREMENT_SERVICE_URL": "ProcurementServiceUrl",
    "INVENTORY_SERVICE_URL": "InventoryServiceUrl",
    "NOTIFICATION_SERVICE_URL": "NotificationServiceUrl",
}
SECRET_ARN_PATTERN = r"^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:[0-9]{12}:secret:.+$"  # noqa: S105 - a pattern for ARNs, not a secret

# API Gateway answers these itself (before the API's code runs). Each gets the API's error shape.
# A method a route does not have arrives from API Gateway as MISSING_AUTHENTICATION_TOKEN, like an
# unknown path: both answer 404 "not_found".
GATEWAY_RESPONSES: dict[str, tuple[int, str, str | None]] = {
    # type: (status, error code, message; None = API Gateway's own message)
    "MISSING_AUTHENTICATION_TOKEN": (404, "not_found", "no route for this method and path"),
    "RESOURCE_NOT_FOUND": (404, "not_found", "no route for this method and path"),
    "ACCESS_DENIED": (403, "forbidden", None),
    "UNAUTHORIZED": (401, "unauthorized", None),
    "EXPIRED_TOKEN": (401, "unauthorized", None),
    "INVALID_SIGNATURE": (403, "forbidden", None),
    "WAF_FILTERED": (403, "forbidden", None),
    "UNSUPPORTED_MEDIA_TYPE": (415, "unsupported_media_type", None),
    "REQUEST_TOO_LARGE": (413, "request_too_large", None),
    "BAD_REQUEST_BODY": (400, "validation_error", None),
    "BAD_REQUEST_PARAMETERS": (400, "validation_error", None),
    "THROTTLED": (429, "too_many_requests", None),
    "QUOTA_EXCEEDED": (429, "too_many_requests", None),
    "INTEGRATION_FAILURE": (502, "bad_gateway", None),
    "INTEGRATION_TIMEOUT": (504, "gateway_timeout", None),
    "DEFAULT_4XX": (400, "bad_request", None),
    "DEFAULT_5XX": (500, "internal_error", None),
}


# --- names and ARNs ---------------------------------------------------------------------------------------
def _sub(text: str) -> dict[str, Any]:
    return {"Fn::Sub": text}


ARN_PREFIX = "arn:${AWS::Partition}"


def function_name(stage: str, function: str) -> str:
    return f"{APP_NAME}-{stage}-{function}"


def logical_id_of(function: str) -> str:
    return API_LOGICAL_ID if function == API_FUNCTION else resources.pascal(function)


def function_arn(stage: str, function: str) -> dict[str, Any]:
    return _sub(f"{ARN_PREFIX}:lambda:${{AWS::Region}}:${{AWS::AccountId}}:function:{function_name(stage, function)}")


def state_machine_arn(stage: str, machine: resources.StateMachineSpec) -> dict[str, Any]:
    return _sub(f"{ARN_PREFIX}:states:${{AWS::Region}}:${{AWS::AccountId}}:stateMachine:{machine.physical_name(stage)}")


def render_resource(res: Res, stage: str, *, function: str = "") -> list[Any]:
    """A symbolic resource as CloudFormation values (Fn::Sub over names; no cycles)."""
    machines = resources.state_machines()
    region_account = "${AWS::Region}:${AWS::AccountId}"
    if res is Res.ANY:
        return ["*"]
    if res is Res.STATE_MACHINES:
        return [state_machine_arn(stage, m) for m in machines]
    if res is Res.EXECUTIONS:
        return [_sub(f"{ARN_PREFIX}:states:{region_account}:execution:{m.physical_name(stage)}:*") for m in machines]
    if res is Res.MAP_CHILD_EXECUTIONS:
        return [_sub(f"{ARN_PREFIX}:states:{region_account}:execution:{m.physical_name(stage)}/*") for m in machines]
    if res is Res.MAP_RUNS:
        return [_sub(f"{ARN_PREFIX}:states:{region_account}:mapRun:{m.physical_name(stage)}/*") for m in machines]
    if res is Res.MANIFEST_OBJECTS:
        return [_sub(f"{ARN_PREFIX}:s3:::${{{MANIFEST_BUCKET}}}/manifests/*")]
    if res is Res.SCHEDULE_RULES:
        from chalicelib.services.scheduling import rule_prefix

        return [_sub(f"{ARN_PREFIX}:events:{region_account}:rule/{rule_prefix(stage)}*")]
    if res is Res.OWN_LOG_GROUP:
        return [
            _sub(
                f"{ARN_PREFIX}:logs:{region_account}:log-group:/aws/lambda/{function_name(stage, function)}:*",
            )
        ]
    if res is Res.ASL_FUNCTIONS:
        return [{"Fn::GetAtt": [logical_id_of(name), "Arn"]} for name in asl_functions()]
    raise ValueError(f"unknown resource {res}")


def asl_functions() -> list[str]:
    """The functions the state machines' tasks call (from their ${...FunctionArn} placeholders)."""
    names = {spec.name for spec in resources.functions()}
    called = set()
    for machine in resources.state_machines():
        for placeholder in machine.placeholders():
            called |= {name for name in names if resources.placeholder_for(name) == placeholder}
    return sorted(called)


def statement(grant: Grant, stage: str, *, function: str = "") -> dict[str, Any]:
    values: list[Any] = []
    for res in grant.resources:
        values += render_resource(res, stage, function=function)
    return {
        "Sid": "".join(ch for ch in grant.why.title() if ch.isalnum())[:100] or "Grant",
        "Effect": "Allow",
        "Action": list(grant.actions) if len(grant.actions) > 1 else grant.actions[0],
        "Resource": values if len(values) > 1 else values[0],
    }


def _policy(statements: list[dict[str, Any]]) -> dict[str, Any]:
    # Sids must be unique within a policy.
    seen: dict[str, int] = {}
    for item in statements:
        sid = item["Sid"]
        seen[sid] = seen.get(sid, 0) + 1
        if seen[sid] > 1:
            item["Sid"] = f"{sid[:96]}{seen[sid]}"
    return {"Version": "2012-10-17", "Statement": statements}


def function_role(stage: str, function: str) -> dict[str, Any]:
    statements = [statement(g, stage, function=function) for g in policies.grants_of(function)]
    secrets = policies.secrets_of(function)
    if secrets:
        statements.append(
            {
                "Sid": "ReadOwnSecretsAtColdStart",
                "Effect": "Allow",
                "Action": "secretsmanager:GetSecretValue",
                "Resource": [{"Ref": SECRET_PARAMETERS[s.setting]} for s in secrets],
            }
        )
    return {
        "Type": "AWS::IAM::Role",
        "Properties": {
            "Description": f"{function_name(stage, function)}: what its code calls, nothing more (infra/policies.py)",
            "AssumeRolePolicyDocument": _trust("lambda.amazonaws.com"),
            "Policies": [{"PolicyName": f"{function}-least-privilege", "PolicyDocument": _policy(statements)}],
        },
    }


def _trust(service: str) -> dict[str, Any]:
    return {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}],
    }


def function_environment(stage: str, function: str) -> dict[str, Any]:
    """What a function learns from the stack (Chalice adds the stage's own variables)."""
    machines = resources.state_machines()
    env: dict[str, Any] = {m.arn_env_var: state_machine_arn(stage, m) for m in machines}
    env["MANIFEST_BUCKET"] = {"Ref": MANIFEST_BUCKET}
    env["REDIS_KEY_PREFIX"] = {"Ref": "RedisKeyPrefix"}
    env.update({var: {"Ref": param} for var, param in SERVICE_URL_PARAMETERS.items()})
    if function in (API_FUNCTION, MIGRATE_FUNCTION):  # they reconcile the schedule rules
        env["DISPATCH_FUNCTION_ARN"] = function_arn(stage, "dispatch")
    for secret in policies.secrets_of(function):
        env[f"{secret.setting}_SECRET_ARN"] = {"Ref": SECRET_PARAMETERS[secret.setting]}
    return env


def _digest(*paths: Path) -> str:
    digest = hashlib.sha256()
    for path in paths:
        files = (
            sorted(p for p in path.rglob("*") if p.is_file() and "__pycache__" not in p.parts)
            if path.is_dir()
            else [path]
        )
        for file in files:
            digest.update(str(file.relative_to(PROJECT_ROOT)).encode())
            digest.update(file.read_bytes())
    return digest.hexdigest()[:16]


def parameters() -> dict[str, Any]:
    params: dict[str, Any] = {
        "PlatformBaseUrl": {
            "Type": "String",
            "Description": "Base URL of the bakery platform's services (each service may be overridden below)",
            "AllowedPattern": "^https?://.+",
        },
        **{
            param: {
                "Type": "String",
                "Default": "",
                "Description": f"{var}: overrides PlatformBaseUrl for this service (empty = the base URL)",
            }
            for var, param in SERVICE_URL_PARAMETERS.items()
            if param != "PlatformBaseUrl"
        },
        **{
            param: {
                "Type": "String",
                "Description": f"ARN of the Secrets Manager secret whose value is {setting} (read at cold start)",
                "AllowedPattern": SECRET_ARN_PATTERN,
            }
            for setting, param in SECRET_PARAMETERS.items()
        },
        "RedisKeyPrefix": {
            "Type": "String",
            "Default": "orchestrator",
            "Description": "Prefix of every Redis key (locks, step cache); lets stages share a Redis",
        },
        "SubnetIds": {
            "Type": "CommaDelimitedList",
            "Default": "",
            "Description": "Private subnets for the functions (to reach Postgres, Redis, RabbitMQ); empty = no VPC",
        },
        "SecurityGroupIds": {
            "Type": "CommaDelimitedList",
            "Default": "",
            "Description": "Security groups of the functions when SubnetIds is given",
        },
        "AlarmTopicArn": {
            "Type": "String",
            "Default": "",
            "Description": "SNS topic the alarms notify (empty = alarms without actions)",
        },
        "OutboxAgeAlarmSeconds": {
            "Type": "Number",
            "Default": 900,
            "MinValue": 60,
            "Description": "Alarm when the oldest unpublished event is older than this",
        },
        "LogRetentionDays": {
            "Type": "Number",
            "Default": 30,
            "AllowedValues": [1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1827, 3653],
            "Description": "Retention of the functions' and the state machines' log groups",
        },
    }
    return params


def conditions() -> dict[str, Any]:
    return {
        "InVpc": {"Fn::Not": [{"Fn::Equals": [{"Fn::Join": ["", {"Ref": "SubnetIds"}]}, ""]}]},
        "HasAlarmTopic": {"Fn::Not": [{"Fn::Equals": [{"Ref": "AlarmTopicArn"}, ""]}]},
    }


def gateway_responses() -> dict[str, Any]:
    """`x-amazon-apigateway-gateway-responses` for the API's Swagger body: API Gateway's own errors in the
    API's shape `{"error", "message", "field"}` (`$context.error.messageString` is already JSON-quoted)."""
    out = {}
    for kind, (status, code, message) in GATEWAY_RESPONSES.items():
        text = json.dumps(message) if message is not None else "$context.error.messageString"
        out[kind] = {
            "statusCode": str(status),
            "responseParameters": {"gatewayresponse.header.Content-Type": "'application/json'"},
            "responseTemplates": {"application/json": f'{{"error": "{code}", "message": {text}, "field": null}}'},
        }
    return out


def alarms(stage: str) -> dict[str, Any]:
    actions = {"Fn::If": ["HasAlarmTopic", [{"Ref": "AlarmTopicArn"}], {"Ref": "AWS::NoValue"}]}
    out: dict[str, Any] = {}
    for machine in resources.state_machines():
        metrics = []
        for index, metric in enumerate(("ExecutionsFailed", "ExecutionsTimedOut", "ExecutionsAborted")):
            metrics.append(
                {
                    "Id": f"m{index}",
                    "ReturnData": False,
                    "MetricStat": {
                        "Metric": {
                            "Namespace": "AWS/States",
                            "MetricName": metric,
                            "Dimensions": [{"Name": "StateMachineArn", "Value": {"Ref": machine.logical_id}}],
                        },
                        "Period": 300,
                        "Stat": "Sum",
                    },
                }
            )
        metrics.append({"Id": "ended_badly", "Expression": "m0 + m1 + m2", "Label": "failed, timed out or aborted"})
        out[f"{machine.logical_id}FailedAlarm"] = {
            "Type": "AWS::CloudWatch::Alarm",
            "Properties": {
                "AlarmDescription": f"{machine.physical_name(stage)}: an execution failed, timed out or was aborted",
                "Metrics": metrics,
                "ComparisonOperator": "GreaterThanOrEqualToThreshold",
                "Threshold": 1,
                "EvaluationPeriods": 1,
                "TreatMissingData": "notBreaching",
                "AlarmActions": actions,
            },
        }
    out["DispatchErrorsAlarm"] = {
        "Type": "AWS::CloudWatch::Alarm",
        "Properties": {
            "AlarmDescription": "The dispatcher failed: a schedule may not have started its runs",
            "Namespace": "AWS/Lambda",
            "MetricName": "Errors",
            "Dimensions": [{"Name": "FunctionName", "Value": function_name(stage, "dispatch")}],
            "Statistic": "Sum",
            "Period": 300,
            "EvaluationPeriods": 1,
            "Threshold": 1,
            "ComparisonOperator": "GreaterThanOrEqualToThreshold",
            "TreatMissingData": "notBreaching",
            "AlarmActions": actions,
        },
    }
    out["OutboxBacklogAgeAlarm"] = {
        "Type": "AWS::CloudWatch::Alarm",
        "Properties": {
            "AlarmDescription": "Events wait in the outbox: the broker or the bridge is down (the bridge reports "
            "the age every minute, so silence alarms too)",
            "Namespace": METRICS_NAMESPACE,
            "MetricName": OUTBOX_AGE_METRIC,
            "Dimensions": [{"Name": name, "Value": value} for name, value in metric_dimensions(stage).items()],
            "Statistic": "Maximum",
            "Period": 300,
            "EvaluationPeriods": 2,
            "Threshold": {"Ref": "OutboxAgeAlarmSeconds"},
            "ComparisonOperator": "GreaterThanThreshold",
            "TreatMissingData": "breaching",
            "AlarmActions": actions,
        },
    }
    return out


def metric_dimensions(stage: str) -> dict[str, str]:
    """The dimensions `chalicelib.observability.emit_metric` writes for the stage (service, stage)."""
    return {"service": APP_NAME, "stage": stage}


def render(stage: str = "prod") -> dict[str, Any]:
    functions = resources.functions(stage)
    names = [f.name for f in functions] + [API_FUNCTION]
    machines = resources.state_machines()
    out: dict[str, Any] = {
        MANIFEST_BUCKET: {
            "Type": "AWS::S3::Bucket",
            "Properties": {
                "PublicAccessBlockConfiguration": {
                    "BlockPublicAcls": True,
                    "BlockPublicPolicy": True,
                    "IgnorePublicAcls": True,
                    "RestrictPublicBuckets": True,
                },
                "LifecycleConfiguration": {
                    "Rules": [
                        {"Id": "expire-manifests", "Status": "Enabled", "ExpirationInDays": 14, "Prefix": "manifests/"}
                    ]
                },
            },
        },
    }

    # Functions: Chalice generates them (same logical ids); we add name, role, log group, VPC and wiring.
    for name in names:
        logical = logical_id_of(name)
        out[f"{logical}Role"] = function_role(stage, name)
        out[f"{logical}LogGroup"] = {
            "Type": "AWS::Logs::LogGroup",
            "Properties": {
                "LogGroupName": f"/aws/lambda/{function_name(stage, name)}",
                "RetentionInDays": {"Ref": "LogRetentionDays"},
            },
        }
        out[logical] = {
            "DependsOn": [f"{logical}LogGroup"],
            "Properties": {
                "FunctionName": function_name(stage, name),
                "Role": {"Fn::GetAtt": [f"{logical}Role", "Arn"]},
                "Environment": {"Variables": function_environment(stage, name)},
                "VpcConfig": {
                    "Fn::If": [
                        "InVpc",
                        {"SubnetIds": {"Ref": "SubnetIds"}, "SecurityGroupIds": {"Ref": "SecurityGroupIds"}},
                        {"Ref": "AWS::NoValue"},
                    ]
                },
            },
        }
    out[VPC_POLICY] = {
        "Type": "AWS::IAM::Policy",
        "Condition": "InVpc",
        "Properties": {
            "PolicyName": "vpc-network-interfaces",
            "PolicyDocument": _policy([statement(policies.VPC_NETWORK_INTERFACES, stage)]),
            "Roles": [{"Ref": f"{logical_id_of(name)}Role"} for name in names],
        },
    }

    # State machines and their role.
    out[STATE_MACHINE_ROLE] = {
        "Type": "AWS::IAM::Role",
        "Properties": {
            "Description": "Step Functions runs the stage's state machines with this role (infra/policies.py)",
            "AssumeRolePolicyDocument": _trust("states.amazonaws.com"),
            "Policies": [
                {
                    "PolicyName": "run-state-machines",
                    "PolicyDocument": _policy([statement(g, stage) for g in policies.STATE_MACHINE_GRANTS]),
                }
            ],
        },
    }
    outputs: dict[str, Any] = {}
    for machine in machines:
        log_group = f"{machine.logical_id}LogGroup"
        out[log_group] = {
            "Type": "AWS::Logs::LogGroup",
            "Properties": {
                "LogGroupName": f"/aws/vendedlogs/states/{machine.physical_name(stage)}",
                "RetentionInDays": {"Ref": "LogRetentionDays"},
            },
        }
        out[machine.logical_id] = {
            "Type": "AWS::StepFunctions::StateMachine",
            "Properties": {
                "StateMachineName": machine.physical_name(stage),
                "StateMachineType": machine.type,
                "DefinitionString": resources.packaged_definition(machine, stage),
                "DefinitionSubstitutions": definition_substitutions(machine),
                "RoleArn": {"Fn::GetAtt": [STATE_MACHINE_ROLE, "Arn"]},
                "LoggingConfiguration": {
                    "Level": "ERROR",
                    "IncludeExecutionData": False,
                    "Destinations": [{"CloudWatchLogsLogGroup": {"LogGroupArn": {"Fn::GetAtt": [log_group, "Arn"]}}}],
                },
            },
        }
        outputs[machine.logical_id + "Arn"] = {"Value": {"Ref": machine.logical_id}}
    outputs["ManifestBucketName"] = {"Value": {"Ref": MANIFEST_BUCKET}}

    # Fixed rules (stack resources) and the dispatcher's permission for the reconciled schedule rules.
    by_name = {f.name: f for f in functions}
    for rule in resources.rules():
        target: dict[str, Any] = {
            "Id": rule.target_function,
            "Arn": {"Fn::GetAtt": [by_name[rule.target_function].logical_id, "Arn"]},
        }
        if rule.input is not None:
            target["Input"] = rule.input
        if rule.input_transformer is not None:
            target["InputTransformer"] = rule.input_transformer
        out[rule.logical_id] = {
            "Type": "AWS::Events::Rule",
            "Properties": {
                "Name": f"{APP_NAME}-{stage}-{rule.name}",
                "Description": rule.description[:512],
                "ScheduleExpression": rule.schedule_expression,
                "State": "ENABLED",
                "Targets": [target],
            },
        }
        out[rule.logical_id + "Permission"] = {
            "Type": "AWS::Lambda::Permission",
            "Properties": {
                "Action": "lambda:InvokeFunction",
                "Principal": "events.amazonaws.com",
                "FunctionName": {"Ref": by_name[rule.target_function].logical_id},
                "SourceArn": {"Fn::GetAtt": [rule.logical_id, "Arn"]},
            },
        }
    out["DispatchSchedulePermission"] = {
        "Type": "AWS::Lambda::Permission",
        "Properties": {
            "Action": "lambda:InvokeFunction",
            "Principal": "events.amazonaws.com",
            "FunctionName": {"Ref": logical_id_of("dispatch")},
            # The schedule rules are made by the reconcile, not the stack: the permission covers their names.
            "SourceArn": render_resource(Res.SCHEDULE_RULES, stage)[0],
            "SourceAccount": {"Ref": "AWS::AccountId"},
        },
    }

    # The deploy hook: the database before anything runs, then the schedule rules.
    out[DEPLOY_HOOK] = {
        "Type": "Custom::DeployHook",
        # One resource, in this order: CloudFormation waits for it before anything depending on it, but the
        # migrations must also end before the reconcile reads the workflows table.
        "DependsOn": ["DispatchSchedulePermission", *(m.logical_id for m in machines)],
        "Properties": {
            "ServiceToken": {"Fn::GetAtt": [logical_id_of(MIGRATE_FUNCTION), "Arn"]},
            "Action": "deploy",
            # A new value makes CloudFormation send Update (the hook runs again); unchanged, it does not.
            "Revision": _digest(
                PROJECT_ROOT / "chalicelib" / "db" / "migrations",
                PROJECT_ROOT / "chalicelib" / "domain" / "workflows.py",
                PROJECT_ROOT / "chalicelib" / "domain" / "schedule.py",
                PROJECT_ROOT / "chalicelib" / "services" / "scheduling.py",
                resources.STATE_MACHINE_DIR,
            ),
        },
    }
    out.update(alarms(stage))

    # API Gateway's own errors in the API's shape (merged into Chalice's Swagger body).
    out[REST_API] = {"Properties": {"DefinitionBody": {"x-amazon-apigateway-gateway-responses": gateway_responses()}}}

    return {"Parameters": parameters(), "Conditions": conditions(), "Resources": out, "Outputs": outputs}


def definition_substitutions(machine: resources.StateMachineSpec) -> dict[str, Any]:
    """Every ${Placeholder} of the ASL: a function's ARN by GetAtt (fails on a placeholder with no value)."""
    by_placeholder = {resources.placeholder_for(f.name): f for f in resources.functions()}
    values = {}
    for name in sorted(machine.placeholders()):
        if name not in by_placeholder:
            raise KeyError(f"{machine.definition_path.name}: no value for placeholder ${{{name}}}")
        values[name] = {"Fn::GetAtt": [by_placeholder[name].logical_id, "Arn"]}
    return values


def main(argv: list[str]) -> int:
    if len(argv) not in (1, 2):
        print("usage: python -m infra.template OUTPUT.json [STAGE]", file=sys.stderr)
        return 2
    stage = argv[1] if len(argv) == 2 else "prod"
    Path(argv[0]).parent.mkdir(parents=True, exist_ok=True)
    Path(argv[0]).write_text(json.dumps(render(stage), indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
