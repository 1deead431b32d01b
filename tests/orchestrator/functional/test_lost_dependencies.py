"""Lost dependencies on the local cloud (embedded Redis, SQLite): Redis forgetting its data between runs,
a manual run or a retry holding the run lock when the schedule fires, EventBridge refusing a schedule
change. The real ASL runs with the real handlers; faults come from the edges (the Redis keys, the
simulator, an unreachable EventBridge endpoint).

Dates: this module uses May 2027 (runs named for 2027-05-01..2027-05-09); its own workflows fire at
minutes 17 and 47 local, never on a daily-workflow minute, and are disabled when their test ends.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from chalicelib.domain.models import DAILY_STEPS
from tests.orchestrator.api import Api, in_process, token_for
from tests.orchestrator.scenarios import execute, forget_redis_keys, madrid_tenant, runs_of, stored_fence


@pytest.fixture()
def api(stack: Any) -> Iterator[Api]:
    with in_process() as client:
        yield client


@pytest.fixture()
def probe_workflow(api: Api) -> Iterator[Any]:
    """`probe_workflow(name, cron, **fields)`: a workflow run by the daily state machine (its steps are the
    daily pipeline), created through the API; disabled again (rules removed) when the test ends."""
    made: list[str] = []

    def make(name: str, cron: str, **fields: Any) -> str:
        spec = {"name": name, "cron_expression": cron, "timezone": "Europe/Madrid", "steps": list(DAILY_STEPS)}
        status, body, _ = api.call("POST", "/workflows", token_for("platform_admin"), {**spec, **fields})
        assert status == 201 and body["deployed"], body
        made.append(name)
        return name

    yield make
    for name in made:
        api.call("POST", f"/workflows/{name}/disable", token_for("platform_admin"))


def test_runs_after_redis_lost_its_data_are_not_superseded(api: Api, stack: Any) -> None:
    # GIVEN two runs of the daily workflow in Madrid, so the stored fencing number is at least 2
    tenant = madrid_tenant(stack, 6)
    for day in ("2027-05-01", "2027-05-02"):
        assert stack.wait(execute(api, "daily_operations", tenant, day), timeout=180).summary["status"] == "completed"
    stored = stored_fence("daily_operations", "Europe/Madrid")
    assert stored >= 2
    # WHEN Redis loses every key of this deployment (a flush, a failover without persistence)
    assert forget_redis_keys() > 0, "the runs left their fencing counters in Redis"
    # AND the next run starts
    result = stack.wait(execute(api, "daily_operations", tenant, "2027-05-03"), timeout=180)
    # THEN it completes (not failed as superseded), with a fencing number above the stored one
    assert result.summary["status"] == "completed", result.summary
    assert stored_fence("daily_operations", "Europe/Madrid") > stored


@pytest.fixture()
def daily_settings(api: Api) -> Iterator[Any]:
    """`daily_settings(**fields)`: change the daily workflow for this test; put back when it ends."""
    admin = token_for("platform_admin")
    before = api.call("GET", "/workflows/daily_operations", admin)[1]
    changed: set[str] = set()

    def change(**fields: Any) -> None:
        status, body, _ = api.call("PUT", "/workflows/daily_operations", admin, fields)
        assert status == 200, body
        changed.update(fields)

    yield change
    if changed:
        api.call("PUT", "/workflows/daily_operations", admin, {k: before[k] for k in changed})


def test_a_tenant_admins_retry_never_loses_the_scheduled_run(api: Api, stack: Any, daily_settings: Any) -> None:
    simulator = stack.simulator.state
    # GIVEN the daily workflow dropping missed instants (catch-up "skip")
    daily_settings(catchup_policy="skip")
    tenant = madrid_tenant(stack, 7)
    try:
        # AND a manual run in which a tenant failed
        simulator.set_fault("production", status_code=503, error_rate=1.0, tenant_ids=[tenant])
        original = stack.wait(execute(api, "daily_operations", tenant, "2027-05-08"), timeout=180).summary
        assert original["status"] == "failed" and original["tenants_failed"] == 1, original
        # WHEN the tenant's admin retries it (slowly: the service now answers after 4 s) ...
        simulator.clear_faults()
        simulator.set_fault("production", latency_ms=4000, tenant_ids=[tenant])
        status, retry, _ = api.call(
            "POST", f"/executions/{original['execution_id']}/retry", token_for("tenant_admin", tenant)
        )
        assert status == 202, retry
        # WHEN 08:00 Madrid comes while the retry holds the scope's run lock
        scheduled_at = datetime(2027, 5, 9, 6, 0, tzinfo=UTC)
        (blocked,) = runs_of(stack, stack.fire(scheduled_at), "daily_operations")
        # THEN that firing is refused by the lock ...
        assert (blocked["scope"], blocked["outcome"]) == ("Europe/Madrid", "locked"), blocked
        assert stack.wait(retry["execution_name"], timeout=180).summary["status"] == "completed"
        simulator.clear_faults()
        # ... AND the next catch-up sweep after the lock freed starts the scheduled run, "skip" or not
        (deferred,) = runs_of(stack, stack.fire(datetime(2027, 5, 9, 6, 15, tzinfo=UTC)), "daily_operations")
        assert (deferred["outcome"], deferred["execution_name"]) == (
            "started",
            "daily_operations-europe-madrid-2027-05-09",
        )
        assert deferred["instant"] == scheduled_at.isoformat()
        assert stack.wait(deferred["execution_name"], timeout=180).summary["status"] == "completed"
    finally:
        simulator.clear_faults()
    # AND the tenant admin was not shown the retry's execution ARN (it names the account and region)
    assert retry["execution_arn"] is None


def test_retries_of_one_execution_are_bounded_by_the_workflows_max_retries(
    api: Api, stack: Any, daily_settings: Any
) -> None:
    simulator = stack.simulator.state
    # GIVEN the daily workflow allowing one retry, and a run in which a tenant failed
    daily_settings(max_retries=1)
    tenant = madrid_tenant(stack, 5)
    admin = token_for("platform_admin")
    simulator.set_fault("inventory", status_code=503, error_rate=1.0, tenant_ids=[tenant])
    try:
        original = stack.wait(execute(api, "daily_operations", tenant, "2027-05-06"), timeout=180).summary
        # WHEN it is retried once (still failing) ...
        status, first, _ = api.call("POST", f"/executions/{original['execution_id']}/retry", admin)
        assert status == 202, first
        retried = stack.wait(first["execution_name"], timeout=180).summary
        assert retried["status"] == "failed"
        # ... AND again, from the original and from the retry
        answers = [
            api.call("POST", f"/executions/{original['execution_id']}/retry", admin),
            api.call("POST", f"/executions/{retried['execution_id']}/retry", admin),
        ]
    finally:
        simulator.clear_faults()
    # THEN 409: the workflow's retry limit is reached
    for status, body, _ in answers:
        assert status == 409 and body["error"] == "retry_limit_reached", body
        assert "max_retries=1" in body["message"]


def test_a_run_of_an_operators_variant_of_the_daily_pipeline_can_be_retried(
    api: Api, stack: Any, probe_workflow: Any
) -> None:
    simulator = stack.simulator.state
    # GIVEN an operator's workflow run by the daily state machine, and a run of it in which a tenant failed
    name = probe_workflow("retry_probe", "17 15 * * *", catchup_policy="skip")
    tenant = madrid_tenant(stack, 4)
    simulator.set_fault("procurement", status_code=503, error_rate=1.0, tenant_ids=[tenant])
    try:
        original = stack.wait(execute(api, name, tenant, "2027-05-05"), timeout=180).summary
    finally:
        simulator.clear_faults()
    # WHEN it is retried
    status, retry, _ = api.call("POST", f"/executions/{original['execution_id']}/retry", token_for("platform_admin"))
    # THEN the retry runs on the same state machine and succeeds
    assert status == 202, retry
    assert stack.wait(retry["execution_name"], timeout=180).summary["status"] == "completed"


def test_a_schedule_change_eventbridge_refused_is_reported_and_repaired_by_the_sweep(
    api: Api, stack: Any, probe_workflow: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from chalicelib.runtime import reset

    # GIVEN a workflow at 16:17 Madrid whose rules are in EventBridge
    name = probe_workflow("drift_probe", "17 16 * * *", catchup_policy="skip")
    admin = token_for("platform_admin")
    # WHEN EventBridge cannot be reached from the API while an operator moves it to 16:47, disables and
    # enables it
    monkeypatch.setenv("AWS_ENDPOINT_URL_EVENTBRIDGE", "http://127.0.0.1:9")
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    reset()
    try:
        answers = [
            api.call("PUT", f"/workflows/{name}", admin, {"cron_expression": "47 16 * * *"}),
            api.call("POST", f"/workflows/{name}/disable", admin),
            api.call("POST", f"/workflows/{name}/enable", admin),
            api.call("PUT", "/schedule", admin, {"workflows": [{"workflow_name": name, "holiday_policy": "run"}]}),
        ]
    finally:
        monkeypatch.delenv("AWS_ENDPOINT_URL_EVENTBRIDGE")
        monkeypatch.delenv("AWS_MAX_ATTEMPTS")
        reset()
    # THEN each change is saved and answers 207, saying the rules were not applied and who repairs them
    for status, body, _ in answers:
        assert status == 207, body
        assert body["rules"]["status"] == "failed" and "sweep" in body["rules"]["message"], body["rules"]
    assert api.call("GET", f"/workflows/{name}", admin)[1]["cron_expression"] == "47 16 * * *"
    # AND EventBridge still fires it at the old time: at 16:47 Madrid nothing dispatches it (the drift)
    assert runs_of(stack, stack.fire(datetime(2027, 5, 6, 14, 47, tzinfo=UTC)), name) == []
    # WHEN the catch-up sweep runs (every 15 min) with EventBridge back
    (sweep,) = [
        f.response_payload for f in stack.fire(datetime(2027, 5, 6, 15, 0, tzinfo=UTC)) if f.target_id == "catchup"
    ]
    # THEN it reconciles the rules ...
    assert sweep["rules"]["status"] == "ok" and sweep["rules"]["updated"], sweep["rules"]
    # ... AND the next day the run happens at the new time
    (run,) = runs_of(stack, stack.fire(datetime(2027, 5, 7, 14, 47, tzinfo=UTC)), name)
    assert (run["outcome"], run["execution_name"]) == ("started", f"{name}-europe-madrid-2027-05-07")
    assert stack.wait(run["execution_name"], timeout=180).summary["status"] == "completed"
