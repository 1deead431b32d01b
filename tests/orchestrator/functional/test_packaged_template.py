"""The packaged stack read as AWS would read it, before anyone deploys: cfn-lint finds no error, the SAM
transform succeeds offline, every state machine's placeholders have values and name functions the stack
has, each role allows what its function's code calls and nothing else, secrets travel only as ARNs, API
Gateway's own errors keep the API's shape, the alarms watch what they say, and the template's functions,
state machines and rules are the ones the local cloud's deploy makes."""

from __future__ import annotations

import contextlib
import io
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from infra import policies, resources, template
from infra.policies import API_FUNCTION, Res
from localrun.aws_stack import for_local_cloud, translate

ROOT = Path(__file__).resolve().parents[3]
STATE_MACHINE_TYPE = "AWS::StepFunctions::StateMachine"


@pytest.fixture(scope="module")
def sam(packaged_stack: Path) -> dict[str, Any]:
    return json.loads((packaged_stack / "sam.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def cfn(sam: dict[str, Any], monkeypatch_module: pytest.MonkeyPatch) -> dict[str, Any]:
    monkeypatch_module.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    return translate(sam, "s3://code-bucket/deployment.zip")


@pytest.fixture(scope="module")
def monkeypatch_module() -> Any:
    with pytest.MonkeyPatch.context() as patch:
        yield patch


def of_type(resources_: dict[str, Any], kind: str) -> dict[str, Any]:
    return {name: r for name, r in resources_.items() if r["Type"] == kind}


def statements(role: dict[str, Any]) -> list[dict[str, Any]]:
    return [s for policy in role["Properties"]["Policies"] for s in policy["PolicyDocument"]["Statement"]]


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


# --- 1. cfn-lint and the SAM transform --------------------------------------------------------------------
def test_cfn_lint_finds_no_error_in_the_packaged_template(packaged_stack: Path) -> None:
    # GIVEN the template `make package` writes
    cfn_lint = shutil.which("cfn-lint", path=str(Path(sys.executable).parent))
    assert cfn_lint is not None
    # WHEN cfn-lint reads it (it applies the SAM transform itself)
    done = subprocess.run(
        [cfn_lint, "--format", "parseable", str(packaged_stack / "sam.json")],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    # THEN it reports no error (exit bit 2) and no warning (bit 4)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]


def test_the_sam_transform_succeeds_offline(cfn: dict[str, Any]) -> None:
    # GIVEN the SAM template translated by aws-sam-translator with no AWS account (done by the fixture)
    functions = of_type(cfn["Resources"], "AWS::Lambda::Function")
    # THEN every function of app.py and the API's function is a plain Lambda function with its own role
    expected = {template.function_name("prod", f.name) for f in resources.functions("prod")}
    expected.add(template.function_name("prod", API_FUNCTION))
    assert {f["Properties"]["FunctionName"] for f in functions.values()} == expected
    for name, function in functions.items():
        assert function["Properties"]["Role"] == {"Fn::GetAtt": [f"{name}Role", "Arn"]}
        assert function["Properties"]["Code"] == {"S3Bucket": "code-bucket", "S3Key": "deployment.zip"}
    # AND the API is a REST API with the gateway responses in its body, the deploy hook a custom resource
    assert "x-amazon-apigateway-gateway-responses" in cfn["Resources"]["RestAPI"]["Properties"]["Body"]
    assert cfn["Resources"][template.DEPLOY_HOOK]["Type"] == "Custom::DeployHook"
    assert "Transform" not in cfn


# --- 4. placeholders, functions and what the local cloud deploys ---------------------------------------------
def test_every_placeholder_of_every_state_machine_file_has_a_substitution(sam: dict[str, Any]) -> None:
    # GIVEN every ASL file in statemachines/ and the packaged state machines
    functions = of_type(sam["Resources"], "AWS::Serverless::Function")
    described = {spec.definition_path.resolve(): spec for spec in resources.state_machines()}
    files = sorted((ROOT / "statemachines").glob("*.asl.json"))
    assert files
    for path in files:
        text = path.read_text(encoding="utf-8")
        # The file is JSON once a placeholder standing for a number (outside quotes) reads as one.
        json.loads(re.sub(r'(?<!")\$\{[A-Za-z0-9]+\}(?!")', "0", text))
        # THEN each file is a state machine of the template
        assert path.resolve() in described, f"{path.name} is not described in infra/resources.py"
        machine = sam["Resources"][described[path.resolve()].logical_id]
        assert machine["Type"] == STATE_MACHINE_TYPE
        values = machine["Properties"]["DefinitionSubstitutions"]
        # AND each ${Placeholder} of the file and of the packaged definition has a value
        for definition in (text, machine["Properties"]["DefinitionString"]):
            placeholders = set(re.findall(r"\$\{([A-Za-z0-9]+)\}", definition))
            assert placeholders and placeholders <= set(values), f"{path.name}: {sorted(placeholders - set(values))}"
        # AND every value that names a resource names a function the stack has
        for name, value in values.items():
            if isinstance(value, dict) and "Fn::GetAtt" in value:
                assert value["Fn::GetAtt"][0] in functions, f"{path.name}: ${{{name}}} -> {value}"


def test_every_function_a_task_calls_exists_in_the_template(sam: dict[str, Any]) -> None:
    # GIVEN the state machines' Task resources after substitution
    machines = of_type(sam["Resources"], STATE_MACHINE_TYPE)
    functions = of_type(sam["Resources"], "AWS::Serverless::Function")
    for machine in machines.values():
        props = machine["Properties"]
        called = set(re.findall(r'"Resource": "\$\{([A-Za-z0-9]+)\}"', props["DefinitionString"]))
        # THEN each one is a function of the stack (by GetAtt, so CloudFormation orders them)
        targets = {props["DefinitionSubstitutions"][p]["Fn::GetAtt"][0] for p in called}
        assert targets <= set(functions)
        assert targets == {template.logical_id_of(name) for name in template.asl_functions()}


def test_the_template_holds_the_functions_state_machines_and_rules_the_local_deploy_makes(
    cfn: dict[str, Any], stack: Any
) -> None:
    # GIVEN the local cloud's deploy of stage "ftest" (infra/deploy.py, the functional stack) and the template
    local = stack.deployment

    def staged(names: Any, stage: str) -> set[str]:
        return {n.replace(f"-{stage}-", "-<stage>-") for n in names}

    functions = {f["Properties"]["FunctionName"] for f in of_type(cfn["Resources"], "AWS::Lambda::Function").values()}
    machines = {m["Properties"]["StateMachineName"] for m in of_type(cfn["Resources"], STATE_MACHINE_TYPE).values()}
    rules = {r["Properties"]["Name"] for r in of_type(cfn["Resources"], "AWS::Events::Rule").values()}
    # THEN the same functions (the API's runs behind API Gateway only on AWS; locally `chalice local`)
    deployed_functions = {arn.rsplit(":", 1)[1] for arn in local.function_arns.values()}
    assert staged(functions, "prod") == staged(deployed_functions, "ftest") | {
        "bakery-orchestrator-<stage>-api_handler"
    }
    # AND the same state machines
    deployed_machines = {arn.rsplit(":", 1)[1] for arn in local.state_machine_arns.values()}
    assert staged(machines, "prod") == staged(deployed_machines, "ftest")
    # AND the same fixed rules; the schedule rules are the reconcile's in both (none in the template)
    fixed = {n for n in local.rule_names if "-sched-" not in n}
    assert staged(rules, "prod") == staged(fixed, "ftest")
    assert not [n for n in rules if "-sched-" in n]


# --- least privilege ------------------------------------------------------------------------------------------
def expected_actions(function: str) -> set[str]:
    grants = policies.grants_of(function)
    actions = {a for g in grants for a in g.actions}
    return actions | {"secretsmanager:GetSecretValue"}


def test_each_function_role_allows_exactly_what_its_code_calls(sam: dict[str, Any]) -> None:
    # GIVEN the functions of the packaged template and the description in infra/policies.py
    functions = of_type(sam["Resources"], "AWS::Serverless::Function")
    for logical, function in functions.items():
        name = function["Properties"]["FunctionName"].removeprefix("bakery-orchestrator-prod-")
        role = sam["Resources"][f"{logical}Role"]
        found = statements(role)
        # THEN its role trusts Lambda only and allows the described actions, nothing else
        assert role["Properties"]["AssumeRolePolicyDocument"]["Statement"][0]["Principal"] == {
            "Service": "lambda.amazonaws.com"
        }
        assert {a for s in found for a in as_list(s["Action"])} == expected_actions(name), name
        # AND "*" appears only where the action has no resource-level permission (and says why)
        for statement in found:
            if "*" in as_list(statement["Resource"]):
                grant = next(g for g in policies.grants_of(name) if set(as_list(statement["Action"])) == set(g.actions))
                assert grant.resources == (Res.ANY,) and grant.comment, statement
    # AND the steps and the bridge call no AWS service (logs and their secrets only; the bridge stops runs)
    for step in ("start_run", "record_tenant_failure", "finish_run", "fail_run", "generate_forecasts"):
        assert expected_actions(step) == {"logs:CreateLogStream", "logs:PutLogEvents", "secretsmanager:GetSecretValue"}
    assert expected_actions("publish_events") - expected_actions("start_run") == {"states:StopExecution"}


def test_the_api_secret_is_readable_by_the_api_alone(sam: dict[str, Any]) -> None:
    # GIVEN every role's secret statement
    readers = {}
    for logical, function in of_type(sam["Resources"], "AWS::Serverless::Function").items():
        secret = [
            s for s in statements(sam["Resources"][f"{logical}Role"]) if s["Action"] == "secretsmanager:GetSecretValue"
        ]
        readers[logical] = {r["Ref"] for r in as_list(secret[0]["Resource"])}
        env = function["Properties"]["Environment"]["Variables"]
        # THEN a function's environment names exactly the secrets its role may read, as ARNs (never values)
        assert {k for k in env if k.endswith("_SECRET_ARN")} == {
            f"{s}_SECRET_ARN" for s, p in template.SECRET_PARAMETERS.items() if p in readers[logical]
        }
        assert not {"DATABASE_URL", "REDIS_URL", "RABBITMQ_URL", "JWT_SECRET"} & set(env)
    # AND JWT_SECRET is the API's alone; the database and Redis URLs everyone's
    assert [name for name, refs in readers.items() if "JwtSecretArn" in refs] == ["APIHandler"]
    assert all({"DatabaseUrlSecretArn", "RedisUrlSecretArn"} <= refs for refs in readers.values())
    # AND the secret parameters have no default (nothing secret in the template)
    for param in template.SECRET_PARAMETERS.values():
        assert "Default" not in sam["Parameters"][param]


def test_the_state_machine_role_invokes_exactly_its_task_functions_and_reads_only_manifests(
    sam: dict[str, Any],
) -> None:
    # GIVEN the state machine's role
    machine = sam["Resources"]["DailyOperationsStateMachine"]["Properties"]
    role = sam["Resources"][machine["RoleArn"]["Fn::GetAtt"][0]]
    found = {a: s for s in statements(role) for a in as_list(s["Action"])}
    # THEN lambda:InvokeFunction names the functions the tasks call, nothing else (not the dispatcher)
    invoked = {r["Fn::GetAtt"][0] for r in as_list(found["lambda:InvokeFunction"]["Resource"])}
    assert invoked == {v["Fn::GetAtt"][0] for v in machine["DefinitionSubstitutions"].values()}
    assert "Dispatch" not in invoked and "Migrate" not in invoked
    # AND S3 reads stop at the manifests, child executions at the stage's own machines
    assert found["s3:GetObject"]["Resource"] == {"Fn::Sub": "arn:${AWS::Partition}:s3:::${ManifestBucket}/manifests/*"}
    assert "bakery-orchestrator-prod-daily_operations" in json.dumps(found["states:StartExecution"]["Resource"])
    # AND "*" only for the log delivery actions, which have no resource-level permission
    starred = {a for a, s in found.items() if "*" in as_list(s["Resource"])}
    assert starred == {a for a in found if a.startswith("logs:")}


def test_eventbridge_may_invoke_the_dispatcher_for_every_schedule_rule_of_the_stage(sam: dict[str, Any]) -> None:
    from chalicelib.services.scheduling import rule_prefix

    # GIVEN the dispatcher's permission (the schedule rules are the reconcile's, not the stack's)
    permission = sam["Resources"]["DispatchSchedulePermission"]["Properties"]
    # THEN EventBridge may invoke it from any rule named like the reconciled ones, and from no other
    assert permission["Principal"] == "events.amazonaws.com"
    assert permission["FunctionName"] == {"Ref": "Dispatch"}
    assert permission["SourceArn"]["Fn::Sub"].endswith(f":rule/{rule_prefix('prod')}*")
    # AND the deploy hook reconciles them once the state machine and this permission exist
    hook = sam["Resources"][template.DEPLOY_HOOK]
    assert {"DispatchSchedulePermission", "DailyOperationsStateMachine"} <= set(hook["DependsOn"])


# --- API Gateway's own answers and the alarms -------------------------------------------------------------------
def test_api_gateway_answers_its_own_errors_in_the_api_shape(sam: dict[str, Any]) -> None:
    # GIVEN the gateway responses merged into the API's Swagger body
    responses = sam["Resources"]["RestAPI"]["Properties"]["DefinitionBody"]["x-amazon-apigateway-gateway-responses"]
    statuses = set()
    for kind, response in responses.items():
        text = response["responseTemplates"]["application/json"].replace("$context.error.messageString", '"Forbidden"')
        # THEN each body is the API's error object, with the code and a message
        body = json.loads(text)
        assert set(body) == {"error", "message", "field"}, kind
        assert body["error"] and body["message"] and body["field"] is None
        statuses.add(int(response["statusCode"]))
    # AND the statuses API Gateway answers by itself are all covered
    assert {403, 404, 415, 429, 500, 502, 504} <= statuses
    assert responses["MISSING_AUTHENTICATION_TOKEN"]["statusCode"] == "404"


def test_alarms_watch_failed_executions_dispatcher_errors_and_the_outbox_age(
    sam: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    from chalicelib.observability import emit_metric

    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "false")  # the local stack turns them off

    alarms = of_type(sam["Resources"], "AWS::CloudWatch::Alarm")
    # GIVEN the failed-executions alarm: failed, timed out or aborted executions of the state machine
    failed = alarms["DailyOperationsStateMachineFailedAlarm"]["Properties"]
    names = {m["MetricStat"]["Metric"]["MetricName"] for m in failed["Metrics"] if "MetricStat" in m}
    assert names == {"ExecutionsFailed", "ExecutionsTimedOut", "ExecutionsAborted"}
    # AND the dispatcher's errors
    dispatch = alarms["DispatchErrorsAlarm"]["Properties"]
    assert dispatch["Dimensions"] == [{"Name": "FunctionName", "Value": "bakery-orchestrator-prod-dispatch"}]
    # AND the outbox age: the metric the bridge writes, with the very dimensions it writes
    backlog = alarms["OutboxBacklogAgeAlarm"]["Properties"]
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        emit_metric(template.OUTBOX_AGE_METRIC, 42.0, "Seconds", stage="prod")
    emf = json.loads(printed.getvalue())
    directive = emf["_aws"]["CloudWatchMetrics"][0]
    assert directive["Namespace"] == backlog["Namespace"]
    assert [m["Name"] for m in directive["Metrics"]] == [backlog["MetricName"]]
    assert {d["Name"]: d["Value"] for d in backlog["Dimensions"]} == {k: emf[k] for k in directive["Dimensions"][0]}
    assert backlog["TreatMissingData"] == "breaching"
    # AND every alarm notifies the topic parameter when one is given
    for alarm in alarms.values():
        assert alarm["Properties"]["AlarmActions"] == {
            "Fn::If": ["HasAlarmTopic", [{"Ref": "AlarmTopicArn"}], {"Ref": "AWS::NoValue"}]
        }


def test_the_local_cloud_copy_leaves_out_only_api_gateway(cfn: dict[str, Any]) -> None:
    # GIVEN the translated template as the local cloud receives it
    local = for_local_cloud(cfn)
    # THEN only API Gateway's resources and what refers to them are left out
    gone = set(cfn["Resources"]) - set(local["Resources"])
    assert {cfn["Resources"][n]["Type"] for n in gone} == {
        "AWS::ApiGateway::RestApi",
        "AWS::ApiGateway::Deployment",
        "AWS::ApiGateway::Stage",
        "AWS::Lambda::Permission",
    }
    assert [n for n in gone if cfn["Resources"][n]["Type"] == "AWS::Lambda::Permission"] == [
        "APIHandlerInvokePermission"
    ]


def test_the_localstack_ready_hook_deploys_with_every_required_parameter(sam: dict[str, Any]) -> None:
    # GIVEN the LocalStack ready hook (not run here: no Docker engine)
    hook = ROOT / "localstack" / "ready.d" / "deploy-stack.sh"
    assert subprocess.run(["bash", "-n", str(hook)], check=False).returncode == 0
    text = hook.read_text(encoding="utf-8")
    # THEN it deploys the packaged template through CloudFormation with every parameter that has no default
    required = {name for name, p in sam["Parameters"].items() if "Default" not in p}
    given = set(re.findall(r"\b([A-Z][A-Za-z]+)=", text.split("--parameter-overrides", 1)[1]))
    assert required <= given, sorted(required - given)
    assert "cloudformation package" in text and "deployment.zip" in text


# adapter file -> (IAM service prefix, how its client is named there)
ADAPTER_SERVICES = {
    "stepfunctions.py": ("states", r"\bclient|\b_client"),
    "eventbridge.py": ("events", r"\bevents"),
    "manifests.py": ("s3", r'\bclient|boto3\.client\("s3"\)'),
}


def test_every_aws_call_of_the_adapters_is_granted_to_some_function() -> None:
    # GIVEN every AWS API call the adapters make (client methods and paginators)
    called = set()
    for file, (service, client) in ADAPTER_SERVICES.items():
        text = (ROOT / "chalicelib" / "adapters" / file).read_text(encoding="utf-8")
        methods = re.findall(rf"(?:{client})\.([a-z][a-z_]+)\(", text)
        methods += re.findall(r'get_paginator\("([a-z_]+)"\)', text)
        for method in methods:
            if method in ("get_paginator", "paginate", "read", "get", "cache_clear", "raise_for_status"):
                continue
            called.add(f"{service}:{''.join(part.capitalize() for part in method.split('_'))}")
    assert "states:StartExecution" in called and "s3:PutObject" in called
    # THEN each is allowed to at least one function (a new call without a grant fails here first)
    granted = {a for grants in policies.FUNCTION_GRANTS.values() for g in grants for a in g.actions}
    probe_only = {"states:ListStateMachines"}  # health without a configured ARN: never on a deployed stack
    assert called - granted - probe_only == set()
