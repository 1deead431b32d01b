"""EventBridge: put the schedule rules a stage needs and remove the ones it no longer needs."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class ScheduleRule:
    """One EventBridge rule the schedules need (names carry the stage; targets are the dispatch Lambda)."""

    name: str
    schedule_expression: str
    description: str
    target_id: str
    input_template: str
    input_paths: dict[str, str] = field(default_factory=lambda: {"time": "$.time", "id": "$.id"})

    @property
    def input_transformer(self) -> dict[str, Any]:
        return {"InputPathsMap": dict(self.input_paths), "InputTemplate": self.input_template}


def apply_rules(events: Any, wanted: list[ScheduleRule], *, prefix: str, dispatch_arn: str) -> dict[str, Any]:
    """Put `wanted` into EventBridge and delete every other rule whose name starts with `prefix`."""
    existing: dict[str, dict[str, Any]] = {}
    for page in events.get_paginator("list_rules").paginate(NamePrefix=prefix):
        for rule in page["Rules"]:
            existing[rule["Name"]] = rule
    result: dict[str, list[str]] = {"created": [], "updated": [], "deleted": [], "unchanged": []}
    for rule in wanted:
        target = {"Id": rule.target_id, "Arn": dispatch_arn, "InputTransformer": rule.input_transformer}
        current = existing.pop(rule.name, None)
        if current is not None:
            targets = events.list_targets_by_rule(Rule=rule.name)["Targets"]
            same = (
                current.get("ScheduleExpression") == rule.schedule_expression
                and current.get("State") == "ENABLED"
                and current.get("Description", "") == rule.description
                and [_target_view(t) for t in targets] == [_target_view(target)]
            )
            if same:
                result["unchanged"].append(rule.name)
                continue
            stale = [t["Id"] for t in targets if t["Id"] != rule.target_id]
            if stale:
                events.remove_targets(Rule=rule.name, Ids=stale)
        events.put_rule(
            Name=rule.name, ScheduleExpression=rule.schedule_expression, State="ENABLED", Description=rule.description
        )
        events.put_targets(Rule=rule.name, Targets=[target])
        result["created" if current is None else "updated"].append(rule.name)
    for name in sorted(existing):
        delete_rule(events, name)
        result["deleted"].append(name)
    return result


def _target_view(target: dict[str, Any]) -> tuple[Any, ...]:
    transformer = target.get("InputTransformer") or {}
    return (
        target.get("Id"),
        target.get("Arn"),
        json.dumps(transformer.get("InputPathsMap"), sort_keys=True),
        transformer.get("InputTemplate"),
    )


def rule_names(events: Any, prefix: str) -> list[str]:
    return [
        rule["Name"]
        for page in events.get_paginator("list_rules").paginate(NamePrefix=prefix)
        for rule in page["Rules"]
    ]


def delete_rule(events: Any, name: str) -> None:
    """Remove a rule and its targets (EventBridge refuses to delete a rule that still has targets)."""
    ids = [t["Id"] for t in events.list_targets_by_rule(Rule=name)["Targets"]]
    if ids:
        events.remove_targets(Rule=name, Ids=ids)
    events.delete_rule(Name=name)
