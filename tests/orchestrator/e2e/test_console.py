"""The console in a real browser after real runs: list -> open the execution -> the graph shows the failed
state in the failed colour for a tenant made to fail -> Retry -> the retry appears and succeeds; Cancel on
a running one; the schedule shows the next run; a tenant user sees only its own tenant. Each view is
screenshotted (1280 px wide, and one at phone width)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from chalicelib.api.auth import issue_token

FAILED_FILL = "rgb(248, 113, 113)"  # --failed in style.css
SUCCEEDED_FILL = "rgb(134, 239, 172)"  # --succeeded
WAIT_MS = 180_000


def madrid(stack: Any) -> list[dict[str, Any]]:
    return sorted(
        (
            t
            for t in stack.simulator.state.sorted_tenants
            if t["status"] == "active" and t["timezone"] == "Europe/Madrid"
        ),
        key=lambda t: t["name"],
    )


@pytest.fixture(scope="module")
def failed_run(e2e_stack: Any) -> dict[str, Any]:
    """The scheduled run of 2026-12-01 08:00 Madrid, with procurement failing every time for one tenant."""
    victim = madrid(e2e_stack)[0]
    e2e_stack.simulator.state.set_fault("procurement", status_code=500, error_rate=1.0, tenant_ids=[victim["id"]])
    try:
        runs = e2e_stack.dispatches(e2e_stack.fire(datetime(2026, 12, 1, 7, 0, tzinfo=UTC)))[0]["runs"]
        summary = e2e_stack.wait(runs[0]["execution_name"], timeout=300).summary
    finally:
        e2e_stack.simulator.state.clear_faults()
    assert summary["status"] == "completed_with_failures" and summary["tenants_failed"] == 1, summary
    return {**summary, "victim": victim}


def page_for(browser: Any, url: str, token: str, *, width: int = 1280, height: int = 900) -> Any:
    context = browser.new_context(viewport={"width": width, "height": height})
    page = context.new_page()
    page.set_default_timeout(60_000)
    page.goto(f"{url}/console#token={token}")
    return page


def fill_of(page: Any, state: str) -> str:
    return page.eval_on_selector(f'g.state[data-state="{state}"] > rect', "r => getComputedStyle(r).fill")


def test_an_operator_finds_the_failed_tenant_in_the_graph_and_retries_it(
    browser: Any, console_url: str, failed_run: dict[str, Any], screenshots: Path
) -> None:
    admin = issue_token(subject="ops-e2e", role="platform_admin")
    page = page_for(browser, console_url, admin)
    # GIVEN the executions list
    row = page.locator(f'#executions tr[data-id="{failed_run["execution_id"]}"]')
    row.wait_for()
    assert "completed with failures" in row.inner_text()
    page.screenshot(path=str(screenshots / "01-executions.png"), full_page=True)
    # WHEN the operator opens the execution
    row.locator("a").click()
    page.wait_for_selector('g.state[data-state="Calculate procurement"]')
    # THEN the graph shows procurement failed, in the failed colour, and the other steps succeeded
    procurement = page.locator('g.state[data-state="Calculate procurement"]')
    assert procurement.get_attribute("data-status") == "failed"
    assert fill_of(page, "Calculate procurement") == FAILED_FILL
    assert fill_of(page, "Generate forecasts") == SUCCEEDED_FILL
    assert page.locator('g.state[data-state="Plan the bakery\'s day"]').get_attribute("data-status") == "caught"
    assert page.locator('g.state[data-state="Fail run"]').get_attribute("data-status") == "not_started"
    assert failed_run["execution_name"] in page.locator("#execution-arn").inner_text()
    # AND clicking the state tells how many tenants failed it
    procurement.click()
    assert "1 failed" in page.locator("#state-detail").inner_text()
    page.screenshot(path=str(screenshots / "02-execution-graph.png"), full_page=True)
    # AND the tenant table finds the failed tenant, whose own graph carries the error
    page.fill("#tenant-search", failed_run["victim"]["name"][:12])
    page.select_option("#tenant-status", "failed")
    page.click("#tenants button[type=submit]")
    victim_row = page.locator(f'#tenants tr[data-tenant="{failed_run["victim"]["id"]}"]')
    victim_row.wait_for()
    assert "calculate_procurement" in victim_row.inner_text()
    victim_row.locator("button").first.click()
    page.wait_for_function(
        "() => document.querySelector('#graph-scope').textContent.includes('for tenant')", timeout=30_000
    )
    page.locator('g.state[data-state="Calculate procurement"]').click()
    assert "TransientServiceError" in page.locator("#state-detail").inner_text()
    page.wait_for_selector("#logs tr.lvl-ERROR")
    page.screenshot(path=str(screenshots / "03-failed-tenant.png"), full_page=True)
    # WHEN the operator clicks "Retry failed tenants"
    page.click("#retry")
    page.wait_for_selector("#retry-result a[href^='#/executions/']:not([href='#/executions'])", timeout=60_000)
    retry_name = page.locator("#retry-result a").inner_text()
    assert retry_name == f"{failed_run['execution_name']}-retry1"
    # THEN the retry execution appears and succeeds (the page refreshes itself while it runs)
    page.click("#retry-result a")
    page.wait_for_selector(".view-head .badge.st-completed", timeout=WAIT_MS)
    assert retry_name in page.locator(".view-head h1").inner_text()
    page.wait_for_selector('g.state[data-state="Calculate procurement"][data-status="succeeded"]')
    page.screenshot(path=str(screenshots / "04-retry-succeeded.png"), full_page=True)
    # AND the list shows both
    page.goto(f"{console_url}/console#/executions")
    page.wait_for_selector(f'#executions a:text-is("{retry_name}")')
    page.context.close()


def test_an_operator_cancels_a_running_execution(
    browser: Any, console_url: str, e2e_stack: Any, failed_run: dict[str, Any], screenshots: Path
) -> None:
    import httpx

    admin = issue_token(subject="ops-e2e", role="platform_admin")
    tenants = [t["id"] for t in madrid(e2e_stack)[1:3]]
    e2e_stack.simulator.state.set_fault("forecasting", hang_seconds=8.0)
    try:
        # GIVEN a run whose forecasts hang
        started = httpx.post(
            f"{console_url}/api/v1/orchestrator/workflows/daily_operations/execute",
            headers={"Authorization": f"Bearer {admin}"},
            json={"tenant_ids": tenants, "run_date": "2029-05-05"},
            timeout=30,
        )
        assert started.status_code == 202, started.text
        name = started.json()["runs"][0]["execution_name"]
        page = page_for(browser, console_url, admin)
        page.wait_for_selector(f'#executions a:text-is("{name}")', timeout=60_000)
        page.click(f'#executions a:text-is("{name}")')
        # WHEN the operator clicks Cancel and confirms
        page.on("dialog", lambda dialog: dialog.accept())
        page.wait_for_selector("#cancel", timeout=60_000)
        page.screenshot(path=str(screenshots / "05-running.png"), full_page=True)
        page.click("#cancel")
        # THEN the run is cancelled, and Retry is offered instead
        page.wait_for_selector(".view-head .badge.st-cancelled", timeout=60_000)
        page.wait_for_selector("#retry")
        assert "cancelled by ops-e2e" in page.locator(".view-head").inner_text()
        page.screenshot(path=str(screenshots / "06-cancelled.png"), full_page=True)
        page.context.close()
    finally:
        e2e_stack.simulator.state.clear_faults()
    assert e2e_stack.wait(name, timeout=120).sfn_status == "ABORTED"


def test_the_schedule_view_shows_the_next_run_of_each_scope(browser: Any, console_url: str, screenshots: Path) -> None:
    page = page_for(browser, console_url, issue_token(subject="ops-e2e", role="platform_admin"))
    # WHEN the operator opens the schedule
    page.click('#nav a[data-view="schedule"]')
    madrid_next = page.locator('[data-workflow="daily_operations"] tr[data-scope="Europe/Madrid"] .next-local')
    madrid_next.wait_for()
    # THEN the daily workflow's next run in Madrid is at 08:00 local time
    assert "08:00" in madrid_next.inner_text()
    assert page.locator('[data-workflow="daily_operations"] button:text-is("Disable")').is_visible()
    page.screenshot(path=str(screenshots / "07-schedule.png"), full_page=True)
    page.context.close()


def test_a_tenant_user_sees_only_its_own_tenant_and_no_admin_actions(
    browser: Any, console_url: str, failed_run: dict[str, Any], screenshots: Path
) -> None:
    # GIVEN a read-only user of a tenant that ran fine in the failed run
    page = page_for(
        browser, console_url, issue_token(subject="baker", role="tenant_user", tenant_id=_other(failed_run))
    )
    # WHEN it signs in: no schedule in the navigation, and the failed run lists as completed for it
    row = page.locator(f'#executions tr[data-id="{failed_run["execution_id"]}"]')
    row.wait_for()
    assert not page.locator('#nav a[data-view="schedule"]').is_visible()
    assert row.get_attribute("data-status") == "completed"
    # AND in the execution only its own tenant is listed and nothing can be retried or cancelled
    row.locator("a").click()
    page.wait_for_selector("#tenants tr[data-tenant]")
    assert page.locator("#tenants tr[data-tenant]").evaluate_all("rows => rows.map(r => r.dataset.tenant)") == [
        _other(failed_run)
    ]
    assert page.locator("#retry").count() == 0 and page.locator("#cancel").count() == 0
    assert page.locator('g.state[data-state="Calculate procurement"]').get_attribute("data-status") == "succeeded"
    page.screenshot(path=str(screenshots / "08-tenant-user.png"), full_page=True)
    page.context.close()
    # AND the same view works at phone width
    phone = page_for(
        browser,
        console_url,
        issue_token(subject="baker", role="tenant_user", tenant_id=_other(failed_run)),
        width=390,
        height=844,
    )
    phone.goto(f"{console_url}/console#/executions/{failed_run['execution_id']}")
    phone.wait_for_selector("#tenants tr[data-tenant]")
    assert phone.evaluate("document.documentElement.scrollWidth") <= 390 + 1
    phone.screenshot(path=str(screenshots / "09-phone.png"), full_page=True)
    phone.context.close()


def test_a_bad_token_is_refused_at_sign_in(browser: Any, console_url: str) -> None:
    context = browser.new_context()
    page = context.new_page()
    page.goto(f"{console_url}/console")
    page.fill("#token", "not-a-token")
    page.click("#signin-form button")
    assert "Not signed in" in page.locator("#signin-error").inner_text()
    forged = issue_token(subject="x", role="platform_admin", secret="a-different-secret-of-thirty-two-bytes")
    page.fill("#token", forged)
    page.click("#signin-form button")
    page.wait_for_function("() => document.querySelector('#signin-error').textContent.includes('invalid token')")
    context.close()


def _other(failed_run: dict[str, Any]) -> str:
    """A tenant that ran in the failed run and completed (any but the victim)."""
    from sqlalchemy import select

    from chalicelib.db.engine import session_scope
    from chalicelib.db.models import StepRun

    with session_scope() as session:
        tenants = session.scalars(
            select(StepRun.tenant_id)
            .where(StepRun.execution_id == uuid.UUID(failed_run["execution_id"]))
            .distinct()
            .order_by(StepRun.tenant_id)
        ).all()
    return next(t for t in tenants if t != failed_run["victim"]["id"])


def test_the_network_view_appears_with_the_enterprise_routes_and_shows_the_parents_dashboard(
    browser: Any, console_url: str, e2e_stack: Any, screenshots: Path
) -> None:
    # GIVEN the enterprise parent of the demo tenants and its admin's token
    parent = next(
        t
        for t in e2e_stack.simulator.state.sorted_tenants
        if t["subscription_tier"] == "enterprise" and not t.get("parent_tenant_id")
    )
    token = issue_token(subject="hq", role="tenant_admin", tenant_id=parent["id"], tier="enterprise")
    page = page_for(browser, console_url, token)
    # WHEN the API lists the enterprise dashboard route, the Network view is offered; it opens on the parent
    network = page.locator('#nav a[data-view="network"]')
    network.wait_for()
    network.click()
    # THEN the parent's dashboard is shown (numbers as cards)
    page.wait_for_selector(".view .card.stat")
    assert page.locator(".view .card.stat").count() > 0
    assert page.locator(".view .error").count() == 0
    page.screenshot(path=str(screenshots / "10-network.png"), full_page=True)
    page.context.close()
