"""The REST API through chalice.test.Client, against real runs on the local cloud (embedded defaults).

Dates: this module uses 2028 (manual runs are named `<workflow>-<scope>-<date>-manual`), so it never meets
another module's executions. The recorded scheduled run fires on 2026-12-20 (existing fixture).
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from typing import Any

import pytest

from app import app
from chalicelib.api.auth import issue_token

BASE = "/api/v1/orchestrator"
ADMIN = issue_token(subject="ops", role="platform_admin")


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}


def tenant_token(tenant_id: str, role: str = "tenant_admin") -> str:
    return issue_token(subject=f"user-{tenant_id}", role=role, tenant_id=tenant_id, tier="professional")


class Api:
    """A thin caller: JSON in, (status, JSON or text) out."""

    def __init__(self, http: Any) -> None:
        self.http = http

    def call(
        self, method: str, path: str, token: str | None = ADMIN, body: Any = None, raw: bytes | None = None
    ) -> tuple[int, Any]:
        headers = bearer(token) if token else {"Content-Type": "application/json"}
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else b"")
        url = path if path.startswith("/openapi") else f"{BASE}{path}"
        response = self.http.request(method, url, headers=headers, body=data)
        text = response.body.decode() if isinstance(response.body, bytes) else response.body
        content_type = response.headers.get("Content-Type", "")
        return response.status_code, json.loads(text) if "json" in content_type and text else text

    def get(self, path: str, token: str | None = ADMIN) -> tuple[int, Any]:
        return self.call("GET", path, token)

    def post(self, path: str, body: Any = None, token: str | None = ADMIN) -> tuple[int, Any]:
        return self.call("POST", path, token, body)

    def put(self, path: str, body: Any, token: str | None = ADMIN) -> tuple[int, Any]:
        return self.call("PUT", path, token, body)


@pytest.fixture(scope="module")
def recorded_run(stack: Any) -> dict[str, Any]:
    at = datetime(2026, 12, 20, 7, 0, tzinfo=UTC)
    runs = stack.dispatches(stack.fire(at))[0]["runs"]
    return stack.wait(runs[0]["execution_name"], timeout=180).summary


def madrid_tenants(stack: Any) -> list[dict[str, Any]]:
    return sorted(
        (
            t
            for t in stack.simulator.state.sorted_tenants
            if t["status"] == "active" and t["timezone"] == "Europe/Madrid"
        ),
        key=lambda t: t["name"],
    )


def wait_until(predicate: Any, timeout: float = 60, poll: float = 0.1) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError("condition not met before the deadline")
        time.sleep(poll)


# --- health, auth, validation -------------------------------------------------------------------------------
def test_health_checks_each_dependency_and_shows_details_only_to_operators(api: Api) -> None:
    # WHEN health is asked without a token
    status, body = api.get("/health", token=None)
    # THEN database, Redis and Step Functions are up, RabbitMQ is not configured here
    jobs = body["checks"].pop("jobs")
    assert status == 200 and body["status"] == ("healthy" if jobs["status"] == "up" else "degraded")
    assert {name: c["status"] for name, c in body["checks"].items()} == {
        "database": "up",
        "redis": "up",
        "stepfunctions": "up",
        "rabbitmq": "disabled",
    }
    body["checks"]["jobs"] = jobs  # (the scheduled jobs' own state depends on what earlier tests dispatched)
    # AND a stranger sees no stage, latencies or details
    assert set(body) == {"status", "checks"}
    assert all(set(c) == {"status", "required"} for c in body["checks"].values())
    # AND a tenant's token sees no more
    assert api.get("/health", token=tenant_token("00000000-0000-0000-0000-0000000000aa"))[1] == body
    # WHEN an operator asks, THEN each check is timed, with its detail, and the stage is named
    status, detailed = api.get("/health")
    assert status == 200 and detailed["stage"]
    assert all(c["latency_ms"] >= 0 for c in detailed["checks"].values())
    assert detailed["checks"]["rabbitmq"]["detail"].startswith("RABBITMQ_URL unset")


@pytest.mark.parametrize(
    ("token", "message"),
    [
        (None, "missing bearer token"),
        ("not-a-jwt", "invalid token"),
        (issue_token(subject="ops", role="platform_admin", ttl_seconds=-3600), "token expired"),
        (
            issue_token(subject="ops", role="platform_admin", secret="some-other-secret-of-32-bytes-length"),
            "invalid token",
        ),
        (issue_token(subject="ops", role="emperor"), "role claim"),
    ],
)
def test_missing_invalid_or_expired_token_is_401_with_a_clear_message(
    api: Api, token: str | None, message: str
) -> None:
    # WHEN a protected route is called with a bad token (or none)
    status, body = api.get("/executions", token=token)
    # THEN 401 in the one error shape, saying what is wrong
    assert status == 401
    assert body["error"] == "unauthorized" and message in body["message"]


def test_platform_routes_need_platform_admin(api: Api) -> None:
    # GIVEN a tenant admin's token
    token = tenant_token("00000000-0000-0000-0000-0000000000aa")
    # WHEN it calls platform-wide routes
    for method, path in (
        ("GET", "/workflows"),
        ("GET", "/metrics"),
        ("GET", "/schedule"),
        ("GET", "/leader"),
        ("POST", "/workflows/daily_operations/disable"),
        ("GET", "/statistics"),
    ):
        status, body = api.call(method, path, token)
        # THEN 403, and nothing changed
        assert status == 403, (path, body)
        assert body["error"] == "forbidden"
    assert api.get("/workflows/daily_operations")[1]["enabled"] is True


def test_executions_list_detail_and_logs(api: Api, recorded_run: dict[str, Any]) -> None:
    # WHEN the executions are listed
    status, body = api.get("/executions?workflow=daily_operations&status=completed")
    # THEN the recorded run is there with its counters
    assert status == 200
    listed = {e["execution_name"]: e for e in body["executions"]}
    assert listed[recorded_run["execution_name"]]["tenants_processed"] == recorded_run["tenants_processed"]
    # AND its detail has per-step and per-tenant progress
    status, detail = api.get(f"/executions/{recorded_run['execution_id']}")
    assert status == 200 and detail["execution"]["status"] == "completed"
    assert {s["step_name"]: s["completed"] for s in detail["steps"]}["generate_forecasts"] == recorded_run[
        "tenants_processed"
    ]
    assert len(detail["tenants"]) == recorded_run["tenants_processed"]
    assert all(t["status"] == "completed" and t["steps_completed"] == 6 for t in detail["tenants"])
    # AND the per-tenant progress pages
    status, first = api.get(f"/executions/{recorded_run['execution_id']}?tenant_limit=3")
    assert len(first["tenants"]) == 3 and first["tenants_next_cursor"] == first["tenants"][-1]["tenant_id"]
    status, second = api.get(
        f"/executions/{recorded_run['execution_id']}?tenant_limit=3&tenant_after={first['tenants_next_cursor']}"
    )
    assert second["tenants"][0]["tenant_id"] > first["tenants"][-1]["tenant_id"]
    # AND its logs page by cursor and filter by step and level
    status, page = api.get(f"/executions/{recorded_run['execution_id']}/logs?limit=5")
    assert status == 200 and page["count"] == 5 and page["total"] > 5 and page["next_cursor"]
    status, rest = api.get(f"/executions/{recorded_run['execution_id']}/logs?after={page['next_cursor']}")
    assert status == 200 and rest["logs"][0]["id"] > page["next_cursor"]
    status, steps = api.get(f"/executions/{recorded_run['execution_id']}/logs?step_name=generate_forecasts")
    assert status == 200 and steps["count"] == recorded_run["tenants_processed"]
    assert {log["step_name"] for log in steps["logs"]} == {"generate_forecasts"}
    status, errors = api.get(f"/executions/{recorded_run['execution_id']}/logs?level=ERROR")
    assert status == 200 and errors["count"] == 0


def test_executions_cursor_pagination_visits_each_execution_once(api: Api, recorded_run: dict[str, Any]) -> None:
    # GIVEN every execution listed in one page
    _, everything = api.get("/executions?limit=500")
    # WHEN the same list is walked one item at a time
    seen, cursor = [], None
    while True:
        status, page = api.get("/executions?limit=1" + (f"&cursor={cursor}" if cursor else ""))
        assert status == 200
        seen.extend(e["id"] for e in page["executions"])
        cursor = page["next_cursor"]
        if not cursor:
            break
    # THEN the walk saw each one once, in the same order
    assert seen == [e["id"] for e in everything["executions"]]


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "field"),
    [
        ("GET", "/executions?limit=0", None, 400, "limit"),
        ("GET", "/executions?limit=abc", None, 400, "limit"),
        ("GET", "/executions?status=bogus", None, 400, "status"),
        ("GET", "/executions?cursor=garbage", None, 400, "cursor"),
        ("GET", "/executions?date_from=2028-02-01&date_to=2028-01-01", None, 400, "date_from"),
        ("GET", "/executions/not-a-uuid", None, 400, "execution_id"),
        ("GET", "/executions/00000000-0000-0000-0000-000000000000", None, 404, "execution_id"),
        ("GET", "/executions/00000000-0000-0000-0000-000000000000/logs", None, 404, "execution_id"),
        ("POST", "/executions/00000000-0000-0000-0000-000000000000/retry", None, 404, "execution_id"),
        ("GET", "/workflows/no_such_workflow", None, 404, "workflow_id"),
        ("PUT", "/workflows/daily_operations", {"cron_expression": "61 8 * * *"}, 400, "cron_expression"),
        ("PUT", "/workflows/daily_operations", {"cron_expression": "every morning"}, 400, "cron_expression"),
        ("PUT", "/workflows/daily_operations", {"timezone": "Mars/Olympus"}, 400, "timezone"),
        ("PUT", "/workflows/daily_operations", {"max_retries": -1}, 400, "max_retries"),
        ("PUT", "/workflows/daily_operations", {"retry_delay_seconds": -5}, 400, "retry_delay_seconds"),
        ("PUT", "/workflows/daily_operations", {"max_execution_time_seconds": 0}, 400, "max_execution_time_seconds"),
        ("PUT", "/workflows/daily_operations", {"steps": []}, 400, "steps"),
        ("PUT", "/workflows/daily_operations", {"steps": ["a", "a"]}, 400, "steps"),
        ("PUT", "/workflows/daily_operations", {"cron_expression": None}, 400, "cron_expression"),
        ("PUT", "/workflows/daily_operations", {"holiday_policy": "maybe"}, 400, "holiday_policy"),
        ("PUT", "/workflows/daily_operations", {"surprise": 1}, 400, "surprise"),
        ("PUT", "/workflows/nope", {"max_retries": 1}, 404, "workflow_id"),
        ("POST", "/workflows", {"name": "Bad Name", "cron_expression": "0 8 * * *", "steps": ["x"]}, 400, "name"),
        ("POST", "/workflows", {"name": "missing_cron", "steps": ["x"]}, 400, "cron_expression"),
        ("POST", "/workflows/daily_operations/execute", {"tenant_ids": []}, 400, "tenant_ids"),
        ("POST", "/workflows/daily_operations/execute", {"run_date": "yesterday"}, 400, "run_date"),
        ("POST", "/workflows/daily_operations/execute", {"scope": "Nowhere/City"}, 400, "scope"),
        ("POST", "/workflows/daily_operations/execute", {"tenant_ids": ["not-a-tenant"]}, 422, "tenant_ids"),
        ("PUT", "/schedule", {"workflows": []}, 400, "workflows"),
        ("PUT", "/schedule", {"workflows": [{"workflow_name": "nope"}]}, 404, "workflows.0.workflow_name"),
        ("GET", "/schedule/next-run?scope=Not/AZone", None, 400, "scope"),
        ("GET", "/schedule/next-run?after=2028-01-01T00:00:00", None, 400, "after"),
        ("GET", "/statistics?days=0", None, 400, "days"),
    ],
)
def test_bad_requests_get_a_clear_4xx_naming_the_field(
    api: Api, method: str, path: str, body: Any, status: int, field: str
) -> None:
    # WHEN a route gets input it cannot accept
    got, answer = api.call(method, path, ADMIN, body)
    # THEN a 4xx in the one error shape naming the field (never a 500)
    assert got == status, answer
    assert answer["field"] == field and answer["message"] and answer["error"]


@pytest.mark.parametrize("raw", [b"{not json", b"[1, 2]", b'"text"'])
def test_a_body_that_is_not_a_json_object_is_a_400(api: Api, raw: bytes) -> None:
    status, body = api.call("PUT", "/workflows/daily_operations", ADMIN, raw=raw)
    assert status == 400 and body["error"] in ("invalid_json", "invalid_body")


# --- workflows ----------------------------------------------------------------------------------------------
def test_define_read_change_enable_and_disable_a_workflow(api: Api) -> None:
    # WHEN an operator defines a workflow
    spec = {
        "name": "api_weekly_digest",
        "description": "weekly digest",
        "workflow_type": "weekly",
        "cron_expression": "0 9 * * 1",
        "timezone": "Europe/Madrid",
        "steps": ["send_daily_summary"],
        "max_retries": 2,
        "holiday_policy": "skip",
    }
    status, created = api.post("/workflows", spec)
    # THEN it exists, readable by name and by id, and not deployed (no state machine runs it yet)
    assert status == 201, created
    assert created["name"] == "api_weekly_digest" and created["enabled"] is True and created["deployed"] is False
    assert api.get(f"/workflows/{created['id']}")[1]["name"] == "api_weekly_digest"
    assert "api_weekly_digest" in {w["name"] for w in api.get("/workflows")[1]["workflows"]}
    # AND defining it twice is a conflict
    assert api.post("/workflows", spec)[0] == 409
    # WHEN its schedule, limits and calendar policy change
    status, changed = api.put(
        "/workflows/api_weekly_digest",
        {
            "cron_expression": "30 6 * * 1-5",
            "timezone": "Atlantic/Canary",
            "max_execution_time_seconds": 900,
            "weekend_cron": "0 10 * * 6,0",
        },
    )
    assert status == 200, changed
    assert (
        changed["cron_expression"],
        changed["timezone"],
        changed["max_execution_time_seconds"],
        changed["weekend_cron"],
        changed["max_retries"],
    ) == ("30 6 * * 1-5", "Atlantic/Canary", 900, "0 10 * * 6,0", 2)
    # AND weekend_cron can be cleared with null
    assert api.put("/workflows/api_weekly_digest", {"weekend_cron": None})[1]["weekend_cron"] is None
    # WHEN it is disabled twice and enabled twice
    assert api.post("/workflows/api_weekly_digest/disable")[1]["enabled"] is False
    assert api.post("/workflows/api_weekly_digest/disable")[1]["enabled"] is False
    assert api.post("/workflows/api_weekly_digest/enable")[1]["enabled"] is True
    status, body = api.post("/workflows/api_weekly_digest/enable")
    # THEN enabling an enabled workflow is fine
    assert status == 200 and body["enabled"] is True
    # AND executing a workflow no state machine runs is a conflict, not a 500
    status, body = api.post("/workflows/api_weekly_digest/execute", {"run_date": "2028-01-05"})
    assert status == 409 and body["error"] == "not_deployed"


def test_disabled_workflow_cannot_be_executed(api: Api) -> None:
    # GIVEN the daily workflow disabled
    assert api.post("/workflows/daily_operations/disable")[0] == 200
    try:
        # WHEN an operator triggers it
        status, body = api.post("/workflows/daily_operations/execute", {"run_date": "2028-01-06"})
        # THEN 409: enable it first
        assert status == 409 and body["error"] == "workflow_disabled"
    finally:
        assert api.post("/workflows/daily_operations/enable")[0] == 200


# --- schedule -----------------------------------------------------------------------------------------------
def test_schedule_and_next_run_apply_holidays(api: Api) -> None:
    # GIVEN the daily workflow skips holidays
    status, body = api.put(
        "/schedule", {"workflows": [{"workflow_name": "daily_operations", "holiday_policy": "skip"}]}
    )
    assert status == 200, body
    try:
        # WHEN the next run after Christmas Eve 2028 is asked for Madrid
        status, nxt = api.get(
            "/schedule/next-run?workflow=daily_operations&scope=Europe/Madrid&after=2028-12-24T12:00:00Z"
        )
        # THEN Christmas Day is skipped: the next run is 26 December at 08:00 local (07:00 UTC)
        assert status == 200, nxt
        (run,) = nxt["next_runs"]
        assert run["next_run_at"].startswith("2028-12-26T07:00:00"), run
        assert "2028-12-25" in {s["local_date"] for s in run["skipped"]}
        # AND the schedule lists each scope's next run
        status, sched = api.get("/schedule")
        entry = {w["workflow_name"]: w for w in sched["workflows"]}["daily_operations"]
        assert entry["holiday_policy"] == "skip" and "Europe/Madrid" in entry["scopes"]
        assert {r["scope"] for r in entry["next_runs"]} == set(entry["scopes"])
    finally:
        api.put("/schedule", {"workflows": [{"workflow_name": "daily_operations", "holiday_policy": "run"}]})


def test_changing_a_schedule_reconciles_the_eventbridge_rules(api: Api, stack: Any) -> None:
    # GIVEN the daily workflow at 08:00
    events = stack.cloud.client("events")
    try:
        # WHEN its cron moves to 05:15 local through the API
        status, body = api.put(
            "/schedule", {"workflows": [{"workflow_name": "daily_operations", "cron_expression": "15 5 * * *"}]}
        )
        # THEN the rules were reconciled and now fire at minute 15
        assert status == 200 and body["rules"]["status"] == "ok", body["rules"]
        names = body["rules"]["created"] + body["rules"]["updated"] + body["rules"]["unchanged"]
        expressions = {events.describe_rule(Name=n)["ScheduleExpression"] for n in names if "catchup" not in n}
        assert expressions and all(e.startswith("cron(15 ") for e in expressions), expressions
    finally:
        api.put("/schedule", {"workflows": [{"workflow_name": "daily_operations", "cron_expression": "0 8 * * *"}]})


# --- monitoring ---------------------------------------------------------------------------------------------
def test_metrics_are_prometheus_text_built_from_the_records(api: Api, recorded_run: dict[str, Any]) -> None:
    from prometheus_client.parser import text_string_to_metric_families

    # WHEN Prometheus scrapes
    status, text = api.get("/metrics")
    # THEN the exposition parses and carries the seed's series
    assert status == 200
    families = {f.name: f for f in text_string_to_metric_families(text)}
    assert {
        "orchestrator_workflow_executions",
        "orchestrator_workflow_duration_seconds",
        "orchestrator_workflow_success_rate_percentage",
        "orchestrator_tenants_processed",
        "orchestrator_leader_instance",
    } <= set(families)
    samples = {(s.name, tuple(sorted(s.labels.items()))): s.value for f in families.values() for s in f.samples}
    assert (
        samples[
            ("orchestrator_workflow_executions_total", (("status", "completed"), ("workflow_name", "daily_operations")))
        ]
        >= 1
    )
    buckets = [
        s
        for s in families["orchestrator_workflow_duration_seconds"].samples
        if s.name.endswith("_bucket") and s.labels["workflow_name"] == "daily_operations"
    ]
    assert [b.labels["le"] for b in buckets] == ["60.0", "300.0", "600.0", "1200.0", "1800.0", "3600.0", "+Inf"]
    assert [b.value for b in buckets] == sorted(b.value for b in buckets)
    assert (
        samples[
            ("orchestrator_tenants_processed_total", (("status", "completed"), ("workflow_name", "daily_operations")))
        ]
        >= recorded_run["tenants_processed"]
    )


def test_statistics_and_leader(api: Api, recorded_run: dict[str, Any]) -> None:
    # WHEN statistics over a long window are asked
    status, stats = api.get("/statistics?workflow=daily_operations&days=366")
    # THEN the workflow has a success rate and duration percentiles, per day too
    assert status == 200, stats
    (daily,) = stats["workflows"]
    assert daily["executions"] >= 1 and daily["success_rate"] is not None
    assert daily["duration_p50"] <= daily["duration_p95"] <= daily["duration_max"]
    assert "2026-12-20" in {d["date"] for d in daily["days"]}
    # AND the leader view answers with the run locks (none held between runs)
    status, leader = api.get("/leader")
    assert status == 200 and isinstance(leader["run_locks"], list) and leader["instance_id"], leader


def test_openapi_document_lists_every_route(api: Api) -> None:
    status, doc = api.call("GET", "/openapi.json", None)
    assert status == 200 and doc["openapi"] == "3.1.0"
    routes = {(path, method.upper()) for path, item in doc["paths"].items() for method in item}
    expected = {(path, method) for path, entry in app.routes.items() for method in entry}
    assert routes == expected
    put = doc["paths"][f"{BASE}/workflows/{{workflow_id}}"]["put"]
    assert put["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/WorkflowUpdate"
    }
    assert doc["paths"]["/api/v1/orchestrator/health"]["get"]["security"] == []


# --- manual trigger, tenant isolation, retry from failure ---------------------------------------------------
def test_manual_execute_runs_through_dispatch_and_may_be_repeated_once_it_finished(api: Api, stack: Any) -> None:
    # GIVEN two Madrid tenants
    first, second = madrid_tenants(stack)[:2]
    # WHEN an operator triggers the daily workflow for them on 2028-02-03
    status, body = api.post(
        "/workflows/daily_operations/execute", {"tenant_ids": [first["id"], second["id"]], "run_date": "2028-02-03"}
    )
    # THEN one run starts, named like the schedule's with a -manual suffix
    assert status == 202, body
    (run,) = body["runs"]
    assert (run["scope"], run["outcome"]) == ("Europe/Madrid", "started")
    assert run["execution_name"] == "daily_operations-europe-madrid-2028-02-03-manual"
    # AND triggering the same again while it runs is a conflict
    status, again = api.post(
        "/workflows/daily_operations/execute", {"tenant_ids": [first["id"], second["id"]], "run_date": "2028-02-03"}
    )
    if status == 409:
        assert again["error"] == "already_running", again
    result = stack.wait(run["execution_name"], timeout=180)
    assert result.summary["status"] == "completed" and result.summary["tenants_processed"] == 2
    for extra in (again.get("runs") or []) if status == 202 else []:  # it finished before the second call
        stack.wait(extra["execution_name"], timeout=180)
    # AND once it finished, the same day may run again under the next suffix
    status, repeat = api.post(
        "/workflows/daily_operations/execute", {"tenant_ids": [first["id"]], "run_date": "2028-02-03"}
    )
    assert status == 202, repeat
    (repeated,) = repeat["runs"]
    assert repeated["execution_name"].startswith("daily_operations-europe-madrid-2028-02-03-manual-")
    stack.wait(repeated["execution_name"], timeout=180)
    # AND the executions list as manual, with who triggered them
    _, page = api.get("/executions?date_from=2028-02-03&date_to=2028-02-03")
    assert {e["trigger"] for e in page["executions"]} == {"manual"}
    assert {e["triggered_by"] for e in page["executions"]} == {"ops"}
    assert run["execution_name"] in {e["execution_name"] for e in page["executions"]}
    single = next(e for e in page["executions"] if e["execution_name"] == repeated["execution_name"])
    assert single["tenant_id"] == first["id"]


def test_tenant_sees_only_its_own_executions_and_logs(api: Api, stack: Any) -> None:
    # GIVEN tenant A and tenant B each ran in its own manual execution, and B also in a shared one
    tenants = madrid_tenants(stack)
    a, b = tenants[2]["id"], tenants[3]["id"]
    ids = {}
    for key, tenant_ids, day in (("a", [a], "2028-03-01"), ("b", [b], "2028-03-02"), ("ab", [a, b], "2028-03-03")):
        # (one run per workflow and scope at a time: the run lock refuses the next until this one ends)
        status, body = api.post("/workflows/daily_operations/execute", {"tenant_ids": tenant_ids, "run_date": day})
        assert status == 202, body
        ids[key] = stack.wait(body["runs"][0]["execution_name"], timeout=180).summary["execution_id"]
    token_a, token_b = tenant_token(a), tenant_token(b, role="tenant_user")
    # WHEN tenant A lists executions
    status, page = api.get("/executions?date_from=2028-03-01&date_to=2028-03-31", token=token_a)
    # THEN it sees its own run and the shared one, not B's, each showing only A's progress
    assert status == 200
    assert {e["id"] for e in page["executions"]} == {ids["a"], ids["ab"]}
    shared = next(e for e in page["executions"] if e["id"] == ids["ab"])
    assert (shared["tenants_total"], shared["tenants_processed"], shared["steps_completed"]) == (1, 1, 6)
    # AND filtering for B's tenant id shows nothing
    assert api.get(f"/executions?tenant_id={b}", token=token_a)[1]["executions"] == []
    # AND B's execution is "not found" for A: detail, logs and retry
    for method, path in (
        ("GET", f"/executions/{ids['b']}"),
        ("GET", f"/executions/{ids['b']}/logs"),
        ("POST", f"/executions/{ids['b']}/retry"),
    ):
        status, body = api.call(method, path, token_a)
        assert status == 404 and body["error"] == "not_found", (path, body)
    # AND in the shared run A sees only its own tenant's steps and logs
    status, detail = api.get(f"/executions/{ids['ab']}", token=token_a)
    assert status == 200 and {t["tenant_id"] for t in detail["tenants"]} == {a}
    assert all(s["completed"] == 1 for s in detail["steps"])
    status, logs = api.get(f"/executions/{ids['ab']}/logs", token=token_a)
    assert status == 200 and logs["count"] > 0 and {log["tenant_id"] for log in logs["logs"]} == {a}
    assert api.get(f"/executions/{ids['ab']}/logs?tenant_id={b}", token=token_a)[1]["logs"] == []
    # AND an operator sees both tenants there
    _, admin_detail = api.get(f"/executions/{ids['ab']}")
    assert {t["tenant_id"] for t in admin_detail["tenants"]} == {a, b}
    # AND a tenant user (read-only) cannot retry even its own execution
    status, body = api.post(f"/executions/{ids['b']}/retry", token=token_b)
    assert status == 403, body


def test_retry_from_failure_reruns_only_what_failed(api: Api, stack: Any, simulator: Any) -> None:
    # GIVEN the production service fails for one tenant, every time
    tenants = madrid_tenants(stack)
    victim, healthy = tenants[4]["id"], tenants[5]["id"]
    simulator.state.set_fault("production", status_code=503, error_rate=1.0, tenant_ids=[victim])
    status, body = api.post(
        "/workflows/daily_operations/execute", {"tenant_ids": [victim, healthy], "run_date": "2028-04-04"}
    )
    assert status == 202, body
    original = stack.wait(body["runs"][0]["execution_name"], timeout=180).summary
    assert original["status"] == "completed_with_failures" and original["tenants_failed"] == 1
    # AND retrying while the fault is still on is possible, but first: the fault goes away
    simulator.state.clear_faults()
    forecasts_before = simulator.state.calls_for("forecasting", victim)
    # WHEN the operator retries the execution from failure
    status, retry = api.post(f"/executions/{original['execution_id']}/retry")
    # THEN a new execution over the failed tenant only, named after the original
    assert status == 202, retry
    assert retry["execution_name"] == f"{original['execution_name']}-retry1"
    assert retry["tenant_ids"] == [victim] and retry["retry_of"] == original["execution_id"]
    result = stack.wait(retry["execution_name"], timeout=180).summary
    # AND its input names the retried execution, not the failed tenants (ListTenants finds them)
    described = stack.cloud.client("stepfunctions").describe_execution(
        executionArn=stack.execution_arn(retry["execution_name"])
    )
    run_input = json.loads(described["input"])
    assert run_input["retry_of"] == original["execution_id"] and run_input["tenant_ids"] is None
    # AND it succeeds now the fault is off
    assert result["status"] == "completed" and result["tenants_processed"] == 1
    # AND the steps the victim had completed were reused, not re-run (no new forecasting call)
    status, logs = api.get(f"/executions/{result['execution_id']}/logs?tenant_id={victim}")
    reused = {log["step_name"] for log in logs["logs"] if "reused from execution" in log["message"]}
    assert reused == {"generate_forecasts", "validate_forecasts"}
    assert simulator.state.calls_for("forecasting", victim) == forecasts_before
    # AND the original stays as it was, and lists its retry
    status, detail = api.get(f"/executions/{original['execution_id']}")
    assert detail["execution"]["status"] == "completed_with_failures"
    assert detail["execution"]["tenants_failed"] == 1 and detail["retries"] == [retry["execution_name"]]
    _, retried = api.get(f"/executions/{result['execution_id']}")
    assert retried["execution"]["trigger"] == "retry"
    assert retried["execution"]["retry_of"] == original["execution_id"]
    # AND the failed list shows the original; retrying the succeeded retry is a conflict
    _, failed = api.get("/executions/failed?date_from=2028-04-04&date_to=2028-04-04")
    assert [e["id"] for e in failed["executions"]] == [original["execution_id"]]
    status, body = api.post(f"/executions/{result['execution_id']}/retry")
    assert status == 409 and body["error"] == "nothing_to_retry"
