"""API latency at a fixed request rate: seed rows with SQL, serve with `chalice local`, drive open-loop.

Open loop: request i is due at t0 + i/rate whether or not earlier ones have answered, and its latency is
measured from that instant — a slow server shows up as queueing in the figures instead of silently
lowering the rate (no coordinated omission). Only 127.0.0.1 is targeted; the load stops by itself.
"""

from __future__ import annotations

import random
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from bench.config import ROOT
from chalicelib.domain.models import DAILY_STEPS

API = "/api/v1/orchestrator"
STEPS = DAILY_STEPS


def seed(database_url: str, executions: int, logs: int, *, logged_executions: int = 100) -> dict[str, Any]:
    """`executions` finished runs (newest first, one every few minutes) and `logs` log rows spread over the
    newest `logged_executions` of them (each like a run of logs/logged_executions/6 tenants)."""
    import sqlalchemy as sa

    from chalicelib.db.migrate import upgrade

    upgrade(database_url)
    engine = sa.create_engine(database_url)
    per_execution = max(1, logs // logged_executions)
    started = time.perf_counter()
    steps = "ARRAY[" + ",".join(f"'{s}'" for s in STEPS) + "]"
    with engine.begin() as conn:
        conn.execute(
            sa.text("""
            INSERT INTO orchestrator_executions (id, workflow_name, execution_name, scope, execution_type, run_date,
                status, started_at, completed_at, duration_seconds, tenants_total, tenants_processed,
                tenants_failed, tenants_skipped, steps_total, steps_completed, steps_failed, error_message,
                fencing_token, created_at, updated_at)
            SELECT gen_random_uuid(), 'daily_operations', 'bench-run-' || g, 'Europe/Madrid', 'scheduled',
                DATE '2026-11-30' - (g / 24), s.status,
                TIMESTAMPTZ '2026-11-30 07:00Z' - make_interval(mins => g * 5),
                TIMESTAMPTZ '2026-11-30 07:02Z' - make_interval(mins => g * 5), 120.0,
                1000, CASE WHEN s.status = 'completed' THEN 1000 ELSE 990 END,
                CASE WHEN s.status = 'completed' THEN 0 ELSE 10 END, 3, 6000,
                CASE WHEN s.status = 'completed' THEN 6000 ELSE 5940 END,
                CASE WHEN s.status = 'completed' THEN 0 ELSE 10 END,
                CASE WHEN s.status = 'failed' THEN 'all tenants failed' END, g,
                TIMESTAMPTZ '2026-11-30 07:00Z' - make_interval(mins => g * 5),
                TIMESTAMPTZ '2026-11-30 07:02Z' - make_interval(mins => g * 5)
            FROM generate_series(1, :n) AS g,
                 LATERAL (SELECT CASE WHEN mod(g, 97) = 0 THEN 'failed' WHEN mod(g, 10) = 0
                          THEN 'completed_with_failures' ELSE 'completed' END AS status) AS s
        """),
            {"n": executions},
        )
        conn.execute(
            sa.text(f"""
            INSERT INTO orchestrator_execution_logs (execution_id, tenant_id, step_name, step_index, level,
                message, data, duration_ms, created_at)
            SELECT e.id, 'tenant-' || lpad((g / 6)::text, 6, '0'), ({steps})[mod(g, 6) + 1], mod(g, 6),
                CASE WHEN mod(g, 211) = 0 THEN 'ERROR' ELSE 'INFO' END,
                'step ' || ({steps})[mod(g, 6) + 1] || ' done: ' || mod(g, 60) || ' products',
                jsonb_build_object('products', mod(g, 60), 'total_units', mod(g * 7, 5000)), mod(g, 250)::float,
                e.started_at + make_interval(secs => g * 0.01)
            FROM (SELECT id, started_at FROM orchestrator_executions ORDER BY started_at DESC LIMIT :m) AS e,
                 generate_series(0, :per - 1) AS g
        """),
            {"m": logged_executions, "per": per_execution},
        )
        ids = [
            str(r[0])
            for r in conn.execute(
                sa.text("SELECT id FROM orchestrator_executions ORDER BY started_at DESC LIMIT :m"),
                {"m": logged_executions},
            )
        ]
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(sa.text("VACUUM ANALYZE orchestrator_executions"))
        conn.execute(sa.text("VACUUM ANALYZE orchestrator_execution_logs"))
    engine.dispose()
    return {
        "executions": executions,
        "logs": per_execution * logged_executions,
        "logged_execution_ids": ids,
        "seed_s": round(time.perf_counter() - started, 2),
    }


class ApiServer:
    """`chalice local` on a free 127.0.0.1 port, as `make run` serves the API (localrun.api.LocalApi)."""

    def __init__(self, env: dict[str, str]) -> None:
        from localrun.api import LocalApi

        self.api = LocalApi(env)
        self.env = self.api.env
        self.url = self.api.url

    def start(self, timeout: float = 60) -> ApiServer:
        self.api.start(timeout)
        return self

    def token(self) -> str:
        """An admin token minted with the server's own environment (same stage, same secret)."""
        out = subprocess.run(
            [sys.executable, "-c", "from localrun.tokens import admin_token; print(admin_token())"],
            env=self.env,
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        )
        return out.stdout.strip().splitlines()[-1]

    def stop(self) -> None:
        self.api.stop()


def percentile(sorted_values: list[float], pct: float) -> float | None:
    if not sorted_values:
        return None
    index = min(len(sorted_values) - 1, max(0, int(round(pct / 100 * len(sorted_values) + 0.5)) - 1))
    return sorted_values[index]


def fixed_rate(
    base_url: str,
    path_for: Callable[[int], str],
    *,
    token: str,
    rate: float,
    seconds: float,
    workers: int = 64,
    timeout: float = 10.0,
) -> dict[str, Any]:
    """Issue `rate * seconds` GETs at fixed instants; latency counted from each request's scheduled instant."""
    import httpx

    local = threading.local()
    headers = {"Authorization": f"Bearer {token}"}

    def client() -> httpx.Client:
        if not hasattr(local, "client"):
            local.client = httpx.Client(base_url=base_url, headers=headers, timeout=timeout)
        return local.client

    done_at: list[float] = []

    def one(i: int, due: float) -> tuple[float, int]:
        try:
            status = client().get(path_for(i)).status_code
        except httpx.HTTPError:
            status = 0
        finished = time.perf_counter()
        done_at.append(finished)
        return (finished - due) * 1000, status

    total = int(rate * seconds)
    futures = []
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="api-load") as pool:
        t0 = time.perf_counter() + 0.1
        late_submits = 0
        for i in range(total):
            due = t0 + i / rate
            pause = due - time.perf_counter()
            if pause > 0:
                time.sleep(pause)
            elif pause < -0.005:
                late_submits += 1  # the client itself fell behind (its latency still counts from `due`)
            futures.append(pool.submit(one, i, due))
        results = [f.result() for f in futures]
        elapsed = time.perf_counter() - t0
    latencies = sorted(ms for ms, status in results if status == 200)
    errors = sum(1 for _, status in results if status != 200)
    return {
        "requests": total,
        "ok": len(latencies),
        "errors": errors,
        "rate": rate,
        "achieved_rate": round(total / elapsed, 1),
        "late_submits": late_submits,
        # What the server actually answered per second (below `rate` when it is saturated).
        "served_per_s": round(len(done_at) / (max(done_at) - t0), 1) if done_at else None,
        "p50_ms": _r(percentile(latencies, 50)),
        "p95_ms": _r(percentile(latencies, 95)),
        "p99_ms": _r(percentile(latencies, 99)),
        "max_ms": _r(latencies[-1] if latencies else None),
    }


def _r(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def run(
    database_url: str, redis_url: str, redis_prefix: str, *, executions: int, logs: int, rate: float, seconds: float
) -> dict[str, Any]:
    seeded = seed(database_url, executions, logs)
    server = ApiServer(
        {
            "DATABASE_URL": database_url,
            "REDIS_URL": redis_url,
            "REDIS_KEY_PREFIX": redis_prefix,
            "STAGE": "local",
            "POWERTOOLS_LOG_LEVEL": "ERROR",
            "AWS_DEFAULT_REGION": "eu-west-1",
        }
    )
    server.start()
    try:
        token = server.token()
        ids = seeded["logged_execution_ids"]
        rng = random.Random(5)
        tenants = [f"tenant-{i:06d}" for i in range(max(1, seeded["logs"] // len(ids) // 6))]
        log_paths = [
            f"{API}/executions/{rng.choice(ids)}/logs?limit=200"
            + (f"&tenant_id={rng.choice(tenants)}" if i % 2 else "")
            for i in range(1000)
        ]

        def executions_path(i: int) -> str:
            # The console's view (first page) and, every 4th request, a status filter.
            return f"{API}/executions?status=completed_with_failures" if i % 4 == 3 else f"{API}/executions"

        def logs_path(i: int) -> str:
            return log_paths[i % len(log_paths)]

        import httpx

        with httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {token}"}, timeout=30) as c:
            for i in range(20):  # warm-up: imports, connection pool, Postgres caches
                for path in (executions_path(i), logs_path(i)):
                    response = c.get(path)
                    if response.status_code != 200:
                        raise RuntimeError(f"GET {path}: {response.status_code} {response.text[:300]}")
        half = seconds / 2
        return {
            "seed": {k: v for k, v in seeded.items() if k != "logged_execution_ids"},
            "executions": fixed_rate(server.url, executions_path, token=token, rate=rate, seconds=half),
            "logs": fixed_rate(server.url, logs_path, token=token, rate=rate, seconds=half),
        }
    finally:
        server.stop()
