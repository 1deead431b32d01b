"""Every ASL file parses, every placeholder has a value, every Task retries and has a timeout."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from infra import resources

LAMBDA_ERRORS = {
    "Lambda.ServiceException",
    "Lambda.AWSLambdaException",
    "Lambda.SdkClientException",
    "Lambda.TooManyRequestsException",
}


def _states(definition: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for name, state in definition["States"].items():
        yield name, state
        for branch in state.get("Branches", []):
            yield from _states(branch)
        for key in ("ItemProcessor", "Iterator"):
            if key in state:
                yield from _states(state[key])


@pytest.fixture(params=resources.state_machines(), ids=lambda m: m.workflow)
def machine(request: pytest.FixtureRequest) -> resources.StateMachineSpec:
    return request.param


def test_every_placeholder_names_a_deployed_function(machine: resources.StateMachineSpec) -> None:
    # GIVEN the functions app.py declares
    arns = {f.name: f"arn:aws:lambda:eu-west-1:000000000000:function:{f.name}" for f in resources.functions()}
    # WHEN the definition is rendered
    rendered = resources.render_definition(machine, resources.substitutions(machine, arns))
    # THEN no placeholder is left and the result is valid JSON
    assert "${" not in rendered
    json.loads(rendered)


def test_missing_placeholder_value_fails_loudly(machine: resources.StateMachineSpec) -> None:
    with pytest.raises(KeyError, match="no value for placeholders"):
        resources.substitutions(machine, {})


def test_every_task_has_timeout_retry_and_no_hard_coded_arn(machine: resources.StateMachineSpec) -> None:
    definition = json.loads(machine.definition())
    tasks = [(name, state) for name, state in _states(definition) if state["Type"] == "Task"]
    assert tasks
    for name, state in tasks:
        assert state["Resource"].startswith("${"), f"{name}: ARN must be a placeholder"
        assert state.get("TimeoutSeconds", 0) > 0, f"{name}: no TimeoutSeconds"
        retried = {e for r in state.get("Retry", []) for e in r["ErrorEquals"]}
        assert retried >= LAMBDA_ERRORS, f"{name}: does not retry Lambda service errors"


def test_each_tenant_failure_is_caught_inside_the_map(machine: resources.StateMachineSpec) -> None:
    definition = json.loads(machine.definition())
    fan_out = definition["States"]["For each tenant"]
    inner = fan_out["ItemProcessor"]["States"]
    for name, state in inner.items():
        if name == "Record tenant failure":
            continue
        assert any(c["Next"] == "Record tenant failure" for c in state.get("Catch", [])), name
    # AND the Map keeps no per-tenant results in the state (they live in the database)
    assert fan_out["ResultPath"] is None


def test_rules_target_deployed_functions() -> None:
    names = {f.name for f in resources.functions()}
    rules = resources.rules()
    assert rules and {r.target_function for r in rules} <= names
