"""The benchmark's knobs (environment variables) and the issue's targets, in one place."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SECTIONS = ("e2e", "peer", "bare", "coldstart", "ingest", "api", "enterprise", "console")


def _ints(text: str) -> list[int]:
    return [int(part) for part in text.replace(" ", "").split(",") if part]


@dataclass(frozen=True)
class Config:
    quick: bool
    tenants: list[int]
    peer_tenants: int
    bare_tenants: list[int]
    only: frozenset[str]
    concurrency: int
    pg_admin_url: str
    redis_url: str
    ingest_rows: int
    ingest_batch: int
    ingest_step_rows: int
    api_executions: int
    api_logs: int
    api_rate: float
    api_seconds: float
    enterprise_cold: int
    enterprise_cached: int
    coldstart_repeats: int
    console_tenants: int
    e2e_timeout: float
    output: Path
    pid: int = field(default_factory=os.getpid)

    @property
    def database(self) -> str:
        return f"bench_{self.pid}"

    @property
    def database_url(self) -> str:
        return self.pg_admin_url.rsplit("/", 1)[0] + f"/{self.database}"

    @property
    def redis_prefix(self) -> str:
        return f"bench-{self.pid}"

    def wants(self, section: str) -> bool:
        return section in self.only


def load() -> Config:
    env = os.environ
    quick = env.get("BENCH_QUICK", "") not in ("", "0")
    tenants = _ints(env.get("BENCH_TENANTS") or ("200" if quick else "1000,10000"))
    # The peer (stock moto) runs at 1,000 tenants (the figure), or the smallest size asked for.
    default_peer = 1000 if 1000 in tenants else min(tenants)
    only = frozenset(_names(env.get("BENCH_ONLY", ""))) or frozenset(SECTIONS)
    unknown = only - set(SECTIONS)
    if unknown:
        raise SystemExit(f"BENCH_ONLY: unknown section(s) {sorted(unknown)}; choose from {', '.join(SECTIONS)}")
    return Config(
        quick=quick,
        tenants=tenants,
        peer_tenants=int(env.get("BENCH_PEER_TENANTS") or default_peer),
        bare_tenants=_ints(env.get("BENCH_BARE_TENANTS") or ",".join(map(str, tenants))),
        only=only,
        concurrency=int(env.get("MAP_MAX_CONCURRENCY") or _local_stage_concurrency()),
        pg_admin_url=env.get("BENCH_PG_ADMIN_URL", "postgresql+pg8000://postgres@127.0.0.1:5432/postgres"),
        redis_url=env.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/3"),
        ingest_rows=int(env.get("BENCH_INGEST_ROWS") or (20_000 if quick else 200_000)),
        ingest_batch=int(env.get("BENCH_INGEST_BATCH") or 1_000),
        ingest_step_rows=int(env.get("BENCH_INGEST_STEP_ROWS") or (2_000 if quick else 20_000)),
        api_executions=int(env.get("BENCH_API_EXECUTIONS") or (10_000 if quick else 100_000)),
        api_logs=int(env.get("BENCH_API_LOGS") or (100_000 if quick else 1_000_000)),
        api_rate=float(env.get("BENCH_API_RATE") or 200),
        api_seconds=float(env.get("BENCH_API_SECONDS") or (10 if quick else 20)),
        enterprise_cold=int(env.get("BENCH_ENTERPRISE_COLD") or (20 if quick else 100)),
        enterprise_cached=int(env.get("BENCH_ENTERPRISE_CACHED") or (200 if quick else 1000)),
        coldstart_repeats=int(env.get("BENCH_COLDSTART_REPEATS") or (3 if quick else 5)),
        console_tenants=int(env.get("BENCH_CONSOLE_TENANTS") or (1_000 if quick else 10_000)),
        e2e_timeout=float(env.get("BENCH_E2E_TIMEOUT") or 3600),
        output=Path(env.get("BENCH_OUTPUT") or ROOT / "bench" / "results.json"),
    )


def _local_stage_concurrency() -> int:
    """The Map concurrency `make run` uses (the local stage's config), so the benchmark measures that."""
    config = json.loads((ROOT / ".chalice" / "config.json").read_text(encoding="utf-8"))
    local = config.get("stages", {}).get("local", {}).get("environment_variables", {})
    return int(
        local.get("MAP_MAX_CONCURRENCY") or config.get("environment_variables", {}).get("MAP_MAX_CONCURRENCY") or 40
    )  # 40: the settings default


def _names(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


# The targets (measured on a 2-core machine): (label, comparison, value, unit).
TARGETS: dict[str, tuple[str, float, str]] = {
    "overhead_ms_per_task": ("<=", 1.0, "ms (stock moto ~14 ms)"),
    "e2e_10000_wall_s": ("<=", 120.0, "s"),
    "ratio_orchestrated_bare": ("<=", 1.5, "x"),
    "eur_per_tenant_day": ("<=", 0.0001, "EUR (seed: 0.01-0.05)"),
    "coldstart_ms": ("<=", 250.0, "ms"),
    "ingest_rows_per_s": (">=", 20_000.0, "rows/s"),
    "api_p99_ms": ("<=", 50.0, "ms at 200 req/s"),
    "console_load_ms": ("<=", 1000.0, "ms (10,000 tenants)"),
}


def met(target: str, value: float | None) -> bool | None:
    if value is None:
        return None
    op, limit, _ = TARGETS[target]
    return value <= limit if op == "<=" else value >= limit
