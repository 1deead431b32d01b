"""Who changed what (the audit log, readable by admins) and Prometheus scraping /metrics with its own
token. Routes through chalice.test.Client on the local stack."""

from __future__ import annotations

from typing import Any

from tests.orchestrator.functional.test_api_routes import Api, madrid_tenants, tenant_token


def test_every_change_and_run_request_is_audited_with_who_and_what(api: Api, stack: Any) -> None:
    # GIVEN an operator creates a workflow, changes it, disables and enables it, and changes the schedule
    name = "audited_workflow"
    spec = {"name": name, "cron_expression": "0 7 * * *", "enabled": False, "steps": ["generate_forecasts"]}
    status, _ = api.post("/workflows", spec)
    assert status == 201
    assert api.put(f"/workflows/{name}", {"cron_expression": "0 6 * * *", "max_execution_time_seconds": 900})[0] == 200
    assert api.post(f"/workflows/{name}/enable")[0] == 200
    assert api.post(f"/workflows/{name}/disable")[0] == 200
    assert api.put("/schedule", {"workflows": [{"workflow_name": name, "cron_expression": "0 5 * * *"}]})[0] == 200
    # AND runs the daily workflow by hand for one tenant
    tenant = madrid_tenants(stack)[6]["id"]
    status, run = api.post("/workflows/daily_operations/execute", {"tenant_ids": [tenant], "run_date": "2028-07-01"})
    assert status == 202
    stack.wait(run["runs"][0]["execution_name"], timeout=180)
    # WHEN an admin reads the audit log for that workflow
    status, page = api.get(f"/audit?target={name}")
    # THEN every change is there, newest first, with who, before and after
    assert status == 200
    actions = [(e["action"], e["actor"]) for e in page["entries"]]
    assert actions == [("schedule", "ops"), ("disable", "ops"), ("enable", "ops"), ("update", "ops"), ("create", "ops")]
    update = page["entries"][3]
    assert update["before"] == {"cron_expression": "0 7 * * *", "max_execution_time_seconds": 3600}
    assert update["after"] == {"cron_expression": "0 6 * * *", "max_execution_time_seconds": 900}
    assert page["entries"][0]["after"] == {"cron_expression": "0 5 * * *"}
    # AND the manual run is audited with the run it started
    status, page = api.get("/audit?action=execute&limit=1")
    [entry] = page["entries"]
    assert entry["target"] == "daily_operations" and entry["after"]["tenant_ids"] == [tenant]
    assert entry["after"]["runs"][0]["execution_name"] == run["runs"][0]["execution_name"]
    # AND a tenant's token may not read it, a bad cursor is a 400, and the next admin request still answers
    assert api.get("/audit", token=tenant_token(tenant))[0] == 403
    status, body = api.get("/audit?after=zero")
    assert status == 400 and body["field"] == "after"
    assert api.get("/audit?limit=2")[0] == 200


def test_prometheus_scrapes_metrics_with_its_own_token_and_nothing_else_opens(api: Api, set_env: Any) -> None:
    # GIVEN a scrape token configured
    set_env("METRICS_TOKEN", "scrape-token-of-at-least-thirty-two-bytes")
    # WHEN Prometheus scrapes with it, THEN it gets the exposition
    status, text = api.get("/metrics", token="scrape-token-of-at-least-thirty-two-bytes")
    assert status == 200 and "orchestrator_workflow_executions_total" in text
    # AND a wrong token is refused, and the scrape token opens no other route
    assert api.get("/metrics", token="scrape-token-of-at-least-thirty-two-bytes-not")[0] == 401
    assert api.get("/workflows", token="scrape-token-of-at-least-thirty-two-bytes")[0] == 401
    # AND an admin token still scrapes
    assert api.get("/metrics")[0] == 200
