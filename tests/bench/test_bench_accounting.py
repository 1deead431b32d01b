"""The benchmark's reading of a run's histories into the counts the cost estimate takes (bench.accounting)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from bench.accounting import run_counts, split_executions

T0 = datetime(2026, 11, 30, 7, 0, tzinfo=UTC)
ARN = "arn:aws:lambda:eu-west-1:123456789012:function:bakery-orchestrator-bench-"


def _history(*specs: tuple[str, int, dict[str, Any] | None]) -> list[dict[str, Any]]:
    """(type, ms after T0, details) -> events with ids and previousEventId chained in order."""
    events = []
    for i, (kind, ms, details) in enumerate(specs, start=1):
        event = {"id": i, "previousEventId": i - 1, "type": kind, "timestamp": T0 + timedelta(milliseconds=ms)}
        event.update(details or {})
        events.append(event)
    return events


def _task(name: str, start: int, ms: int, *, retries: int = 0) -> list[tuple[str, int, dict[str, Any] | None]]:
    out: list[tuple[str, int, dict[str, Any] | None]] = [("TaskStateEntered", start, None)]
    for attempt in range(retries + 1):
        at = start + attempt * (ms + 1)
        out += [
            ("LambdaFunctionScheduled", at, {"lambdaFunctionScheduledEventDetails": {"resource": ARN + name}}),
            ("LambdaFunctionStarted", at, None),
            ("LambdaFunctionFailed" if attempt < retries else "LambdaFunctionSucceeded", at + ms, None),
        ]
    return out + [("TaskStateExited", start + (retries + 1) * (ms + 1), None)]


def test_parent_and_children_become_transitions_express_durations_and_lambda_calls() -> None:
    parent = _history(
        ("ExecutionStarted", 0, None),
        *_task("start_run", 1, 10, retries=1),
        ("MapStateEntered", 30, None),
        ("MapStateExited", 500, None),
        ("SucceedStateEntered", 501, None),
        ("ExecutionSucceeded", 502, None),
    )
    child = _history(
        ("ExecutionStarted", 40, None), *_task("generate_forecasts", 41, 20), ("ExecutionSucceeded", 340, None)
    )
    events = parent + child
    assert [len(e) for e in split_executions(events)] == [len(parent), len(child)]

    counts = run_counts(events, {"start_run": 256, "generate_forecasts": 512}, tenants=1)
    # Parent: Task + Map + Succeed entered, plus one retried attempt; plus one transition per child started.
    assert counts["parent_transitions"] == 4
    assert counts["state_transitions"] == 5
    assert counts["child_executions"] == 1
    assert counts["express_durations_ms"] == [300.0]
    assert counts["lambda_invocations"] == [(256, 10.0), (256, 10.0), (512, 20.0)]
    assert counts["lambda_functions"] == ["start_run", "start_run", "generate_forecasts"]
    assert counts["lambda_requests_by_function"] == {"start_run": 2, "generate_forecasts": 1}
