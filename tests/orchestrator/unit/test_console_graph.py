"""The console's pure rules: which step a Task invokes, every state of a definition, each state's status from
a history, and the Map's inner states from the step rows."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from chalicelib.domain.console import (
    execution_status,
    map_item_states,
    state_runs,
    task_step,
    tenant_item_states,
    walk_states,
)
from chalicelib.domain.models import DAILY_STEPS
from chalicelib.settings import PROJECT_ROOT

STEPS = (*DAILY_STEPS, "record_tenant_failure", "start_run", "list_tenants", "finish_run", "fail_run")
T0 = datetime(2026, 12, 1, 7, 0, tzinfo=UTC)


class History:
    """Builds a history as Step Functions writes it: ids in order, each event naming the one before."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []

    def add(self, kind: str, previous: int | None = None, **details: Any) -> int:
        ident = len(self.events) + 1
        event: dict[str, Any] = {
            "id": ident,
            "previousEventId": ident - 1 if previous is None else previous,
            "type": kind,
            "timestamp": T0 + timedelta(seconds=ident),
        }
        if details:
            key = {
                "StateEntered": "stateEnteredEventDetails",
                "StateExited": "stateExitedEventDetails",
            }.get(next((k for k in ("StateEntered", "StateExited") if kind.endswith(k)), ""), "details")
            if key == "details":
                key = kind[0].lower() + kind[1:] + "EventDetails"
            event[key] = details
        self.events.append(event)
        return ident

    def task(self, name: str, outcomes: list[str]) -> int:
        self.add("TaskStateEntered", name=name, input='{"x": 1}')
        last = 0
        for outcome in outcomes:
            self.add("LambdaFunctionScheduled")
            self.add("LambdaFunctionStarted")
            if outcome == "ok":
                last = self.add("LambdaFunctionSucceeded", output="{}")
            else:
                last = self.add("LambdaFunctionFailed", error=outcome, cause=f"{outcome} happened")
        if outcomes[-1] == "ok":
            last = self.add("TaskStateExited", name=name, output='{"y": 2}')
        return last


def test_a_task_resource_names_its_step_as_an_arn_or_a_placeholder() -> None:
    arn = "arn:aws:lambda:eu-west-1:123456789012:function:bakery-orchestrator-prod-plan_production"
    assert task_step(arn, STEPS) == "plan_production"
    assert task_step("${SendDailySummaryFunctionArn}", STEPS) == "send_daily_summary"
    assert task_step("arn:aws:states:::s3:getObject", STEPS) is None


def test_every_state_of_the_daily_definition_is_found_with_its_container() -> None:
    # GIVEN the daily workflow as written
    definition = json.loads((PROJECT_ROOT / "statemachines" / "daily_operations.asl.json").read_text())
    # WHEN its states are walked
    states = {s.name: s for s in walk_states(definition, STEPS)}
    # THEN the Map's inner states and the Parallel's branch states name their container and step
    assert states["Plan the bakery's day"].parent == "For each tenant"
    assert states["Calculate procurement"].parent == "Plan the bakery's day"
    assert states["Calculate procurement"].step == "calculate_procurement"
    assert states["Plan the bakery's day"].catches and states["For each tenant"].parent is None


def test_a_failed_task_caught_by_the_catch_all_is_caught_and_the_failure_path_ran() -> None:
    # GIVEN Start run succeeded, List tenants failed three times and the Catch went to Fail run
    h = History()
    h.add("ExecutionStarted", previous=0)
    h.task("Start run", ["ok"])
    failure = h.task("List tenants", ["TransientServiceError", "TransientServiceError", "TransientServiceError"])
    h.add("TaskStateEntered", previous=failure, name="Fail run", input="{}")
    h.add("LambdaFunctionScheduled")
    h.add("LambdaFunctionStarted")
    h.add("LambdaFunctionSucceeded", output="{}")
    h.add("TaskStateExited", name="Fail run", output="{}")
    h.add("FailStateEntered", name="Run failed", input="{}")
    h.add("ExecutionFailed", error="RunFailed", cause="see error_message")
    # WHEN the states' statuses are read
    runs = state_runs(h.events)
    status = execution_status(h.events)
    # THEN the failed state is caught with its retries and error; the catch path succeeded; the Fail
    # state is where the execution failed
    listing = runs["List tenants"].view(status)
    assert status == "FAILED"
    assert (listing["status"], listing["attempts"], listing["retries"], listing["error"]) == (
        "caught",
        3,
        2,
        "TransientServiceError",
    )
    assert runs["Start run"].view(status)["status"] == "succeeded"
    assert runs["Fail run"].view(status)["status"] == "succeeded"
    assert runs["Run failed"].view(status)["status"] == "failed"
    assert "Finish run" not in runs


def test_a_task_that_succeeds_on_a_retry_is_retried_and_one_in_progress_is_running() -> None:
    h = History()
    h.add("ExecutionStarted", previous=0)
    h.task("Start run", ["Lambda.ServiceException", "ok"])
    h.add("TaskStateEntered", name="List tenants", input="{}")
    h.add("LambdaFunctionScheduled")
    runs = state_runs(h.events)
    assert execution_status(h.events) == "RUNNING"
    assert runs["Start run"].view("RUNNING")["status"] == "retried"
    assert runs["List tenants"].view("RUNNING")["status"] == "running"
    # AND stopped there, it is aborted
    h.add("ExecutionAborted", error="Cancelled", cause="cancelled by ops")
    again = state_runs(h.events)
    assert again["List tenants"].view(execution_status(h.events))["status"] == "aborted"


def test_a_tenant_user_view_hides_the_data_of_parent_states() -> None:
    h = History()
    h.add("ExecutionStarted", previous=0)
    h.task("Start run", ["ok"])
    view = state_runs(h.events)["Start run"].view("RUNNING", hide_data=True)
    assert view["input"] is None and view["output"] is None and view["status"] == "succeeded"


def _daily() -> list[Any]:
    definition = json.loads((PROJECT_ROOT / "statemachines" / "daily_operations.asl.json").read_text())
    return walk_states(definition, STEPS)


def test_map_states_over_all_tenants_come_from_the_step_counts() -> None:
    # GIVEN 10 tenants: procurement failed for one, so it never reached inventory or its summary
    counts = {s: (10, 0) for s in DAILY_STEPS}
    counts.update(calculate_procurement=(9, 1), project_inventory=(9, 0), send_daily_summary=(9, 0))
    # WHEN the Map's inner states are coloured
    views = map_item_states(
        _daily(),
        "For each tenant",
        counts=counts,
        tenants_total=10,
        tenants_failed=1,
        running=False,
        failure_step="record_tenant_failure",
    )
    # THEN the failing step is failed, the Parallel caught it, the failure was recorded
    assert views["Calculate procurement"] == {"status": "failed", "succeeded": 9, "failed": 1, "total": 10}
    assert views["Generate forecasts"]["status"] == "succeeded"
    assert views["Project inventory"]["status"] == "succeeded"  # every tenant that got there
    assert views["Plan the bakery's day"]["status"] == "caught"
    assert views["Record tenant failure"]["status"] == "succeeded"


def test_map_states_while_running_and_for_one_tenant() -> None:
    # GIVEN a run in progress where 4 of 10 tenants generated forecasts
    views = map_item_states(
        _daily(),
        "For each tenant",
        counts={"generate_forecasts": (4, 0)},
        tenants_total=10,
        tenants_failed=0,
        running=True,
        failure_step="record_tenant_failure",
    )
    assert views["Generate forecasts"]["status"] == "running"
    assert views["Record tenant failure"]["status"] == "not_started"
    assert views["Plan the bakery's day"]["status"] == "running"
    # AND for one tenant that failed at plan_production, its own rows decide
    mine = tenant_item_states(
        _daily(),
        "For each tenant",
        steps={
            "generate_forecasts": {"status": "completed", "duration_ms": 120.0, "result": {"forecast_id": "f"}},
            "plan_production": {"status": "failed", "error_type": "PermanentServiceError", "error_message": "400"},
        },
        running=True,
        failure_step="record_tenant_failure",
    )
    assert mine["Plan production"]["status"] == "failed" and mine["Plan production"]["error"] == "PermanentServiceError"
    assert mine["Generate forecasts"]["duration_ms"] == 120.0
    assert mine["Calculate procurement"]["status"] == "not_started"
    assert mine["Record tenant failure"]["status"] == "succeeded"
    assert mine["Plan the bakery's day"]["status"] == "caught"
