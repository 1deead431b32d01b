"""Who may do what: the one description of every role's permissions, rendered by `infra.template` (the
CloudFormation roles, ARNs as `Fn::Sub`) and by `infra.deploy` (IAM roles with concrete ARNs).

Each function gets its own role. Every grant names the code that needs it (`why`); a grant with no code
behind it does not belong here. Resources are symbolic (`Res`) so the two renderers agree; a `*`
resource appears only where AWS offers no resource-level permission for the action, and says so.

The rules every function follows:
- logs: write to its own log group only (the template creates the group, so no logs:CreateLogGroup);
- secrets: `secretsmanager:GetSecretValue` on exactly the secrets its settings read at cold start
  (`SECRETS_OF`; `chalicelib/adapters/secrets.py`): the database and Redis URLs for every function, the
  RabbitMQ URL for the bridge and the API (health), `JWT_SECRET` for the API alone;
- VPC: the network-interface actions Lambda needs to attach a function to the VPC (only when the stack
  is given subnets).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

API_FUNCTION = "api_handler"  # Chalice's name for the function behind API Gateway


class Res(Enum):
    """The resources a grant can name (rendered per target by the template and the deploy)."""

    ANY = "*"  # only where the action has no resource-level permission (each use says why)
    STATE_MACHINES = "state machines of the stage"
    EXECUTIONS = "executions of the stage's state machines"
    MAP_CHILD_EXECUTIONS = "Distributed Map child executions of the stage's state machines"
    MAP_RUNS = "Distributed Map runs of the stage's state machines"
    MANIFEST_OBJECTS = "objects under manifests/ in the manifest bucket"
    SCHEDULE_RULES = "the stage's schedule rules (bakery-orchestrator-<stage>-sched-*)"
    OWN_LOG_GROUP = "the function's own log group"
    ASL_FUNCTIONS = "the functions the state machine's tasks call"


@dataclass(frozen=True)
class Grant:
    actions: tuple[str, ...]
    resources: tuple[Res, ...]
    why: str  # the code that needs it
    comment: str = ""  # why the resource is what it is (required for Res.ANY)


@dataclass(frozen=True)
class SecretGrant:
    setting: str  # e.g. "DATABASE_URL": the function's env carries DATABASE_URL_SECRET_ARN
    why: str


LOGS = Grant(
    ("logs:CreateLogStream", "logs:PutLogEvents"),
    (Res.OWN_LOG_GROUP,),
    "the Lambda runtime writes the function's log lines (Powertools Logger, chalicelib/observability.py)",
)
VPC_NETWORK_INTERFACES = Grant(
    (
        "ec2:CreateNetworkInterface",
        "ec2:DescribeNetworkInterfaces",
        "ec2:DeleteNetworkInterface",
        "ec2:AssignPrivateIpAddresses",
        "ec2:UnassignPrivateIpAddresses",
    ),
    (Res.ANY,),
    "Lambda attaches the function to the stack's subnets to reach Postgres, Redis and RabbitMQ",
    comment="EC2 network-interface actions have no resource-level permissions for Lambda's use (as in "
    "AWSLambdaVPCAccessExecutionRole); granted only when the stack is given subnets",
)

_RULE_ACTIONS = Grant(
    ("events:PutRule", "events:PutTargets", "events:RemoveTargets", "events:DeleteRule", "events:ListTargetsByRule"),
    (Res.SCHEDULE_RULES,),
    "services/scheduling.reconcile_rules -> adapters/eventbridge.apply_rules / delete_rule",
)
_LIST_RULES = Grant(
    ("events:ListRules",),
    (Res.ANY,),
    "adapters/eventbridge.apply_rules / rule_names list the stage's rules by name prefix",
    comment="events:ListRules has no resource-level permission; it reveals rule names, nothing else",
)

# What each function's code calls beyond logs and its secrets. A function not listed calls nothing else.
FUNCTION_GRANTS: dict[str, tuple[Grant, ...]] = {
    "dispatch": (
        Grant(
            ("states:StartExecution",),
            (Res.STATE_MACHINES,),
            "services/runs.start_run -> adapters/stepfunctions.Executions.start",
        ),
        Grant(
            ("states:DescribeExecution",),
            (Res.EXECUTIONS,),
            "services/runs._describe: the state of a run whose name already exists",
        ),
        # services/dispatch.sweep reconciles the schedule rules on every catch-up sweep (drift repair).
        _RULE_ACTIONS,
        _LIST_RULES,
    ),
    "list_tenants": (
        Grant(
            ("s3:PutObject",),
            (Res.MANIFEST_OBJECTS,),
            "services/runs.list_run_tenants -> adapters/manifests.write_manifest (the Distributed Map's items)",
        ),
    ),
    "publish_events": (
        Grant(
            ("states:StopExecution",),
            (Res.EXECUTIONS,),
            "services/watchdog._stop_state_machine (the every-minute rule stops runs past their limit)",
        ),
    ),
    "migrate": (_RULE_ACTIONS, _LIST_RULES),
    API_FUNCTION: (
        Grant(
            ("states:StartExecution",),
            (Res.STATE_MACHINES,),
            "POST /workflows/{id}/execute and POST /executions/{id}/retry -> services/runs.start_run",
        ),
        Grant(
            ("states:DescribeExecution",),
            (Res.EXECUTIONS,),
            "services/runs._describe when a manual run or a retry names an execution that exists",
        ),
        Grant(
            ("states:DescribeStateMachine",),
            (Res.STATE_MACHINES,),
            "GET /health -> adapters/stepfunctions.describe_state_machine; PUT /workflows/{id} (retry policy) "
            "-> services/workflows.apply_retry_policy reads the definition",
        ),
        Grant(
            ("states:UpdateStateMachine",),
            (Res.STATE_MACHINES,),
            "PUT /workflows/{id} with max_retries/retry_delay_seconds -> services/workflows.apply_retry_policy",
        ),
        Grant(
            ("states:StopExecution",),
            (Res.EXECUTIONS,),
            "POST /executions/{id}/cancel -> services/runs (Executions.stop)",
        ),
        Grant(
            ("states:GetExecutionHistory", "states:DescribeStateMachineForExecution"),
            (Res.EXECUTIONS,),
            "GET /executions/{id}/graph and /history -> services/console (Executions.history, definition_for)",
        ),
        Grant(
            ("states:DescribeMapRun",),
            (Res.MAP_RUNS,),
            "GET /executions/{id}/graph -> services/console (Executions.map_run: the Map's item counts)",
        ),
        Grant(
            ("s3:GetObject",),
            (Res.MANIFEST_OBJECTS,),
            "GET /executions/{id}/tenants -> services/console -> adapters/manifests.read_manifest",
        ),
        _RULE_ACTIONS,
        _LIST_RULES,
    ),
}

_CONNECTIONS = ("DATABASE_URL", "REDIS_URL")


def secrets_of(function: str) -> tuple[SecretGrant, ...]:
    """The secrets a function's settings read at cold start."""
    grants = [
        SecretGrant(name, "chalicelib/db/engine (every function records or reads runs)")
        if name == "DATABASE_URL"
        else SecretGrant(name, "chalicelib/adapters/redis_client (locks, step cache, platform semaphore)")
        for name in _CONNECTIONS
    ]
    if function in ("publish_events", API_FUNCTION):
        grants.append(
            SecretGrant("RABBITMQ_URL", "adapters/events (the bridge publishes; GET /health checks the broker)")
        )
    if function == API_FUNCTION:
        grants.append(SecretGrant("JWT_SECRET", "chalicelib/api/auth.HS256Verifier (the API's bearer tokens)"))
    return tuple(grants)


# The state machine's own role (Step Functions runs the tasks and the Distributed Map with it).
STATE_MACHINE_GRANTS: tuple[Grant, ...] = (
    Grant(
        ("lambda:InvokeFunction",),
        (Res.ASL_FUNCTIONS,),
        "every Task of the ASL (its ${...FunctionArn} placeholders), nothing else",
    ),
    Grant(
        ("s3:GetObject",),
        (Res.MANIFEST_OBJECTS,),
        "the Distributed Map's ItemReader (arn:aws:states:::s3:getObject) reads the tenant manifest",
    ),
    Grant(
        ("states:StartExecution",),
        (Res.STATE_MACHINES,),
        "the Distributed Map starts its child executions of the same state machine",
    ),
    Grant(
        ("states:DescribeExecution", "states:StopExecution"),
        (Res.MAP_CHILD_EXECUTIONS,),
        "the Distributed Map follows and, on failure past its tolerance, stops its child executions",
    ),
    Grant(
        (
            "logs:CreateLogDelivery",
            "logs:GetLogDelivery",
            "logs:UpdateLogDelivery",
            "logs:DeleteLogDelivery",
            "logs:ListLogDeliveries",
            "logs:PutResourcePolicy",
            "logs:DescribeResourcePolicies",
            "logs:DescribeLogGroups",
        ),
        (Res.ANY,),
        "the state machine's LoggingConfiguration (the EXPRESS Map children's only record is this log)",
        comment="CloudWatch Logs vended-log delivery actions support no resource-level permissions "
        "(Step Functions documentation, 'IAM policies for logging to CloudWatch Logs')",
    ),
)


def grants_of(function: str) -> tuple[Grant, ...]:
    """Everything the function's role allows besides its secrets and the VPC interfaces."""
    return (LOGS, *FUNCTION_GRANTS.get(function, ()))
