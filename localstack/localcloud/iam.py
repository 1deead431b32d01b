"""IAM on the local cloud, read the way AWS reads it.

moto enforces IAM once `INITIAL_NO_AUTH_ACTION_COUNT` is reached (`enforce()`), but it checks the Step
Functions, EventBridge and Secrets Manager actions against the resource "*" only, so a policy that names
its resources (least privilege) would be refused everything. This module gives those services the
resource of each request (`_determine_resource`, the hook moto's `BaseResponse.call_action` reads), so a
statement on `arn:...:stateMachine:x` allows StartExecution of x and nothing else, as on AWS.

Around the enforcement:
- a role made by CloudFormation keeps its inline policies as JSON text (moto kept a dict, which its own
  policy check cannot read);
- a custom resource's answer (the PUT to its ResponseURL, a presigned S3 URL on AWS) needs no
  credentials, so moto's `ProcessCfnResponse` is let through unsigned;
- `admin_credentials()` makes the operator's identity (an IAM user allowed everything) for the harness;
- `act_as_state_machine_role()` gives moto's Step Functions interpreter, which signs its own S3 calls
  (the Distributed Map's ItemReader) with the fixed key "ak", the state machine role's policies.

Functions run as their own roles through the Lambda runner (`localcloud.lambda_runner.role_credentials`).
Not enforced here: the Step Functions interpreter invokes Lambda without a signed request (a direct call
with the speedups on), so the state machine role's lambda:InvokeFunction is checked by the template test
instead; resource-based policies (Lambda permissions for EventBridge) are not evaluated by moto.
"""

from __future__ import annotations

import json
from typing import Any

from localcloud.patchpoints import PatchPoint

# The hook these patches rely on: call_action authorizes against `self._determine_resource()` when defined.
CALL_ACTION = PatchPoint(
    "moto.core.responses",
    "BaseResponse.call_action",
    ("self",),
    "26076963fd17fd1a40be642032b5a8d90f159c19d01b80a5f0b0c839770ee0d6",
)
# Shadowed (not replaced) on CloudFormationResponse so that a custom resource's answer needs no signature.
AUTHORIZE = PatchPoint(
    "moto.core.authorization",
    "ActionAuthenticatorMixin._authenticate_and_authorize_normal_action",
    ("self", "resource"),
    "eaa6fd7174850bcbac48e22c254b2b09b7117bd6a9e1d4e3425248615c47d065",
)
# CloudFormation's AWS::IAM::Role stores an inline policy as a dict, which moto's own policy check cannot
# read (it expects the JSON text PutRolePolicy stores): replaced by a version that stores the text.
ROLE_PUT_POLICY = PatchPoint(
    "moto.iam.models",
    "Role.put_policy",
    ("self", "policy_name", "policy_json"),
    "0a110d8da90e64008f69561e59fd3c29ebc1010e0b24eae2bd39ada52bbbbb91",
)
POINTS = (CALL_ACTION, AUTHORIZE, ROLE_PUT_POLICY)

INTERPRETER_ACCESS_KEY = ("ak", "sk")  # moto.stepfunctions.parser.asl.utils.boto_client.boto_client_for
ADMIN_USER = "localcloud-admin"
INTERPRETER_USER = "localcloud-stepfunctions-interpreter"
ALLOW_ALL = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]})
_SFN_ARN_PARAMS = ("stateMachineArn", "executionArn", "mapRunArn", "resourceArn")


def _states_resource(self: Any) -> str:
    try:
        for name in _SFN_ARN_PARAMS:
            value = self._get_param(name)
            if isinstance(value, str) and value:
                return value
    except Exception:  # noqa: BLE001 - an unreadable request is authorized as moto would (resource "*")
        return "*"
    return "*"


def _events_resource(self: Any) -> str:
    try:
        name = self._get_param("Name") or self._get_param("Rule")
        if not isinstance(name, str) or not name:
            return "*"
        bus = self._get_param("EventBusName") or "default"
        path = f"rule/{name}" if bus == "default" else f"rule/{bus}/{name}"
        return f"arn:aws:events:{self.region}:{self.current_account}:{path}"
    except Exception:  # noqa: BLE001 - as above
        return "*"


def _secrets_resource(self: Any) -> str:
    try:
        secret_id = self._get_param("SecretId")
        if not isinstance(secret_id, str) or not secret_id:
            return "*"
        if secret_id.startswith("arn:"):
            return secret_id
        from moto.secretsmanager.models import secretsmanager_backends

        secret = secretsmanager_backends[self.current_account][self.region].secrets.get(secret_id)
        return secret.arn if secret is not None else "*"
    except Exception:  # noqa: BLE001 - as above
        return "*"


def _cloudformation_authorize(self: Any, resource: str = "*") -> None:
    if self._get_action() == "ProcessCfnResponse":
        return  # a custom resource's answer: a presigned URL on AWS, no credentials
    AUTHORIZE.original()(self, resource)


def _role_put_policy(self: Any, policy_name: str, policy_json: Any) -> None:
    text = policy_json if isinstance(policy_json, str) else json.dumps(policy_json)
    ROLE_PUT_POLICY.original()(self, policy_name, text)


def install() -> None:
    from moto.cloudformation.responses import CloudFormationResponse
    from moto.events.responses import EventsHandler
    from moto.secretsmanager.responses import SecretsManagerResponse
    from moto.stepfunctions.responses import StepFunctionResponse

    for point in POINTS:
        point.check()
    for cls, resolver in (
        (StepFunctionResponse, _states_resource),
        (EventsHandler, _events_resource),
        (SecretsManagerResponse, _secrets_resource),
    ):
        held = vars(cls).get("_determine_resource")
        if held is not None and held is not resolver:
            raise RuntimeError(f"{cls.__name__}._determine_resource exists in moto now: re-read localcloud.iam")
        cls._determine_resource = resolver  # type: ignore[attr-defined]
    held = vars(CloudFormationResponse).get("_authenticate_and_authorize_normal_action")
    if held is not None and held is not _cloudformation_authorize:
        raise RuntimeError("CloudFormationResponse authorizes itself in moto now: re-read localcloud.iam")
    CloudFormationResponse._authenticate_and_authorize_normal_action = _cloudformation_authorize  # type: ignore[method-assign]
    ROLE_PUT_POLICY.install(_role_put_policy)


# --- the harness's side --------------------------------------------------------------------------------------
def enforce(on: bool = True) -> None:
    """Check every request's credentials from now on (or stop checking)."""
    from moto import settings
    from moto.core.authorization import ActionAuthenticatorMixin

    settings.INITIAL_NO_AUTH_ACTION_COUNT = 0 if on else float("inf")
    ActionAuthenticatorMixin.request_count = 0


def _iam_backend(account_id: str) -> Any:
    from moto.iam.models import iam_backends

    return iam_backends[account_id]["aws"]


def _user_with_key(account_id: str, name: str, policy: str) -> Any:
    backend = _iam_backend(account_id)
    if name not in backend.users:
        backend.create_user(region_name="us-east-1", user_name=name, path="/", tags=[])
    backend.put_user_policy(name, "local-cloud", policy)
    user = backend.users[name]
    return user.access_keys[0] if user.access_keys else backend.create_access_key(name, prefix="AKIA")


def admin_credentials(account_id: str) -> tuple[str, str]:
    """(access key id, secret) of an IAM user allowed everything: the operator who deploys the stack."""
    key = _user_with_key(account_id, ADMIN_USER, ALLOW_ALL)
    return key.access_key_id, key.secret_access_key


def act_as_state_machine_role(account_id: str, role_arn: str) -> None:
    """Give the interpreter's fixed key the policies of the state machine's role (its ItemReader reads)."""
    backend = _iam_backend(account_id)
    role = backend.get_role_by_arn(role_arn)
    statements: list[Any] = []
    for name in backend.list_role_policies(role.name):
        _, document = backend.get_role_policy(role.name, name)
        found = json.loads(document) if isinstance(document, str) else document
        listed = found["Statement"]
        statements += listed if isinstance(listed, list) else [listed]
    policy = json.dumps({"Version": "2012-10-17", "Statement": statements})
    key = _user_with_key(account_id, INTERPRETER_USER, policy)
    key.access_key_id, key.secret_access_key = INTERPRETER_ACCESS_KEY
