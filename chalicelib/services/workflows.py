"""Workflow settings that live in the state machine, not only in the table: the per-tenant steps' retry
policy (max_retries, retry_delay_seconds), written into the definition by UpdateStateMachine."""

from __future__ import annotations

import os
from typing import Any

from chalicelib.adapters.stepfunctions import Executions
from chalicelib.db.engine import session_scope
from chalicelib.db.workflows import get_workflow
from chalicelib.domain.retry import tenant_retry, with_tenant_retry
from chalicelib.errors import InvalidInputError


def apply_retry_policy(workflow_name: str, *, executions: Executions | None = None) -> dict[str, Any]:
    """Make the workflow's own state machine retry as its row says; returns what was done.

    Only a workflow with a state machine of its own (`<NAME>_STATE_MACHINE_ARN`) carries its policy: an
    operator's variant that runs on the daily machine retries as `daily_operations` does.
    """
    with session_scope() as session:
        workflow = get_workflow(session, workflow_name)
        if workflow is None:
            raise InvalidInputError(f"workflow_name: unknown workflow {workflow_name!r}")
        wanted = (workflow.max_retries, workflow.retry_delay_seconds)
    machine = os.environ.get(f"{workflow_name.upper()}_STATE_MACHINE_ARN", "")
    if not machine:
        return {"status": "not_applicable", "reason": "the workflow runs on another workflow's state machine"}
    executions = executions or Executions()
    current = executions.definition(machine)
    if tenant_retry(current) == wanted:
        return {"status": "unchanged", "max_retries": wanted[0], "retry_delay_seconds": wanted[1]}
    executions.update_definition(machine, with_tenant_retry(current, max_retries=wanted[0], delay_seconds=wanted[1]))
    return {"status": "updated", "max_retries": wanted[0], "retry_delay_seconds": wanted[1]}
