"""`make bench` (`python -m bench`): the orchestrator's speed, memory and cost, each beside its target.

Sections (BENCH_ONLY=e2e,peer,bare,coldstart,ingest,api,enterprise; default all):
  e2e        the daily run on the local cloud (patched moto), real handlers, Postgres, simulator over HTTP
             in its own process — one fresh subprocess per size (BENCH_TENANTS, default 1000,10000)
  peer       the same run on stock moto speed (LOCALCLOUD_SPEEDUPS=0) at BENCH_PEER_TENANTS (1000)
  bare       the same handlers called directly (thread pool of MAP_MAX_CONCURRENCY) at each size
  coldstart  `import app` + the first call of a step handler in a fresh interpreter
  ingest     audit-log rows/s through chalicelib.db.logs.add_logs
  api        GET executions / logs at a fixed rate against seeded rows, served by `chalice local`
  enterprise the enterprise dashboard of the 50-outlet network, cold (computed) and cached, one at a time
  console    the console page for an execution of BENCH_CONSOLE_TENANTS (10,000) in headless Chromium
Derived: orchestrated/bare, emulator overhead per Lambda task, AWS cost per tenant per day.

BENCH_QUICK=1 is a smoke run (200 tenants, small datasets). Results go to bench/results.json. The benchmark
reports; it never fails on a missed target. Numbers are noisy on a shared machine: compare ratios.
"""

from __future__ import annotations

import json
import platform
import shutil
import signal
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from rich.console import Console
from rich.table import Table

from bench import config as bench_config
from bench.common import (
    Simulator,
    clear_redis,
    drop_database,
    recreate_database,
    run_worker,
    worker_env,
)
from bench.config import TARGETS, Config, met

console = Console(stderr=True)


class Bench:
    def __init__(self, cfg: Config) -> None:
        self.cfg = cfg
        self.simulator = Simulator()
        self.data_dir = tempfile.mkdtemp(prefix=f"bench-{cfg.pid}-")
        self.results: dict[str, Any] = {
            "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "machine": {"python": platform.python_version(), "cpus": _cpus(), "platform": platform.platform()},
            "config": {
                "quick": cfg.quick,
                "tenants": cfg.tenants,
                "peer_tenants": cfg.peer_tenants,
                "bare_tenants": cfg.bare_tenants,
                "map_max_concurrency": cfg.concurrency,
                "sections": sorted(cfg.only),
                "database": cfg.database,
                "redis_prefix": cfg.redis_prefix,
            },
            "e2e": {},
            "peer": {},
            "bare": {},
            "errors": {},
        }
        self._counts: dict[int, dict[str, Any]] = {}

    # --- plumbing ----------------------------------------------------------------------------------------
    def _fresh(self) -> str:
        clear_redis(self.cfg)
        return recreate_database(self.cfg)

    def _section(self, key: str, fn: Callable[[], Any], *where: str) -> Any:
        """Run one section; its value lands at results[where...] and is saved at once (a long run that is
        interrupted keeps what it measured)."""
        console.print(f"[bold]{key}[/] ...")
        started = time.monotonic()
        try:
            value = fn()
        except Exception as exc:  # noqa: BLE001 - one broken section must not lose the others' figures
            console.print(f"[red]{key} failed: {exc}[/]")
            self.results["errors"][key] = f"{type(exc).__name__}: {exc}\n{traceback.format_exc(limit=3)}"
            value = None
        console.print(f"  {key}: {time.monotonic() - started:.1f} s")
        bucket = self.results
        for part in where[:-1]:
            bucket = bucket[part]
        bucket[where[-1]] = value
        self.save()
        return value

    def save(self) -> None:
        self.cfg.output.parent.mkdir(parents=True, exist_ok=True)
        self.cfg.output.write_text(json.dumps(self.results, indent=2, default=str) + "\n", encoding="utf-8")

    def _tenants(self, n: int) -> None:
        from bakery_sim.tenants import synthetic_tenants

        self.simulator.set_tenants(synthetic_tenants(n))

    # --- sections -----------------------------------------------------------------------------------------
    def e2e(self, size: int, *, speedups: bool) -> dict[str, Any]:
        database_url = self._fresh()
        self._tenants(size)
        stage = f"bench{size}" if speedups else f"benchpeer{size}"
        env = worker_env(self.cfg, database_url, self.simulator.url, LOCALCLOUD_SPEEDUPS="1" if speedups else "0")
        result = run_worker(
            "e2e",
            {"tenants": size, "stage": stage, "data_dir": self.data_dir, "timeout": self.cfg.e2e_timeout},
            env,
            timeout=self.cfg.e2e_timeout + 900,
        )
        counts = result.pop("counts")
        result["cost"] = _cost(counts)
        if speedups:
            self._counts[size] = counts  # for the uncontended estimate once the bare run has timed the steps
        return result

    def bare(self, size: int) -> dict[str, Any]:
        database_url = self._fresh()
        self._tenants(size)
        env = worker_env(self.cfg, database_url, self.simulator.url)
        return run_worker("bare", {"tenants": size, "data_dir": self.data_dir}, env, timeout=self.cfg.e2e_timeout + 900)

    def coldstart(self) -> dict[str, Any]:
        database_url = self._fresh()
        from bakery_sim.tenants import synthetic_tenants

        tenants = synthetic_tenants(self.cfg.coldstart_repeats)
        self.simulator.set_tenants(tenants)
        env = worker_env(self.cfg, database_url, self.simulator.url)
        prep = run_worker("coldstart_prep", {}, env, timeout=300)
        # The Lambda's environment: the stage's config variables plus what the deployment adds.
        child_env = {
            **env,
            **prep["environment"],
            "STAGE": "benchcold",
            "DATABASE_URL": database_url,
            "REDIS_URL": self.cfg.redis_url,
            "PLATFORM_BASE_URL": self.simulator.url,
            "POWERTOOLS_LOG_LEVEL": "ERROR",
        }
        samples = []
        for tenant in tenants:
            event = {
                "run": prep["run"],
                "tenant": {k: tenant[k] for k in ("id", "name", "subscription_tier", "timezone")},
            }
            samples.append(run_worker("coldstart", event, child_env, timeout=120, module="bench.coldstart_child"))
        by_total = sorted(samples, key=lambda s: s["import_ms"] + s["first_call_ms"])
        median = by_total[len(by_total) // 2]
        return {
            "samples": samples,
            "import_ms": median["import_ms"],
            "first_call_ms": median["first_call_ms"],
            "total_ms": round(median["import_ms"] + median["first_call_ms"], 1),
            "warm_call_ms": median["warm_call_ms"],
            "process_wall_ms": round(median["process_wall_s"] * 1000, 1),
        }

    def ingest(self) -> dict[str, Any]:
        database_url = self._fresh()
        env = worker_env(self.cfg, database_url, self.simulator.url)
        return run_worker(
            "ingest",
            {
                "rows": self.cfg.ingest_rows,
                "batch": self.cfg.ingest_batch,
                "step_rows": self.cfg.ingest_step_rows,
                "concurrency": self.cfg.concurrency,
            },
            env,
            timeout=1800,
        )

    def api(self) -> dict[str, Any]:
        from bench import api_load

        database_url = self._fresh()
        return api_load.run(
            database_url,
            self.cfg.redis_url,
            self.cfg.redis_prefix,
            executions=self.cfg.api_executions,
            logs=self.cfg.api_logs,
            rate=self.cfg.api_rate,
            seconds=self.cfg.api_seconds,
        )

    def enterprise(self) -> dict[str, Any]:
        from bench import enterprise_load

        database_url = self._fresh()
        return enterprise_load.run(
            database_url,
            self.cfg.redis_url,
            self.cfg.redis_prefix,
            self.simulator.url,
            cold_requests=self.cfg.enterprise_cold,
            cached_requests=self.cfg.enterprise_cached,
        )

    def console(self) -> dict[str, Any]:
        from bench import console_load

        database_url = self._fresh()
        return console_load.run(
            database_url, self.cfg.redis_url, self.cfg.redis_prefix, tenants=self.cfg.console_tenants
        )

    def _uncontended_cost(self, size: int) -> None:
        """The cost again with each tenant step billed at its one-at-a-time duration (bare section): on AWS
        every Lambda has its own CPU, here 40 share one GIL and their measured durations are inflated."""
        counts, bare = self._counts.get(size), self.results["bare"].get(str(size))
        e2e = self.results["e2e"].get(str(size))
        if not (counts and bare and e2e and bare.get("uncontended_step_ms")):
            return
        step_ms: dict[str, float] = bare["uncontended_step_ms"]
        invocations = [
            (memory, step_ms.get(fn, duration))
            for (memory, duration), fn in zip(counts["lambda_invocations"], counts["lambda_functions"], strict=True)
        ]
        chain = sum(
            step_ms.get(s, 0.0)
            for s in ("generate_forecasts", "plan_production", "calculate_procurement", "project_inventory")
        )
        child_ms = max(chain, step_ms.get("validate_forecasts", 0.0)) + step_ms.get("send_daily_summary", 0.0)
        e2e["cost_uncontended"] = _cost(
            {
                **counts,
                "lambda_invocations": invocations,
                "express_durations_ms": [child_ms] * len(counts["express_durations_ms"]),
            }
        )
        self.save()

    # --- the whole benchmark ------------------------------------------------------------------------------
    def run(self) -> dict[str, Any]:
        cfg = self.cfg
        needs_simulator = cfg.only & {"e2e", "peer", "bare", "coldstart", "enterprise"}
        try:
            if needs_simulator:
                self.simulator.start()
            for size in sorted(set(cfg.tenants) | set(cfg.bare_tenants)):
                if cfg.wants("e2e") and size in cfg.tenants:
                    self._section(
                        f"e2e {size} tenants", lambda size=size: self.e2e(size, speedups=True), "e2e", str(size)
                    )
                if cfg.wants("bare") and size in cfg.bare_tenants:
                    self._section(f"bare {size} tenants", lambda size=size: self.bare(size), "bare", str(size))
                self._uncontended_cost(size)
            if cfg.wants("peer"):
                self._section(
                    f"peer (stock moto) {cfg.peer_tenants} tenants",
                    lambda: self.e2e(cfg.peer_tenants, speedups=False),
                    "peer",
                    str(cfg.peer_tenants),
                )
            if cfg.wants("coldstart"):
                self._section("cold start", self.coldstart, "coldstart")
            if cfg.wants("ingest"):
                self._section("ingestion", self.ingest, "ingest")
            if cfg.wants("api"):
                self._section("api", self.api, "api")
            if cfg.wants("enterprise"):
                self._section("enterprise dashboard", self.enterprise, "enterprise")
            if cfg.wants("console"):
                self._section("console", self.console, "console")
        finally:
            self.simulator.stop()
            shutil.rmtree(self.data_dir, ignore_errors=True)
            try:
                clear_redis(cfg)
                drop_database(cfg)
            except Exception as exc:  # noqa: BLE001 - cleanup problems are reported, results are kept
                console.print(f"[yellow]cleanup: {exc}[/]")
        self.results["derived"] = derive(self.results)
        self.results["finished_at"] = datetime.now(UTC).isoformat(timespec="seconds")
        self.save()
        return self.results


def _cpus() -> int:
    import os

    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def _cost(counts: dict[str, Any]) -> dict[str, Any]:
    from chalicelib.domain.costs import estimate_run_cost

    estimate = estimate_run_cost(counts)
    lambda_ms = [d for _, d in counts["lambda_invocations"]]
    estimate["counts"] = {
        k: v for k, v in counts.items() if k not in ("express_durations_ms", "lambda_invocations", "lambda_functions")
    }
    estimate["counts"]["lambda_ms_total"] = round(sum(lambda_ms), 1)
    estimate["counts"]["express_ms_total"] = round(sum(counts["express_durations_ms"]), 1)
    return estimate


def derive(results: dict[str, Any]) -> dict[str, Any]:
    """Ratios from one run: orchestrated/bare and overhead per Lambda task at every size both ran."""
    derived: dict[str, Any] = {"per_size": {}}
    for size, e2e in results["e2e"].items():
        bare = results["bare"].get(size)
        row: dict[str, Any] = {}
        if e2e and bare:
            row["ratio_orchestrated_bare"] = round(e2e["wall_s"] / bare["wall_s"], 2)
            row["overhead_ms_per_task"] = round((e2e["wall_s"] - bare["wall_s"]) * 1000 / e2e["lambda_tasks"], 2)
        if e2e:
            row["projected_10000_wall_s"] = round(e2e["wall_s"] / int(size) * 10_000, 1)
            row["eur_per_tenant_day"] = e2e["cost"]["eur_per_tenant"]
        derived["per_size"][size] = row
    for size, peer in results["peer"].items():
        e2e, bare = results["e2e"].get(size), results["bare"].get(size)
        if peer and e2e:
            derived["peer_over_patched"] = round(peer["wall_s"] / e2e["wall_s"], 2)
        if peer and bare:
            derived["peer_overhead_ms_per_task"] = round(
                (peer["wall_s"] - bare["wall_s"]) * 1000 / peer["lambda_tasks"], 2
            )
            derived["peer_ratio_orchestrated_bare"] = round(peer["wall_s"] / bare["wall_s"], 2)
    return derived


# --- the table -------------------------------------------------------------------------------------------
def _fmt(value: float | None, digits: int = 1) -> str:
    if value is None:
        return "-"
    return f"{value:,.{digits}f}"


def _verdict(ok: bool | None) -> str:
    return "-" if ok is None else ("[green]met[/]" if ok else "[red]not met[/]")


def _target(key: str) -> str:
    op, limit, unit = TARGETS[key]
    return f"{op} {limit:g} {unit}"


def table(results: dict[str, Any]) -> Table:
    t = Table(
        title=f"make bench ({'quick' if results['config']['quick'] else 'full'}; "
        f"{results['machine']['cpus']} CPUs; MAP_MAX_CONCURRENCY={results['config']['map_max_concurrency']})"
    )
    for column in ("figure", "measured", "baseline / target", ""):
        t.add_column(column)
    derived = results.get("derived", {})
    for size, e2e in results["e2e"].items():
        n = int(size)
        if not e2e:
            t.add_row(f"end to end, {n:,} tenants", "[red]failed[/]", "", "")
            continue
        status = f"{e2e['summary'].get('status')}, {e2e['summary'].get('tenants_failed')} failed"
        if n == 10_000:
            t.add_row(
                f"end to end, {n:,} tenants: wall",
                f"{_fmt(e2e['wall_s'])} s ({status})",
                _target("e2e_10000_wall_s"),
                _verdict(met("e2e_10000_wall_s", e2e["wall_s"])),
            )
        else:
            projected = derived.get("per_size", {}).get(size, {}).get("projected_10000_wall_s")
            t.add_row(
                f"end to end, {n:,} tenants: wall",
                f"{_fmt(e2e['wall_s'])} s ({status}); linear to 10,000: {_fmt(projected)} s",
                f"10,000 tenants {_target('e2e_10000_wall_s')}",
                _verdict(met("e2e_10000_wall_s", projected)),
            )
        t.add_row(
            f"end to end, {n:,} tenants: throughput / memory",
            f"{_fmt(e2e['tenants_per_s'])} tenants/s; peak RSS {_fmt(e2e['peak_rss_mb'], 0)} MB; "
            f"CPU {e2e['cpu_share']:.2f} cores",
            "-",
            "",
        )
    for size, bare in results["bare"].items():
        if bare:
            t.add_row(
                f"bare handlers, {int(size):,} tenants",
                f"{_fmt(bare['wall_s'])} s; "
                f"{_fmt(bare['tenants_per_s'])} tenants/s; RSS {_fmt(bare['peak_rss_mb'], 0)} MB",
                "-",
                "",
            )
    for size, row in derived.get("per_size", {}).items():
        if "ratio_orchestrated_bare" in row:
            t.add_row(
                f"orchestrated / bare, {int(size):,} tenants",
                f"{row['ratio_orchestrated_bare']:.2f}x",
                _target("ratio_orchestrated_bare"),
                _verdict(met("ratio_orchestrated_bare", row["ratio_orchestrated_bare"])),
            )
            t.add_row(
                f"emulator overhead per Lambda task, {int(size):,}",
                f"{row['overhead_ms_per_task']:.2f} ms",
                _target("overhead_ms_per_task"),
                _verdict(met("overhead_ms_per_task", row["overhead_ms_per_task"])),
            )
    for size, peer in results["peer"].items():
        if not peer:
            t.add_row(f"stock moto, {int(size):,} tenants", "[red]failed[/]", "", "")
            continue
        t.add_row(
            f"stock moto (peer), {int(size):,} tenants",
            f"{_fmt(peer['wall_s'])} s; {_fmt(peer['tenants_per_s'])} tenants/s; RSS {_fmt(peer['peak_rss_mb'], 0)} MB",
            "-",
            "",
        )
        if "peer_over_patched" in derived:
            t.add_row("stock moto / patched", f"{derived['peer_over_patched']:.2f}x", "~20x (DESIGN §4)", "")
        if "peer_overhead_ms_per_task" in derived:
            t.add_row(
                "stock moto overhead per Lambda task",
                f"{derived['peer_overhead_ms_per_task']:.2f} ms",
                "~14 ms (DESIGN §4)",
                "",
            )
    for size, e2e in results["e2e"].items():
        if e2e:
            cost = e2e["cost"]
            t.add_row(
                f"AWS cost per tenant per day ({int(size):,} run, durations as measured)",
                f"{cost['eur_per_tenant']:.7f} EUR (run {cost['eur_total']:.4f} EUR)",
                _target("eur_per_tenant_day"),
                _verdict(met("eur_per_tenant_day", cost["eur_per_tenant"])),
            )
            quiet = e2e.get("cost_uncontended")
            if quiet:
                t.add_row(
                    f"AWS cost per tenant per day ({int(size):,} run, steps uncontended)",
                    f"{quiet['eur_per_tenant']:.7f} EUR (run {quiet['eur_total']:.4f} EUR)",
                    _target("eur_per_tenant_day"),
                    _verdict(met("eur_per_tenant_day", quiet["eur_per_tenant"])),
                )
    cold = results.get("coldstart")
    if cold:
        t.add_row(
            "step cold start (import app + first call)",
            f"{_fmt(cold['total_ms'])} ms ({_fmt(cold['import_ms'])} import + {_fmt(cold['first_call_ms'])} "
            f"first call)",
            _target("coldstart_ms"),
            _verdict(met("coldstart_ms", cold["total_ms"])),
        )
    ing = results.get("ingest")
    if ing:
        t.add_row(
            f"log ingestion, add_logs x{ing['batch']:,} rows",
            f"{_fmt(ing['rows_per_s'], 0)} rows/s ({ing['rows']:,} rows)",
            _target("ingest_rows_per_s"),
            _verdict(met("ingest_rows_per_s", ing["rows_per_s"])),
        )
        t.add_row(
            f"log ingestion, 1 row/txn x{ing['step_concurrency']} threads (as steps)",
            f"{_fmt(ing['step_rows_per_s'], 0)} rows/s ({ing['step_rows']:,} rows)",
            "-",
            "",
        )
    api = results.get("api")
    if api:
        for name in ("executions", "logs"):
            a = api[name]
            label = "GET /executions" if name == "executions" else "GET /executions/{id}/logs"
            t.add_row(
                f"{label} @ {a['rate']:g}/s",
                f"p50 {_fmt(a['p50_ms'])} / p95 {_fmt(a['p95_ms'])} / "
                f"p99 {_fmt(a['p99_ms'])} ms; served {_fmt(a.get('served_per_s'))}/s; {a['errors']} errors",
                _target("api_p99_ms"),
                _verdict(met("api_p99_ms", a["p99_ms"]) if not a["errors"] else False),
            )
    ent = results.get("enterprise")
    if ent:
        for name in ("cold", "cached"):
            e = ent[name]
            t.add_row(
                f"enterprise dashboard, {ent['outlets']} outlets, {name}",
                f"p50 {_fmt(e['p50_ms'])} / p95 {_fmt(e['p95_ms'])} / p99 {_fmt(e['p99_ms'])} ms "
                f"({e['requests']} requests one at a time"
                + (f"; {ent['platform_calls_per_cold_request']:g} platform calls each)" if name == "cold" else ")"),
                "-",
                "",
            )
        floor = ent["floor"]
        t.add_row(
            "  (chalice local's own floor: GET /executions?limit=1)",
            f"p50 {_fmt(floor['p50_ms'])} / p99 {_fmt(floor['p99_ms'])} ms",
            "-",
            "",
        )
    page = results.get("console")
    if page:
        t.add_row(
            f"console page, execution of {page['tenants']:,} tenants (new browser context)",
            f"median {_fmt(page['page_load_median_ms'])} ms, first {_fmt(page['page_load_cold_ms'])} ms "
            f"({len(page['page_load_ms'])} loads)",
            _target("console_load_ms"),
            _verdict(met("console_load_ms", page["page_load_median_ms"])),
        )
        t.add_row(
            "console routes (median of 5)",
            "; ".join(f"{name} {ms:.0f} ms" for name, ms in page["route_ms"].items()),
            "-",
            "",
        )
    for key in results.get("errors", {}):
        t.add_row(key, "[red]error (see results.json)[/]", "", "")
    return t


def _stop(_signum: int, _frame: Any) -> None:
    raise KeyboardInterrupt  # a plain `kill` still drops the database and the Redis keys (finally blocks)


def main() -> int:
    signal.signal(signal.SIGTERM, _stop)
    cfg = bench_config.load()
    console.print(
        f"[bold]make bench[/]: sections {', '.join(s for s in bench_config.SECTIONS if cfg.wants(s))}; "
        f"tenants {cfg.tenants}; database {cfg.database}; Redis {cfg.redis_url} prefix {cfg.redis_prefix}"
    )
    results = Bench(cfg).run()
    out = Console()
    if not out.is_terminal:  # piped or logged: don't squeeze the table into 80 columns
        out = Console(width=150)
    out.print(table(results))
    print(f"results: {cfg.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
