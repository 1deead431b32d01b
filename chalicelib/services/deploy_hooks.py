"""What a deployment does once its resources exist (CloudFormation custom resources call these through the
`migrate` function): the database schema and the seeded workflows first, then the schedule rules.

Both are idempotent: `upgrade head` does nothing on a current schema, the seeds never overwrite an
operator's workflow, the reconcile leaves equal rules alone. On stack deletion the database is kept
(data is never dropped by a deploy) and the stage's schedule rules are removed (they are not stack
resources, and would otherwise fire at a deleted dispatcher).
"""

from __future__ import annotations

from typing import Any

from chalicelib.db.engine import session_scope
from chalicelib.db.migrate import upgrade
from chalicelib.db.workflows import ensure_default_workflows
from chalicelib.errors import InvalidInputError
from chalicelib.observability import get_logger
from chalicelib.settings import get_settings


def migrate_database() -> dict[str, str]:
    upgrade()
    with session_scope() as session:
        seeded = ensure_default_workflows(session)
    get_logger().info("database migrated", extra={"seeded": seeded})
    return {"Revision": "head", "Seeded": ",".join(seeded)}


def install_schedules() -> dict[str, str]:
    from chalicelib.services.scheduling import reconcile_rules

    result = reconcile_rules()
    return {
        "Rules": ",".join(sorted(result["created"] + result["updated"] + result["unchanged"])),
        "Deleted": ",".join(result["deleted"]),
        "Skipped": ",".join(s["workflow_name"] for s in result["skipped"]),
    }


def remove_schedules(events: Any = None) -> dict[str, str]:
    from chalicelib.adapters.eventbridge import delete_rule, rule_names
    from chalicelib.services.scheduling import rule_prefix

    if events is None:
        import boto3

        events = boto3.client("events")
    names = rule_names(events, rule_prefix(get_settings().stage))
    for name in names:
        delete_rule(events, name)
    return {"Deleted": ",".join(names)}


def run_hook(action: str, request_type: str) -> dict[str, str]:
    """One custom resource request -> the data CloudFormation records (string values only). `deploy`: the
    schema and seeds, then the schedule rules (in this order: the reconcile reads the workflows table)."""
    if action != "deploy":
        raise InvalidInputError(f"ResourceProperties.Action: expected 'deploy', got {action!r}")
    if request_type == "Delete":
        return remove_schedules()
    return {**migrate_database(), **install_schedules()}
