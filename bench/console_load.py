"""How long the console takes to show an execution of 10,000 tenants, in Debian's Chromium (headless).

A real run on the local cloud gives the execution its Step Functions side (definition, parent history,
map run): with the Distributed Map, the parent's history does not grow with the number of tenants (each
tenant is a child execution), so a small run's history is the one a 10,000-tenant run has. Its database
side is then seeded with SQL to 10,000 tenants (six step rows each, 1 % failed at procurement, a log row
per step) and its S3 manifest rewritten with 10,000 tenants — what the console reads that does grow.
Measured: each console route's median latency, and the page load — from navigating to the execution's
address in a new browser context (empty cache, signed in) until its graph, tenant table and logs are drawn
— served by `chalice local` against Postgres.
"""

from __future__ import annotations

import json
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

CHROMIUM = "/usr/bin/chromium"
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
FAIL_EVERY = 100  # one tenant in a hundred fails at procurement


def _seed(database_url: str, execution_id: str, tenants: int) -> dict[str, Any]:
    import sqlalchemy as sa

    started = time.perf_counter()
    engine = sa.create_engine(database_url)
    tenant = "'bench-tenant-' || lpad(t::text, 5, '0')"
    failed = f"mod(t, {FAIL_EVERY}) = 7"  # (pg8000 takes % for parameters)
    with engine.begin() as conn:
        conn.execute(
            sa.text("DELETE FROM orchestrator_step_runs WHERE execution_id = CAST(:e AS UUID)"), {"e": execution_id}
        )
        conn.execute(
            sa.text(f"""
            INSERT INTO orchestrator_step_runs (execution_id, tenant_id, step_name, status, duration_ms, result,
                                                error_type, error_message, created_at)
            SELECT CAST(:e AS UUID), {tenant}, s.name,
                   CASE WHEN {failed} AND s.name = 'calculate_procurement' THEN 'failed' ELSE 'completed' END,
                   40 + mod(t, 50), CAST('{{"ok": true}}' AS JSONB),
                   CASE WHEN {failed} AND s.name = 'calculate_procurement' THEN 'TransientServiceError' END,
                   CASE WHEN {failed} AND s.name = 'calculate_procurement'
                        THEN 'procurement service answered 500' END,
                   now() - (t || ' milliseconds')::interval
            FROM generate_series(1, :n) AS t
            CROSS JOIN (VALUES (1, 'generate_forecasts'), (2, 'plan_production'), (3, 'calculate_procurement'),
                               (4, 'project_inventory'), (5, 'validate_forecasts'), (6, 'send_daily_summary'))
                 AS s(i, name)
            WHERE NOT ({failed} AND s.i IN (4, 6))
            """),
            {"e": execution_id, "n": tenants},
        )
        conn.execute(
            sa.text("""
            INSERT INTO orchestrator_execution_logs (execution_id, tenant_id, step_name, step_index, level,
                                                     message, duration_ms, created_at)
            SELECT execution_id, tenant_id, step_name, 1, CASE status WHEN 'failed' THEN 'ERROR' ELSE 'INFO' END,
                   step_name || ' ' || status || ' for ' || tenant_id, duration_ms, created_at
            FROM orchestrator_step_runs WHERE execution_id = CAST(:e AS UUID)
            """),
            {"e": execution_id},
        )
        failed_count = tenants // FAIL_EVERY + (1 if tenants % FAIL_EVERY >= 7 else 0)
        conn.execute(
            sa.text("""
            UPDATE orchestrator_executions SET tenants_total = :n, tenants_processed = :ok,
                   tenants_failed = :f, steps_total = :steps,
                   steps_completed = (SELECT count(*) FROM orchestrator_step_runs
                                      WHERE execution_id = CAST(:e AS UUID) AND status = 'completed'),
                   steps_failed = :f
            WHERE id = CAST(:e AS UUID)
            """),
            {"e": execution_id, "n": tenants, "ok": tenants - failed_count, "f": failed_count, "steps": tenants * 6},
        )
        rows = conn.execute(
            sa.text("SELECT count(*) FROM orchestrator_step_runs WHERE execution_id = CAST(:e AS UUID)"),
            {"e": execution_id},
        ).scalar()
    engine.dispose()
    return {
        "step_rows": int(rows or 0),
        "tenants_failed": failed_count,
        "seed_s": round(time.perf_counter() - started, 2),
    }


def _manifest(tenants: int) -> list[dict[str, Any]]:
    tiers = ("enterprise", "professional", "starter")
    return [
        {
            "id": f"bench-tenant-{i:05d}",
            "name": f"Panadería {i:05d}",
            "subscription_tier": tiers[i % 3],
            "timezone": "Europe/Madrid",
        }
        for i in range(1, tenants + 1)
    ]


def _median_ms(call: Any, repeats: int) -> float:
    samples = []
    for _ in range(repeats):
        started = time.perf_counter()
        call()
        samples.append((time.perf_counter() - started) * 1000)
    return round(statistics.median(samples), 1)


def run(
    database_url: str, redis_url: str, redis_prefix: str, *, tenants: int = 10_000, loads: int = 5
) -> dict[str, Any]:
    import httpx
    from playwright.sync_api import sync_playwright

    from bakery_sim.tenants import synthetic_tenants
    from chalicelib.adapters.manifests import manifest_key, write_manifest
    from chalicelib.api.auth import issue_token
    from localrun.api import LocalApi
    from localrun.stack import Stack

    data_dir = Path(tempfile.mkdtemp(prefix="bench-console-"))
    stack = Stack(
        database_url=database_url,
        redis_url=redis_url,
        tenants=synthetic_tenants(3),
        data_dir=data_dir,
        stage="benchconsole",
        extra_env={"REDIS_KEY_PREFIX": redis_prefix},
    )
    stack.start()
    api = None
    try:
        fired = stack.dispatches(stack.fire(datetime(2026, 12, 1, 7, 0, tzinfo=UTC)))
        run_name = next(r["execution_name"] for d in fired for r in d["runs"] if r["outcome"] == "started")
        execution_id = stack.wait(run_name, timeout=300).summary["execution_id"]
        seeded = _seed(database_url, execution_id, tenants)
        write_manifest(stack.env["MANIFEST_BUCKET"], manifest_key(run_name), _manifest(tenants))
        api = LocalApi(stack.env).start()
        token = issue_token(subject="bench-console", role="platform_admin")
        headers = {"Authorization": f"Bearer {token}"}
        base = f"{api.url}/api/v1/orchestrator/executions/{execution_id}"
        routes = {
            "graph": f"{base}/graph",
            "tenants (first page)": f"{base}/tenants?limit=50",
            "tenants (failed)": f"{base}/tenants?limit=50&status=failed",
            "tenants (search)": f"{base}/tenants?limit=50&search=01234",
            "execution": f"{base}?tenant_limit=1",
            "logs (first page)": f"{base}/logs?limit=100",
        }
        with httpx.Client(headers=headers, timeout=60) as client:
            for url in routes.values():
                client.get(url).raise_for_status()  # warm: the manifest is read once per process
            route_ms = {
                name: _median_ms(lambda url=url: client.get(url).raise_for_status(), 5) for name, url in routes.items()
            }
            sizes = {name: len(client.get(url).content) for name, url in routes.items()}
        page_ms = []
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
            try:
                for _ in range(loads):
                    # A new context (empty cache), already signed in: straight to the execution's address.
                    context = browser.new_context(viewport={"width": 1280, "height": 900})
                    context.add_init_script(f"sessionStorage.setItem('orchestrator-console-token', '{token}')")
                    page = context.new_page()
                    started = time.perf_counter()
                    page.goto(f"{api.url}/console#/executions/{execution_id}")
                    page.wait_for_selector(
                        'g.state[data-state="Calculate procurement"][data-status="failed"]', timeout=60_000
                    )
                    page.wait_for_selector("#tenants tr[data-tenant]", timeout=60_000)
                    page.wait_for_selector("#logs table", timeout=60_000)
                    page_ms.append(round((time.perf_counter() - started) * 1000, 1))
                    context.close()
            finally:
                browser.close()
        return {
            "tenants": tenants,
            **seeded,
            "route_ms": route_ms,
            "route_bytes": sizes,
            "page_load_ms": page_ms,
            "page_load_cold_ms": page_ms[0],
            "page_load_median_ms": round(statistics.median(page_ms), 1),
            "how": "real run on the local cloud for the Step Functions side; step rows, logs and the S3 manifest "
            f"seeded to {tenants} tenants",
        }
    finally:
        if api is not None:
            api.stop()
        stack.stop()


if __name__ == "__main__":  # python -m bench.console_load <database_url> <redis_url> <prefix>
    import sys

    print(json.dumps(run(sys.argv[1], sys.argv[2], sys.argv[3]), indent=2))
