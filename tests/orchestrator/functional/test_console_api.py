"""The console's routes through chalice.test.Client against real runs on the local cloud (embedded defaults):
the graph of an execution with each state's status, its history, the Map's tenants, cancelling a run, and
the page with its static files.

Dates: this module uses 2029 (manual runs `daily_operations-europe-madrid-2029-..-manual`).
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from sqlalchemy import select

from chalicelib.api.auth import issue_token
from chalicelib.db.engine import session_scope
from chalicelib.db.models import Execution, ExecutionLog, OutboxEvent
from tests.orchestrator.functional.test_api_routes import ADMIN, Api, madrid_tenants, tenant_token, wait_until


def standalone(stack: Any) -> list[dict[str, Any]]:
    """Madrid tenants outside the enterprise group (whose runs the enterprise tests count)."""
    return [
        t for t in madrid_tenants(stack) if not t.get("parent_tenant_id") and t["subscription_tier"] != "enterprise"
    ]


@pytest.fixture(scope="module")
def failed_run(stack: Any) -> dict[str, Any]:
    """A manual run of two Madrid tenants where procurement fails (every retry) for the first."""
    from chalice.test import Client

    from app import app

    victim, healthy = (t["id"] for t in standalone(stack)[4:6])
    stack.simulator.state.set_fault("procurement", status_code=500, error_rate=1.0, tenant_ids=[victim])
    try:
        with Client(app, stage_name="local") as client:
            status, body = Api(client.http).post(
                "/workflows/daily_operations/execute", {"tenant_ids": [victim, healthy], "run_date": "2029-01-10"}
            )
        assert status == 202, body
        summary = stack.wait(body["runs"][0]["execution_name"], timeout=180).summary
    finally:
        stack.simulator.state.clear_faults()
    assert summary["status"] == "completed_with_failures"
    return {**summary, "victim": victim, "healthy": healthy}


def test_graph_colours_each_state_from_the_history_and_the_failed_step_from_the_step_rows(
    api: Api, failed_run: dict[str, Any]
) -> None:
    # WHEN an operator reads the graph of a run in which one tenant failed at procurement
    status, graph = api.get(f"/executions/{failed_run['execution_id']}/graph")
    # THEN it carries the definition the execution ran and every state's status
    assert status == 200, graph
    assert graph["sfn_status"] == "SUCCEEDED" and graph["definition"]["StartAt"] == "Start run"
    states = graph["states"]
    assert {n: states[n]["status"] for n in ("Start run", "List tenants", "For each tenant", "Finish run")} == {
        "Start run": "succeeded",
        "List tenants": "succeeded",
        "For each tenant": "succeeded",
        "Finish run": "succeeded",
    }
    assert states["Fail run"]["status"] == "not_started"
    # AND the parent's states show their input and output from the history
    assert '"workflow_name"' in states["Start run"]["input"] and states["Start run"]["attempts"] == 1
    # AND inside the Map: procurement failed for one of two tenants, the Parallel caught it, the failure
    # was recorded, the steps before it succeeded for both
    procurement = states["Calculate procurement"]
    assert (procurement["status"], procurement["succeeded"], procurement["failed"], procurement["total"]) == (
        "failed",
        1,
        1,
        2,
    )
    assert states["Plan the bakery's day"]["status"] == "caught"
    assert states["Record tenant failure"]["status"] == "succeeded"
    assert states["Generate forecasts"]["status"] == "succeeded"
    assert graph["map"]["map_run_arn"] and graph["map"]["state"] == "For each tenant"
    # AND for the failed tenant alone, its failing step carries the error
    status, mine = api.get(f"/executions/{failed_run['execution_id']}/graph?tenant_id={failed_run['victim']}")
    assert status == 200
    assert mine["states"]["Calculate procurement"]["status"] == "failed"
    assert mine["states"]["Calculate procurement"]["error"] == "TransientServiceError"
    assert "procurement service answered 500" in mine["states"]["Calculate procurement"]["cause"]
    assert mine["states"]["Project inventory"]["status"] == "not_started"
    assert mine["states"]["Generate forecasts"]["output"]


def test_tenants_of_the_map_page_search_and_filter(api: Api, failed_run: dict[str, Any]) -> None:
    path = f"/executions/{failed_run['execution_id']}/tenants"
    # WHEN the tenant table is read
    status, page = api.get(path)
    # THEN both tenants are there in Map order with their status, the failed one with its step and error
    assert status == 200, page
    assert page["total"] == 2 and page["counts"]["failed"] == 1 and page["counts"]["completed"] == 1
    rows = {t["tenant_id"]: t for t in page["tenants"]}
    victim = rows[failed_run["victim"]]
    assert (victim["status"], victim["failed_step"], victim["error_type"]) == (
        "failed",
        "calculate_procurement",
        "TransientServiceError",
    )
    assert victim["name"] and rows[failed_run["healthy"]]["steps_completed"] == 6
    # AND it filters by status, searches by part of the name, and pages
    _, failed = api.get(f"{path}?status=failed")
    assert [t["tenant_id"] for t in failed["tenants"]] == [failed_run["victim"]]
    _, found = api.get(f"{path}?search={victim['name'][2:8].upper()}")
    assert failed_run["victim"] in [t["tenant_id"] for t in found["tenants"]]
    _, first = api.get(f"{path}?limit=1")
    _, second = api.get(f"{path}?limit=1&cursor={first['next_cursor']}")
    assert first["next_cursor"] == 1 and second["next_cursor"] is None
    assert {first["tenants"][0]["tenant_id"], second["tenants"][0]["tenant_id"]} == set(rows)


def test_history_pages_by_event_id(api: Api, failed_run: dict[str, Any]) -> None:
    path = f"/executions/{failed_run['execution_id']}/history"
    # WHEN the history is read five events at a time
    status, first = api.get(f"{path}?limit=5")
    _, second = api.get(f"{path}?limit=5&after={first['next_cursor']}")
    # THEN the pages follow each other and start with the execution's start
    assert status == 200 and first["events"][0]["type"] == "ExecutionStarted"
    assert [e["id"] for e in first["events"]] == [1, 2, 3, 4, 5] and second["events"][0]["id"] == 6
    assert first["total"] > 10 and first["events"][1]["state"] == "Start run"


def test_a_tenant_sees_its_own_row_and_the_graph_without_other_tenants_data(
    api: Api, failed_run: dict[str, Any]
) -> None:
    # GIVEN the healthy tenant's token, and a tenant that was not in the run
    mine = tenant_token(failed_run["healthy"], role="tenant_user")
    stranger = tenant_token("00000000-0000-0000-0000-00000000dead")
    execution = failed_run["execution_id"]
    # WHEN it reads the console routes of that run
    _, tenants = api.get(f"/executions/{execution}/tenants", token=mine)
    _, graph = api.get(f"/executions/{execution}/graph?tenant_id={failed_run['victim']}", token=mine)
    _, history = api.get(f"/executions/{execution}/history", token=mine)
    # THEN it sees only its own row, the Map coloured for itself, and no state data
    assert [t["tenant_id"] for t in tenants["tenants"]] == [failed_run["healthy"]] and tenants["total"] == 1
    assert graph["map"]["tenant_id"] == failed_run["healthy"]
    assert graph["states"]["Calculate procurement"]["status"] == "succeeded"
    assert graph["states"]["Start run"]["input"] is None and graph["states"]["Start run"]["status"] == "succeeded"
    assert history["count"] > 0 and all(e["details"] is None for e in history["events"])
    # AND a tenant that was not in it gets 404 from each
    for path in ("graph", "tenants", "history"):
        status, body = api.get(f"/executions/{execution}/{path}", token=stranger)
        assert status == 404 and body["error"] == "not_found", (path, body)


def test_console_routes_refuse_bad_ids_and_unknown_executions(api: Api) -> None:
    for path in ("graph", "tenants", "history"):
        status, body = api.get(f"/executions/not-a-uuid/{path}")
        assert status == 400 and body["field"] == "execution_id"
        status, body = api.get(f"/executions/{uuid.uuid4()}/{path}")
        assert status == 404
    status, body = api.get(f"/executions/{uuid.uuid4()}/tenants?status=exploded")
    assert status == 400 and body["field"] == "status"


def test_cancel_stops_the_run_closes_it_cancelled_once_and_releases_its_lock(
    api: Api, stack: Any, simulator: Any
) -> None:
    from chalicelib.adapters.locks import RunLocks
    from chalicelib.domain.models import RunRef
    from chalicelib.services.runs import finish_run

    # GIVEN a run whose forecasts hang, so it is still running
    tenants = [t["id"] for t in standalone(stack)[2:4]]
    simulator.state.set_fault("forecasting", hang_seconds=6.0)
    status, body = api.post("/workflows/daily_operations/execute", {"tenant_ids": tenants, "run_date": "2029-02-11"})
    assert status == 202, body
    name = body["runs"][0]["execution_name"]
    execution_id = wait_until(lambda: _running_id(name), timeout=60)
    # WHEN a tenant admin tries to cancel it, and then an operator does, with a reason
    status, refused = api.post(f"/executions/{execution_id}/cancel", token=tenant_token(tenants[0]))
    assert status == 403, refused
    operator = issue_token(subject="ops-jane", role="platform_admin")
    status, cancelled = api.post(f"/executions/{execution_id}/cancel", {"reason": "wrong date"}, token=operator)
    # THEN it is cancelled by her: stopped in Step Functions, lock released
    assert status == 200, cancelled
    assert (cancelled["status"], cancelled["cancelled_by"]) == ("cancelled", "ops-jane")
    assert cancelled["state_machine_stopped"] and cancelled["lock_released"]
    sfn = stack.cloud.client("stepfunctions")
    # (moto's StopExecution takes effect when the interpreter next looks: poll)
    arn = stack.execution_arn(name)
    wait_until(lambda: sfn.describe_execution(executionArn=arn)["status"] == "ABORTED", timeout=60)
    assert RunLocks().holder(RunLocks().key("daily_operations", "Europe/Madrid")) is None
    # AND a second cancel is a conflict, an unknown one is not found
    status, again = api.post(f"/executions/{execution_id}/cancel", token=operator)
    assert status == 409 and again["error"] == "execution_not_running"
    assert api.post(f"/executions/{uuid.uuid4()}/cancel")[0] == 404
    # AND a FinishRun arriving late (it raced the cancel) does not close it a second time
    with session_scope() as session:
        row = session.get(Execution, uuid.UUID(execution_id))
        late = RunRef(
            execution_id=execution_id,
            execution_name=name,
            workflow_name=row.workflow_name,
            scope=row.scope,
            run_date=row.run_date,
            fencing_token=row.fencing_token,
            lock_key=RunLocks().key("daily_operations", "Europe/Madrid"),
        )
    assert finish_run(late)["status"] == "cancelled"
    # THEN the run is closed once: status, reason, who
    with session_scope() as session:
        row = session.get(Execution, uuid.UUID(execution_id))
        events = session.scalars(select(OutboxEvent).where(OutboxEvent.aggregate_id == execution_id)).all()
        logs = session.scalars(
            select(ExecutionLog).where(ExecutionLog.execution_id == row.id, ExecutionLog.step_name == "cancel")
        ).all()
        assert row.status == "cancelled" and row.error_message == "cancelled by ops-jane: wrong date"
        assert row.result_summary["cancelled_by"] == "ops-jane"
    assert [(e.event_type, e.payload["error_message"]) for e in events] == [
        ("orchestrator_workflow_failed", "cancelled by ops-jane: wrong date")
    ]
    assert [log.data["cancelled_by"] for log in logs] == ["ops-jane"]
    # AND the list shows it cancelled
    _, page = api.get("/executions?status=cancelled&date_from=2029-02-11&date_to=2029-02-11", token=ADMIN)
    assert [e["execution_name"] for e in page["executions"]] == [name]


def _running_id(name: str) -> str | None:
    with session_scope() as session:
        row = session.scalar(select(Execution).where(Execution.execution_name == name))
        return str(row.id) if row is not None and row.status == "running" and row.tenants_total else None


def test_the_console_page_and_its_files_are_served_by_the_app(api: Api) -> None:
    # WHEN the page is asked for
    response = api.http.request("GET", "/console", headers={})
    # THEN it is HTML from the app itself, revalidated by its ETag
    assert response.status_code == 200 and response.headers["Content-Type"].startswith("text/html")
    etag = response.headers["ETag"]
    again = api.http.request("GET", "/console", headers={"If-None-Match": etag})
    assert again.status_code == 304
    # AND an unknown or unsafe asset name is a 404 in the one error shape
    for name in ("nope.js", "..%2Fapp.py", "app.py"):
        missing = api.http.request("GET", f"/console/{name}", headers={})
        assert missing.status_code == 404, name
