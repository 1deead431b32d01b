"""The local cloud's CloudFormation and IAM as AWS runs them: a stack's state machine (Definition or
DefinitionString, DefinitionSubstitutions) lands on the executing backend and runs; a custom resource's
answer reaches the stack; with IAM enforced a function runs as its own role, checked against the resource
each request names."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest

from localcloud import LocalCloud, iam
from localcloud.cloudformation import DefinitionError, render_definition
from localcloud.lambda_runner import ACCOUNT_ID, SANDBOX
from localcloud.patchpoints import PatchPoint, PatchPointMoved
from tests.localcloud.handlers.support import dummy_zip, shared_cloud, unique, wait_for_execution

LAMBDA_TRUST = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}],
}
STATES_TRUST = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"Service": "states.amazonaws.com"}, "Action": "sts:AssumeRole"}],
}


@pytest.fixture(scope="module")
def cloud() -> LocalCloud:
    return shared_cloud()


def wait_stack(cloud: LocalCloud, name: str, timeout: float = 60) -> dict[str, Any]:
    cfn = cloud.client("cloudformation")
    deadline = time.monotonic() + timeout
    while True:
        stack = cfn.describe_stacks(StackName=name)["Stacks"][0]
        if not stack["StackStatus"].endswith("_IN_PROGRESS") or time.monotonic() > deadline:
            return stack
        time.sleep(0.1)


def function_and_machine(handler: str, definition_key: str, definition: Any) -> dict[str, Any]:
    return {
        "Resources": {
            "FnRole": {"Type": "AWS::IAM::Role", "Properties": {"AssumeRolePolicyDocument": LAMBDA_TRUST}},
            "Fn": {
                "Type": "AWS::Lambda::Function",
                "Properties": {
                    "Runtime": "python3.11",
                    "Handler": handler,
                    "Role": {"Fn::GetAtt": ["FnRole", "Arn"]},
                    "Code": {"ZipFile": "placeholder"},
                },
            },
            "MachineRole": {"Type": "AWS::IAM::Role", "Properties": {"AssumeRolePolicyDocument": STATES_TRUST}},
            "Machine": {
                "Type": "AWS::StepFunctions::StateMachine",
                "Properties": {
                    "StateMachineName": unique("cfn-machine"),
                    definition_key: definition,
                    "DefinitionSubstitutions": {"FnArn": {"Fn::GetAtt": ["Fn", "Arn"]}, "Greeting": "hola"},
                    "RoleArn": {"Fn::GetAtt": ["MachineRole", "Arn"]},
                },
            },
        },
        "Outputs": {"MachineArn": {"Value": {"Ref": "Machine"}}},
    }


ASL = {
    "StartAt": "Call",
    "States": {
        "Call": {
            "Type": "Task",
            "Resource": "${FnArn}",
            "Parameters": {"greeting": "${Greeting}"},
            "TimeoutSeconds": 10,
            "End": True,
        }
    },
}


@pytest.mark.parametrize(
    ("key", "definition"), [("Definition", ASL), ("DefinitionString", json.dumps(ASL))], ids=["Definition", "String"]
)
def test_a_stack_state_machine_with_substitutions_runs_on_the_executing_backend(
    cloud: LocalCloud, key: str, definition: Any
) -> None:
    # GIVEN a stack with a function and a state machine whose definition names it through a substitution
    name = unique("sm-stack")
    cfn = cloud.client("cloudformation")
    cfn.create_stack(
        StackName=name,
        TemplateBody=json.dumps(function_and_machine("tests.localcloud.handlers.basic.ok", key, definition)),
    )
    stack = wait_stack(cloud, name)
    assert stack["StackStatus"] == "CREATE_COMPLETE"
    arn = stack["Outputs"][0]["OutputValue"]
    sfn = cloud.client("stepfunctions")
    # THEN Step Functions lists it (the executing backend) with every placeholder replaced
    assert arn in {m["stateMachineArn"] for m in sfn.list_state_machines()["stateMachines"]}
    described = json.loads(sfn.describe_state_machine(stateMachineArn=arn)["definition"])
    assert described["States"]["Call"]["Resource"].startswith("arn:aws:lambda:")
    # WHEN it is executed
    execution = sfn.start_execution(stateMachineArn=arn, name=unique("run"), input="{}")["executionArn"]
    done = wait_for_execution(cloud, execution)
    # THEN the function ran with the substituted input
    assert done["status"] == "SUCCEEDED"
    assert json.loads(done["output"])["echo"] == {"greeting": "hola"}
    cfn.delete_stack(StackName=name)


def test_a_stack_update_changes_the_definition_and_a_deletion_removes_the_machine(cloud: LocalCloud) -> None:
    # GIVEN a stack's state machine
    name = unique("sm-update")
    cfn, sfn = cloud.client("cloudformation"), cloud.client("stepfunctions")
    body = function_and_machine("tests.localcloud.handlers.basic.ok", "Definition", ASL)
    cfn.create_stack(StackName=name, TemplateBody=json.dumps(body))
    arn = wait_stack(cloud, name)["Outputs"][0]["OutputValue"]
    # WHEN the stack is updated with another substitution value
    body["Resources"]["Machine"]["Properties"]["DefinitionSubstitutions"]["Greeting"] = "adiós"
    cfn.update_stack(StackName=name, TemplateBody=json.dumps(body))
    wait_stack(cloud, name)
    # THEN the same machine has the new definition
    described = json.loads(sfn.describe_state_machine(stateMachineArn=arn)["definition"])
    assert described["States"]["Call"]["Parameters"] == {"greeting": "adiós"}
    # WHEN the stack is deleted / THEN the machine is gone
    cfn.delete_stack(StackName=name)
    assert arn not in {m["stateMachineArn"] for m in sfn.list_state_machines()["stateMachines"]}


def test_a_placeholder_without_a_value_is_refused_naming_it() -> None:
    # GIVEN a definition with a placeholder its substitutions lack / WHEN rendered / THEN the error names it
    with pytest.raises(DefinitionError, match="no value for Missing"):
        render_definition({"DefinitionString": '{"a": "${Missing}"}', "DefinitionSubstitutions": {}})
    with pytest.raises(DefinitionError, match="DefinitionString or Definition"):
        render_definition({})


def test_a_custom_resource_answer_reaches_its_stack(cloud: LocalCloud) -> None:
    # GIVEN a stack whose custom resource's function answers through the product's cfn_response adapter
    name = unique("custom")
    body = {
        "Resources": {
            "FnRole": {"Type": "AWS::IAM::Role", "Properties": {"AssumeRolePolicyDocument": LAMBDA_TRUST}},
            "Fn": {
                "Type": "AWS::Lambda::Function",
                "Properties": {
                    "Runtime": "python3.11",
                    "Handler": "tests.localcloud.handlers.aws_calls.answer_custom_resource",
                    "Role": {"Fn::GetAtt": ["FnRole", "Arn"]},
                    "Code": {"ZipFile": "placeholder"},
                },
            },
            "Question": {
                "Type": "Custom::Question",
                "Properties": {"ServiceToken": {"Fn::GetAtt": ["Fn", "Arn"]}, "Question": 21},
            },
        },
        "Outputs": {"Answer": {"Value": {"Fn::GetAtt": ["Question", "Answer"]}}},
    }
    # WHEN the stack is created in the cloud's region (not us-east-1)
    cloud.client("cloudformation").create_stack(StackName=name, TemplateBody=json.dumps(body))
    stack = wait_stack(cloud, name)
    # THEN the answer reached it: complete, with the data the function sent
    assert cloud.region != "us-east-1"
    assert stack["StackStatus"] == "CREATE_COMPLETE"
    assert {o["OutputKey"]: o["OutputValue"] for o in stack["Outputs"]} == {"Answer": "42"}
    cloud.client("cloudformation").delete_stack(StackName=name)


def test_a_classmethod_patch_point_is_checked_as_its_function() -> None:
    # GIVEN a patch point on a classmethod with the wrong parameters / WHEN checked / THEN it says so
    point = PatchPoint("moto.stepfunctions.models", "StateMachine.create_from_cloudformation_json", ("cls",), "")
    with pytest.raises(PatchPointMoved, match="parameters are"):
        point.check()


# --- IAM enforced ------------------------------------------------------------------------------------------
@pytest.fixture
def enforced(cloud: LocalCloud) -> Iterator[Any]:
    """IAM enforced; yields a client factory signed as the operator (an IAM user allowed everything)."""
    import boto3

    key, secret = iam.admin_credentials(ACCOUNT_ID)

    def client(service: str) -> Any:
        return boto3.client(
            service,
            endpoint_url=cloud.endpoint_url,
            region_name=cloud.region,
            aws_access_key_id=key,
            aws_secret_access_key=secret,
        )

    iam.enforce(True)
    try:
        yield client
    finally:
        iam.enforce(False)
        SANDBOX.restore()


def make_function(
    client: Any,
    cloud: LocalCloud,
    handler: str,
    policy: list[dict[str, Any]] | None,
    *,
    trust: Any = None,
    env: dict[str, str] | None = None,
) -> str:
    role_name = unique("role")
    role = client("iam").create_role(RoleName=role_name, AssumeRolePolicyDocument=json.dumps(trust or LAMBDA_TRUST))[
        "Role"
    ]["Arn"]
    if policy:
        client("iam").put_role_policy(
            RoleName=role_name,
            PolicyName="p",
            PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": policy}),
        )
    variables = {"AWS_ENDPOINT_URL": cloud.endpoint_url, **(env or {})}
    return client("lambda").create_function(
        FunctionName=unique("as-role"),
        Runtime="python3.11",
        Role=role,
        Handler=handler,
        Code={"ZipFile": dummy_zip()},
        Environment={"Variables": variables},
    )["FunctionName"]


def invoke(client: Any, name: str, event: dict[str, Any]) -> tuple[str | None, Any]:
    response = client("lambda").invoke(FunctionName=name, Payload=json.dumps(event).encode())
    return response.get("FunctionError"), json.loads(response["Payload"].read())


def machine(client: Any) -> str:
    definition = {"StartAt": "Done", "States": {"Done": {"Type": "Succeed"}}}
    return client("stepfunctions").create_state_machine(
        name=unique("iam-sm"), definition=json.dumps(definition), roleArn=f"arn:aws:iam::{ACCOUNT_ID}:role/any"
    )["stateMachineArn"]


def test_a_function_runs_as_its_own_role_in_its_own_environment(cloud: LocalCloud, enforced: Any) -> None:
    # GIVEN two functions with their own roles, one with a variable the other lacks
    first = make_function(enforced, cloud, "tests.localcloud.handlers.aws_calls.whoami", None, env={"ONLY_A": "a"})
    second = make_function(enforced, cloud, "tests.localcloud.handlers.aws_calls.whoami", None)
    # WHEN each is invoked
    error_a, a = invoke(enforced, first, {})
    error_b, b = invoke(enforced, second, {})
    # THEN each called AWS as its own role's session, and saw its own environment only
    assert (error_a, error_b) == (None, None)
    assert a["arn"].endswith(f"/{first}") and ":assumed-role/" in a["arn"]
    assert b["arn"].endswith(f"/{second}")
    assert (a["only_a"], b["only_a"]) == ("a", None)


def test_a_role_allows_the_state_machine_it_names_and_no_other(cloud: LocalCloud, enforced: Any) -> None:
    # GIVEN two state machines and a function whose role may start the first one only
    allowed, other = machine(enforced), machine(enforced)
    policy = [{"Effect": "Allow", "Action": "states:StartExecution", "Resource": allowed}]
    name = make_function(enforced, cloud, "tests.localcloud.handlers.aws_calls.start_execution", policy)
    # WHEN it starts each
    ok_error, started = invoke(enforced, name, {"arn": allowed})
    denied_error, denied = invoke(enforced, name, {"arn": other})
    # THEN the first starts and the second is refused with AccessDenied
    assert ok_error is None and started.startswith(allowed.replace(":stateMachine:", ":execution:"))
    assert denied_error == "Unhandled" and "AccessDenied" in denied["errorMessage"]


def test_rules_and_secrets_are_checked_against_the_resource_named(cloud: LocalCloud, enforced: Any) -> None:
    # GIVEN a function whose role may put rules named allowed-* and read one secret
    secrets = enforced("secretsmanager")
    mine = secrets.create_secret(Name=unique("mine"), SecretString="s3cret")["ARN"]
    theirs = secrets.create_secret(Name=unique("theirs"), SecretString="other")["ARN"]
    prefix = unique("allowed")
    policy = [
        {
            "Effect": "Allow",
            "Action": "events:PutRule",
            "Resource": f"arn:aws:events:{cloud.region}:{ACCOUNT_ID}:rule/{prefix}*",
        },
        {"Effect": "Allow", "Action": "secretsmanager:GetSecretValue", "Resource": mine},
    ]
    rules = make_function(enforced, cloud, "tests.localcloud.handlers.aws_calls.put_rule", policy)
    reader = make_function(enforced, cloud, "tests.localcloud.handlers.aws_calls.read_secret", policy)
    # WHEN it uses each resource
    # THEN only the named ones are allowed
    assert invoke(enforced, rules, {"name": f"{prefix}-x"})[0] is None
    error, denied = invoke(enforced, rules, {"name": unique("other")})
    assert error == "Unhandled" and "AccessDenied" in denied["errorMessage"]
    assert invoke(enforced, reader, {"arn": mine}) == (None, "s3cret")
    error, denied = invoke(enforced, reader, {"arn": theirs})
    assert error == "Unhandled" and "AccessDenied" in denied["errorMessage"]


def test_a_role_that_does_not_trust_lambda_cannot_run_a_function(cloud: LocalCloud, enforced: Any) -> None:
    # GIVEN a function whose role trusts Step Functions, not Lambda
    name = make_function(enforced, cloud, "tests.localcloud.handlers.aws_calls.whoami", None, trust=STATES_TRUST)
    # WHEN invoked / THEN Lambda cannot assume it: the invocation fails saying so
    error, payload = invoke(enforced, name, {})
    assert error == "Unhandled"
    assert payload["errorType"] == "Runtime.RoleAssumptionError" and "lambda.amazonaws.com" in payload["errorMessage"]
