"""Counts a run leaves in its Step Functions histories (parent + Distributed Map children), for the cost."""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from typing import Any

LAMBDA_DONE = ("LambdaFunctionSucceeded", "LambdaFunctionFailed", "LambdaFunctionTimedOut")


def split_executions(events: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """`Stack.history` is the parent's events then each child's; every execution opens with ExecutionStarted."""
    executions: list[list[dict[str, Any]]] = []
    for event in events:
        if event["type"] == "ExecutionStarted" or not executions:
            executions.append([])
        executions[-1].append(event)
    return executions


def _ms(start: datetime, end: datetime) -> float:
    return max(0.0, (end - start).total_seconds() * 1000)


def _lambda_calls(events: list[dict[str, Any]]) -> list[tuple[str, float]]:
    """(function ARN, duration ms) per LambdaFunctionScheduled, paired through previousEventId."""
    started_after = {e["previousEventId"]: e for e in events if e["type"] == "LambdaFunctionStarted"}
    done_after = {e["previousEventId"]: e for e in events if e["type"] in LAMBDA_DONE}
    calls = []
    for event in events:
        if event["type"] != "LambdaFunctionScheduled":
            continue
        resource = event.get("lambdaFunctionScheduledEventDetails", {}).get("resource", "")
        started = started_after.get(event["id"])
        done = done_after.get(started["id"]) if started else None
        calls.append((resource, _ms(started["timestamp"], done["timestamp"]) if started and done else 0.0))
    return calls


def _transitions(events: list[dict[str, Any]]) -> int:
    """States entered plus task retries (each retried attempt is billed as a transition too)."""
    types = Counter(e["type"] for e in events)
    entered = sum(n for t, n in types.items() if t.endswith("StateEntered"))
    retries = max(0, types["LambdaFunctionScheduled"] - types["TaskStateEntered"])
    return entered + retries


def run_counts(events: list[dict[str, Any]], memory_of: dict[str, int], *, tenants: int) -> dict[str, Any]:
    """The counts `chalicelib.domain.costs.estimate_run_cost` takes (S3 and the clock's invocations added by the caller).

    `memory_of` maps a function's name (`generate_forecasts`) to its memory in MB; a Lambda ARN ends with
    `function:<app>-<stage>-<name>`.
    """
    executions = split_executions(events)
    parent, children = (executions[0], executions[1:]) if executions else ([], [])
    invocations: list[tuple[int, float]] = []
    names: list[str] = []  # the function of each invocation (same order)
    per_function: Counter[str] = Counter()
    for execution in executions:
        for arn, duration in _lambda_calls(execution):
            name = next((n for n in sorted(memory_of, key=len, reverse=True) if arn.endswith(f"-{n}")), "")
            per_function[name or arn] += 1
            invocations.append((memory_of.get(name, 128), duration))
            names.append(name)
    express = [_ms(child[0]["timestamp"], child[-1]["timestamp"]) for child in children if child]
    return {
        "tenants": tenants,
        # AWS bills the Distributed Map one parent transition per child execution it starts.
        "state_transitions": _transitions(parent) + len(children),
        "parent_transitions": _transitions(parent),
        "child_executions": len(children),
        "child_states_entered": sum(_transitions(c) for c in children),
        "express_durations_ms": express,
        "lambda_invocations": invocations,
        "lambda_functions": names,
        "lambda_requests_by_function": dict(per_function),
        "history_events": len(events),
    }
