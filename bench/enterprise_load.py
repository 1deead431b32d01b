"""The enterprise dashboard's latency for the 50-outlet network, cold and cached.

Served by `chalice local` (as `make run` serves it) against the simulator in its own process, Postgres (a
week of daily runs of the network, so the success rates have rows to read) and Redis. One request at a
time, each timed from send to last byte:
  cold    the network's cached views are dropped (a generation bump, what a closing run does) before each
          request, so every one reads the hierarchy, fans out to the outlets and computes the view;
  cached  the same request answered from Redis.
Beside them, the same timing of a trivial route (GET /executions?limit=1): what `chalice local` itself costs
every request on this machine, which both figures include.
"""

from __future__ import annotations

import time
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

from bench.api_load import ApiServer, _r, percentile
from chalicelib.domain.models import DAILY_STEPS

AS_OF = date(2026, 12, 10)
RUN_DAYS = 7


def seed_runs(database_url: str, tenant_ids: list[str], *, days: int = RUN_DAYS) -> dict[str, Any]:
    """One completed daily run per day before AS_OF (and on it) with every tenant's six steps completed."""
    import sqlalchemy as sa

    from chalicelib.db.migrate import upgrade
    from chalicelib.db.models import Execution, StepRun

    upgrade(database_url)
    engine = sa.create_engine(database_url)
    started = time.perf_counter()
    executions, steps = [], []
    for offset in range(days + 1):
        run_date = AS_OF - timedelta(days=offset)
        ident = uuid.uuid4()
        at = datetime(run_date.year, run_date.month, run_date.day, 7, 0, tzinfo=UTC)
        executions.append(
            {
                "id": ident,
                "workflow_name": "daily_operations",
                "execution_name": f"daily_operations-europe-madrid-{run_date.isoformat()}",
                "scope": "Europe/Madrid",
                "trigger": "scheduled",
                "run_date": run_date,
                "status": "completed",
                "started_at": at,
                "completed_at": at + timedelta(minutes=2),
                "tenants_total": len(tenant_ids),
                "tenants_processed": len(tenant_ids),
                "steps_total": len(tenant_ids) * len(DAILY_STEPS),
                "steps_completed": len(tenant_ids) * len(DAILY_STEPS),
            }
        )
        steps.extend(
            {"execution_id": ident, "tenant_id": tenant, "step_name": step, "status": "completed", "created_at": at}
            for tenant in tenant_ids
            for step in DAILY_STEPS
        )
    with engine.begin() as conn:  # the models' tables: their column defaults fill the rest
        conn.execute(Execution.__table__.insert(), executions)
        conn.execute(StepRun.__table__.insert(), steps)
    engine.dispose()
    return {"executions": len(executions), "step_rows": len(steps), "seed_s": round(time.perf_counter() - started, 2)}


def _stats(samples_ms: list[float]) -> dict[str, Any]:
    ordered = sorted(samples_ms)
    return {
        "requests": len(ordered),
        "p50_ms": _r(percentile(ordered, 50)),
        "p95_ms": _r(percentile(ordered, 95)),
        "p99_ms": _r(percentile(ordered, 99)),
        "max_ms": _r(ordered[-1] if ordered else None),
    }


def run(
    database_url: str,
    redis_url: str,
    redis_prefix: str,
    simulator_url: str,
    *,
    cold_requests: int,
    cached_requests: int,
) -> dict[str, Any]:
    import httpx
    import redis

    from bakery_sim.tenants import demo_tenants, enterprise_network
    from chalicelib.adapters.view_cache import ViewCache
    from chalicelib.api.auth import issue_token
    from chalicelib.settings import Settings

    parent, *outlets = enterprise_network()
    httpx.post(f"{simulator_url}/sim/reset", timeout=60).raise_for_status()
    httpx.put(
        f"{simulator_url}/sim/tenants", json={"tenants": demo_tenants() + [parent, *outlets]}, timeout=60
    ).raise_for_status()
    seeded = seed_runs(database_url, [o["id"] for o in outlets])
    server = ApiServer(
        {
            "DATABASE_URL": database_url,
            "REDIS_URL": redis_url,
            "REDIS_KEY_PREFIX": redis_prefix,
            "PLATFORM_BASE_URL": simulator_url,
            "STAGE": "local",
            "POWERTOOLS_LOG_LEVEL": "ERROR",
            "AWS_DEFAULT_REGION": "eu-west-1",
        }
    )
    # The same stage (local) and so the same secret as the server; the parent's own user, enterprise tier.
    token = issue_token(
        subject="bench-parent", role="tenant_admin", tenant_id=parent["id"], tier="enterprise", settings=Settings()
    )
    cache_client = redis.Redis.from_url(redis_url)
    cache = ViewCache(settings=Settings(redis_url=redis_url, redis_key_prefix=redis_prefix), client=cache_client)
    path = f"/api/v1/{parent['id']}/orchestrator/enterprise/dashboard?as_of={AS_OF.isoformat()}"
    server.start()
    try:
        with httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {token}"}, timeout=60) as client:

            def timed(expect: str) -> tuple[float, httpx.Response]:
                start = time.perf_counter()
                response = client.get(path)
                elapsed = (time.perf_counter() - start) * 1000
                if response.status_code != 200 or response.headers.get("X-Cache") != expect:
                    raise RuntimeError(
                        f"GET {path}: {response.status_code} X-Cache={response.headers.get('X-Cache')} "
                        f"(wanted {expect}): {response.text[:300]}"
                    )
                if response.json()["partial"]:
                    raise RuntimeError(f"GET {path}: partial dashboard: {response.json()['issues'][:3]}")
                return elapsed, response

            for _ in range(3):  # warm-up: imports, connection pools, Postgres caches
                cache.invalidate_parents([parent["id"]])
                _, response = timed("miss")
            calls_before = _sim_calls(simulator_url)
            cold = []
            for _ in range(cold_requests):
                cache.invalidate_parents([parent["id"]])
                cold.append(timed("miss")[0])
            calls_per_cold = (_sim_calls(simulator_url) - calls_before) / max(1, cold_requests)
            timed("hit")
            cached = [timed("hit")[0] for _ in range(cached_requests)]
            # What `chalice local` costs any request, measured the same way: a token check and one indexed
            # query with a tiny body.
            admin = {
                "Authorization": f"Bearer {issue_token(subject='bench', role='platform_admin', settings=Settings())}"
            }
            floor = []
            for _ in range(min(cached_requests, 200)):
                start = time.perf_counter()
                client.get("/api/v1/orchestrator/executions?limit=1", headers=admin).raise_for_status()
                floor.append((time.perf_counter() - start) * 1000)
    finally:
        server.stop()
        cache_client.close()
    body = response.json()
    return {
        "seed": seeded,
        "outlets": body["network_summary"]["outlets"],
        "payload_bytes": len(response.content),
        "platform_calls_per_cold_request": round(calls_per_cold, 1),
        "cold": _stats(cold),
        "cached": _stats(cached),
        "floor": _stats(floor),
    }


def _sim_calls(simulator_url: str) -> int:
    import httpx

    return int(httpx.get(f"{simulator_url}/sim/calls", timeout=30).json()["total"])
