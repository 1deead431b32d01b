"""A workflow's retry policy inside its state machine: the per-tenant steps retry a transient failure
`max_retries` times, the first after `retry_delay_seconds`, doubling after that (backoff 2.0, full jitter).

ASL retry values are static numbers, so the policy is written into the definition: at package and deploy
time from the seeded workflow, and by UpdateStateMachine when an operator changes the workflow. One
function does both, on the definition's text.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

# The retrier the policy governs: transient failures of a tenant's step (a service answering 5xx, timing
# out, a step Lambda timing out). Lambda's own service errors and database errors keep their fixed retries.
TRANSIENT = "TransientServiceError"
BACKOFF_RATE = 2.0


def _tenant_tasks(states: dict[str, Any], *, inside_map: bool = False) -> Iterator[dict[str, Any]]:
    for state in states.values():
        if state.get("Type") == "Task" and inside_map:
            yield state
        if state.get("Type") == "Map":
            processor = state.get("ItemProcessor") or state.get("Iterator") or {}
            yield from _tenant_tasks(processor.get("States", {}), inside_map=True)
        for branch in state.get("Branches", []):
            yield from _tenant_tasks(branch.get("States", {}), inside_map=inside_map)


def _retriers(definition: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for task in _tenant_tasks(definition.get("States", {})):
        for retrier in task.get("Retry", []):
            if TRANSIENT in retrier.get("ErrorEquals", []):
                yield retrier


def with_tenant_retry(definition: str, *, max_retries: int, delay_seconds: int) -> str:
    """The definition with every per-tenant step's transient-failure retrier set to the policy."""
    if max_retries < 0 or delay_seconds < 1:
        raise ValueError(
            f"retry policy: max_retries >= 0 and retry_delay_seconds >= 1, got {max_retries}, {delay_seconds}"
        )
    document = json.loads(definition)
    found = False
    for retrier in _retriers(document):
        found = True
        retrier.update(IntervalSeconds=delay_seconds, MaxAttempts=max_retries, BackoffRate=BACKOFF_RATE)
        retrier.pop("MaxDelaySeconds", None)  # the doubling is the workflow's, not capped
    if not found:
        raise ValueError(f"the definition has no per-tenant step retrying {TRANSIENT}")
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def tenant_retry(definition: str) -> tuple[int, int]:
    """(max_retries, retry_delay_seconds) the definition's per-tenant steps use now."""
    policies = {(int(r["MaxAttempts"]), int(r["IntervalSeconds"])) for r in _retriers(json.loads(definition))}
    if len(policies) != 1:
        raise ValueError(f"the per-tenant steps disagree on their retry policy: {sorted(policies)}")
    return policies.pop()
