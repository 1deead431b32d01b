"""CloudFormation on the local cloud as AWS runs it: a stack's state machine, and its custom resources' answers.

The custom resources' ResponseURL: moto builds it on `moto.settings.moto_server_host()`, which answers
"http://host.docker.internal" outside Docker (where moto expects Lambda to run); the local cloud runs
Lambda in its own process, so the URL names the local cloud itself (127.0.0.1, port MOTO_PORT). moto then
looks the stack up in the region of the request's host name, which for 127.0.0.1 is us-east-1: the answer
is read in the region the URL's path names (`/cloudformation_<region>/cfnresponse`), where the stack is.

The state machine:
moto 5.2.5's resource reads only `DefinitionString` (not `Definition`, not `DefinitionSubstitutions`) and
creates the machine in the non-executing backend, so `ListStateMachines` does not see a stack's machine
when execution is on and its executions never run. These replacements read the definition the way
CloudFormation does (`DefinitionString` or `Definition`, then every `${Name}` of `DefinitionSubstitutions`
replaced; an unknown placeholder fails the resource, as on AWS), apply the local cloud's definition
adjustments (`localcloud.compat`), pass type, logging and tags, and use the backend the Step Functions
API answers from (the executing one when `execute_state_machine` is on).
"""

from __future__ import annotations

import json
import re
from typing import Any

from localcloud.compat import adapt_definition
from localcloud.patchpoints import PatchPoint

_MODELS = "moto.stepfunctions.models"
PLACEHOLDER = re.compile(r"\$\{([A-Za-z0-9_.:-]+)\}")

CREATE = PatchPoint(
    _MODELS,
    "StateMachine.create_from_cloudformation_json",
    ("cls", "resource_name", "cloudformation_json", "account_id", "region_name", "kwargs"),
    "97e9fc1f9bd3ba26ace6f66e81c28f52368fac2e48927dea8f87d6378f33964a",
)
UPDATE = PatchPoint(
    _MODELS,
    "StateMachine.update_from_cloudformation_json",
    ("cls", "original_resource", "new_resource_name", "cloudformation_json", "account_id", "region_name"),
    "cb61711c12bd559e1b32e0561cf89f2dc5d05b65bfc4259da910ca02fa193c8a",
)
DELETE = PatchPoint(
    _MODELS,
    "StateMachine.delete_from_cloudformation_json",
    ("cls", "resource_name", "cloudformation_json", "account_id", "region_name"),
    "9db171388dd2d81b3c4c30b65999c9c07605e037908987a50cf60d1737323cc7",
)
SERVER_HOST = PatchPoint(
    "moto.settings",
    "moto_server_host",
    (),
    "c7abc27ca73db9cb3bfc34cd512cc23a86b8bc3c975bb235df41c612dcbc740f",
)
CFN_RESPONSE = PatchPoint(
    "moto.cloudformation.responses",
    "CloudFormationResponse.cfnresponse",
    ("cls", "args", "kwargs"),
    "149475779d14c8b934f537c7d13e265d50bba1464e68df5e72d0c6e7f25ee3e2",
)
POINTS = (CREATE, UPDATE, DELETE, SERVER_HOST, CFN_RESPONSE)
_RESPONSE_PATH = re.compile(r"/cloudformation_(?P<region>[a-z0-9-]+)/cfnresponse")
LOCAL_HOST = "http://127.0.0.1"  # where localcloud.server.LocalCloud listens


class DefinitionError(ValueError):
    """The resource's definition cannot be rendered (CloudFormation fails the resource the same way)."""


def render_definition(properties: dict[str, Any]) -> str:
    """The definition CloudFormation hands Step Functions: DefinitionString or Definition, substituted."""
    if "DefinitionString" in properties:
        text = properties["DefinitionString"]
        if not isinstance(text, str):
            raise DefinitionError("DefinitionString: expected a string")
    elif "Definition" in properties:
        text = json.dumps(properties["Definition"])
    else:
        raise DefinitionError("one of DefinitionString or Definition is required")
    values = properties.get("DefinitionSubstitutions") or {}
    missing = sorted(set(PLACEHOLDER.findall(text)) - set(values))
    if missing:
        raise DefinitionError(f"DefinitionSubstitutions: no value for {', '.join(missing)}")
    return PLACEHOLDER.sub(lambda m: str(values[m.group(1)]), text)


def _logging(properties: dict[str, Any]) -> dict[str, Any] | None:
    config = properties.get("LoggingConfiguration")
    if not config:
        return None
    return {
        "level": config.get("Level", "OFF"),
        "includeExecutionData": bool(config.get("IncludeExecutionData", False)),
        "destinations": [
            {"cloudWatchLogsLogGroup": {"logGroupArn": d["CloudWatchLogsLogGroup"]["LogGroupArn"]}}
            for d in config.get("Destinations", [])
            if "CloudWatchLogsLogGroup" in d
        ],
    }


def _backend(account_id: str, region_name: str) -> Any:
    from moto.stepfunctions.responses import get_backend

    return get_backend(account_id, region_name)


def _tags(properties: dict[str, Any]) -> list[dict[str, str]]:
    return [{"key": t["Key"], "value": t["Value"]} for t in properties.get("Tags", [])]


def _create(
    cls: Any, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str, **kwargs: Any
) -> Any:
    properties = cloudformation_json["Properties"]
    return _backend(account_id, region_name).create_state_machine(
        name=properties.get("StateMachineName", resource_name),
        definition=adapt_definition(render_definition(properties)),
        roleArn=properties.get("RoleArn", ""),
        tags=_tags(properties),
        loggingConfiguration=_logging(properties),
        sm_type=properties.get("StateMachineType", "STANDARD"),
    )


def _update(
    cls: Any,
    original_resource: Any,
    new_resource_name: str,
    cloudformation_json: Any,
    account_id: str,
    region_name: str,
) -> Any:
    properties = cloudformation_json.get("Properties", {})
    name = properties.get("StateMachineName", original_resource.name)
    backend = _backend(account_id, region_name)
    if name != original_resource.name:  # a new name replaces the machine
        replacement = _create(cls, name, cloudformation_json, account_id, region_name)
        backend.delete_state_machine(original_resource.arn)
        return replacement
    machine = backend.update_state_machine(
        original_resource.arn,
        definition=adapt_definition(render_definition(properties)),
        role_arn=properties.get("RoleArn"),
        logging_configuration=_logging(properties),
    )
    if properties.get("Tags"):
        backend.tag_resource(machine.arn, {t["Key"]: t["Value"] for t in properties["Tags"]})
    return machine


def _delete(cls: Any, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str) -> None:
    _backend(account_id, region_name).delete_state_machine(resource_name)


def _server_host() -> str:
    return LOCAL_HOST


def _cfnresponse(cls: Any, *args: Any, **kwargs: Any) -> Any:
    request, full_url, headers = args
    match = _RESPONSE_PATH.search(full_url)
    if match:  # moto reads the region from the host name: name the path's region there
        full_url = re.sub(r"^https?://[^/]+", f"https://cloudformation.{match['region']}.amazonaws.com", full_url)
    return CFN_RESPONSE.original()(cls, request, full_url, headers, **kwargs)


def install() -> None:
    SERVER_HOST.install(_server_host)
    CFN_RESPONSE.install(_cfnresponse)
    CREATE.install(_create)
    UPDATE.install(_update)
    DELETE.install(_delete)
