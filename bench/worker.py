"""One measurement in a fresh interpreter: `python -m bench.worker <kind> <json args>`.

Each run gets its own process so its peak RSS (ru_maxrss) and moto's process-wide state are its own.
The parent passes the database, Redis, simulator and key prefix in BENCH_* / REDIS_KEY_PREFIX variables.
"""

from __future__ import annotations

import json
import logging
import os
import resource
import statistics
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from bench.common import emit

RUN_AT = datetime(2026, 11, 30, 7, 0, tzinfo=UTC)  # 08:00 Europe/Madrid: the daily run is due
RUN_DATE = date(2026, 11, 30)
SCOPE = "Europe/Madrid"


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def _cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _log(message: str) -> None:
    print(f"  [{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def _function_memory() -> dict[str, int]:
    from infra.resources import functions

    return {spec.name: spec.memory for spec in functions("prod")}


class _S3Counter:
    """Counts S3 object PUTs and GETs reaching moto's backend (the manifest write and the ItemReader)."""

    def __init__(self) -> None:
        from moto.s3.models import S3Backend

        self.puts = self.gets = 0
        put, get = S3Backend.put_object, S3Backend.get_object
        counter = self

        def put_object(backend: Any, *args: Any, **kwargs: Any) -> Any:
            counter.puts += 1
            return put(backend, *args, **kwargs)

        def get_object(backend: Any, *args: Any, **kwargs: Any) -> Any:
            counter.gets += 1
            return get(backend, *args, **kwargs)

        S3Backend.put_object, S3Backend.get_object = put_object, get_object  # benchmark process only

    def reset(self) -> None:
        self.puts = self.gets = 0


def _retrying(read: Any, attempts: int = 10) -> Any:
    """A read of ours (not the product's) that rides out a Postgres restart by another user of the machine."""
    for attempt in range(attempts):
        try:
            return read()
        except Exception as exc:
            if attempt == attempts - 1:
                raise
            _log(f"read failed ({type(exc).__name__}); retrying")
            time.sleep(3)
    return None


def _wait(stack: Any, name: str, stage: str, started: float, timeout: float) -> str:
    """Poll Step Functions (no database) until the run ends; progress from the database is best effort."""
    sfn = stack.cloud.client("stepfunctions")
    arn = stack.execution_arn(name)
    last = time.perf_counter()
    while True:
        status = str(sfn.describe_execution(executionArn=arn)["status"])
        if status in ("SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"):
            return status
        now = time.perf_counter()
        if now - started > timeout:
            raise TimeoutError(f"{name} still {status} after {timeout:.0f} s")
        if now - last >= 15:
            last = now
            try:
                p = stack.progress(name)
                _log(
                    f"{stage}: {p['tenants_processed'] + p['tenants_failed']}/{p['tenants_total']} tenants, "
                    f"{now - started:.0f} s"
                )
            except Exception as exc:  # noqa: BLE001 - progress is only a display
                _log(f"{stage}: progress unavailable ({type(exc).__name__}), {now - started:.0f} s")
        time.sleep(0.5)


# --- 1 and 2: the daily run on the local cloud ----------------------------------------------------------
def e2e(args: dict[str, Any]) -> dict[str, Any]:
    from bakery_sim.tenants import synthetic_tenants
    from bench.accounting import run_counts
    from localrun.stack import Stack

    size, stage = int(args["tenants"]), str(args["stage"])
    s3 = _S3Counter()
    stack = Stack(
        database_url=os.environ["BENCH_DATABASE_URL"],
        redis_url=os.environ["BENCH_REDIS_URL"],
        tenants=synthetic_tenants(size),
        data_dir=Path(args["data_dir"]),
        stage=stage,
        simulator_url=os.environ["BENCH_SIMULATOR_URL"],
        extra_env={k: os.environ[k] for k in ("MAP_MAX_CONCURRENCY", "REDIS_KEY_PREFIX", "POWERTOOLS_LOG_LEVEL")},
    )
    setup_started = time.perf_counter()
    with stack:
        setup_s = time.perf_counter() - setup_started
        s3.reset()
        cpu0, started = _cpu_s(), time.perf_counter()
        firings = stack.fire(RUN_AT)
        fire_s = time.perf_counter() - started
        runs = [run for d in stack.dispatches(firings) for run in d["runs"] if run["outcome"] == "started"]
        if not runs:
            raise RuntimeError(f"no run started at {RUN_AT}: {[f.response_payload for f in firings]}")
        name = runs[0]["execution_name"]
        sfn_status = _wait(stack, name, stage, started, float(args["timeout"]))
        wall_s = time.perf_counter() - started
        summary = _retrying(lambda: stack.summary(name))
        cpu_s = _cpu_s() - cpu0
        rss_mb = _peak_rss_mb()  # before reading 10,000 histories back
        history_started = time.perf_counter()
        events = stack.history(name)
        history_s = time.perf_counter() - history_started
        counts = run_counts(events, _function_memory(), tenants=size)
        # The clock's own Lambda targets (dispatch, drain, sweep) are not in any history: add them,
        # each billed at its share of the fire() wall time (an upper bound: it includes StartExecution).
        lambda_firings = [f for f in firings if ":function:" in f.target_arn]
        memory = _function_memory()
        for firing in lambda_firings:
            fn = next((n for n in memory if firing.target_arn.endswith(f"-{n}")), "dispatch")
            counts["lambda_invocations"].append((memory.get(fn, 128), fire_s * 1000 / len(lambda_firings)))
            counts["lambda_functions"].append(fn)
            counts["lambda_requests_by_function"][fn] = counts["lambda_requests_by_function"].get(fn, 0) + 1
        counts["s3_put_requests"], counts["s3_get_requests"] = s3.puts, s3.gets
    lambda_durations = [d for _, d in counts["lambda_invocations"]]
    return {
        "tenants": size,
        "speedups": os.environ.get("LOCALCLOUD_SPEEDUPS", "1") != "0",
        "execution_name": name,
        "sfn_status": sfn_status,
        "summary": summary,
        "wall_s": round(wall_s, 3),
        "tenants_per_s": round(size / wall_s, 2),
        "cpu_s": round(cpu_s, 2),
        "cpu_share": round(cpu_s / wall_s, 2),
        "peak_rss_mb": round(_peak_rss_mb(), 1),
        "peak_rss_mb_at_run_end": round(rss_mb, 1),
        "setup_s": round(setup_s, 2),
        "history_read_s": round(history_s, 2),
        "lambda_tasks": len(counts["lambda_invocations"]),
        "lambda_ms_median": round(statistics.median(lambda_durations), 1) if lambda_durations else None,
        "child_ms_median": round(statistics.median(counts["express_durations_ms"]), 1)
        if counts["express_durations_ms"]
        else None,
        "counts": counts,
    }


# --- 3: the same handlers called directly ---------------------------------------------------------------
class _Context:
    """The bits of the Lambda context the handlers may read."""

    def __init__(self, name: str) -> None:
        self.function_name = name
        self.aws_request_id = "bench"
        self.invoked_function_arn = f"arn:aws:lambda:eu-west-1:123456789012:function:{name}"
        self.memory_limit_in_mb = 256

    def get_remaining_time_in_millis(self) -> int:
        return 25_000


def _handler_environment(stage: str, extra: dict[str, str]) -> None:
    """What the local cloud's Lambda runner gives every function: the stage's config env plus ours."""
    from chalicelib.runtime import reset
    from infra.resources import functions

    spec = functions("local")[0]
    # The Map concurrency is the benchmark's (same for the orchestrated and the bare run), not the stage's.
    os.environ.update(
        {
            **spec.environment,
            **extra,
            "STAGE": stage,
            "MAP_MAX_CONCURRENCY": os.environ.get("MAP_MAX_CONCURRENCY", "40"),
        }
    )
    reset()


def bare(args: dict[str, Any]) -> dict[str, Any]:
    from localcloud.server import LocalCloud

    size, stage = int(args["tenants"]), "benchbare"
    cloud = LocalCloud().start()  # only S3, for the manifest ListTenants writes
    bucket = f"bakery-orchestrator-{stage}-manifests"
    cloud.client("s3").create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": cloud.region})
    _handler_environment(
        stage,
        {
            **cloud.env(),
            "DATABASE_URL": os.environ["BENCH_DATABASE_URL"],
            "REDIS_URL": os.environ["BENCH_REDIS_URL"],
            "PLATFORM_BASE_URL": os.environ["BENCH_SIMULATOR_URL"],
            "MANIFEST_BUCKET": bucket,
            "EVENT_LOG_PATH": str(Path(args["data_dir"]) / "events.jsonl"),
        },
    )
    from chalicelib.adapters.locks import RunLocks
    from chalicelib.db.engine import session_scope
    from chalicelib.db.migrate import upgrade
    from chalicelib.db.workflows import ensure_default_workflows
    from chalicelib.domain.models import RunRequest
    from chalicelib.settings import get_settings

    upgrade(os.environ["DATABASE_URL"])
    with session_scope() as session:
        ensure_default_workflows(session)
    import app

    ctx = {name: _Context(name) for name in ("start_run", "list_tenants", "tenant", "finish_run", "publish_events")}
    from chalicelib.domain.models import DAILY_STEPS

    # The ASL's per-tenant order (the Parallel's two branches one after the other on this thread).
    chain = tuple((name, getattr(app, name)) for name in DAILY_STEPS)
    failures: list[str] = []

    def tenant_pipeline(tenant: dict[str, Any]) -> None:
        item = {"run": run, "tenant": tenant}  # the Map's ItemSelector; every tenant Task gets this state
        try:
            for _, step in chain:
                step(item, ctx["tenant"])
        except Exception as exc:  # noqa: BLE001 - the state machine's Catch does the same
            failures.append(tenant["id"])
            error = {
                "Error": type(exc).__name__,
                "Cause": json.dumps({"errorType": type(exc).__name__, "errorMessage": str(exc)}),
            }
            app.record_tenant_failure({**item, "error": error}, ctx["tenant"])

    cpu0, started = _cpu_s(), time.perf_counter()
    # What the dispatcher hands the state machine (lock, fencing number, lock key), then the ASL's order.
    name = f"daily_operations-bare-{size}"
    locks = RunLocks()
    lock_key = locks.key("daily_operations", SCOPE)
    lock = locks.acquire(lock_key, name, get_settings().run_lock_ttl_seconds)
    if lock is None:
        raise RuntimeError(f"run lock {lock_key} is held by someone else")
    request = RunRequest(
        workflow_name="daily_operations",
        scope=SCOPE,
        run_date=RUN_DATE,
        fencing_token=lock.fencing_token,
        lock_key=lock_key,
    ).model_dump(mode="json")
    run = app.start_run({"request": request, "execution_name": name, "execution_arn": None}, ctx["start_run"])
    manifest_ref = app.list_tenants({"run": run, "request": request}, ctx["list_tenants"])
    body = cloud.client("s3").get_object(Bucket=manifest_ref["bucket"], Key=manifest_ref["key"])["Body"].read()
    items = json.loads(body)  # the Map's ItemReader
    with ThreadPoolExecutor(max_workers=get_settings().map_max_concurrency, thread_name_prefix="bare") as pool:
        list(pool.map(tenant_pipeline, items))
    summary = app.finish_run({"run": run}, ctx["finish_run"])
    app.publish_events({"source": "daily_operations"}, ctx["publish_events"])
    wall_s = time.perf_counter() - started
    cpu_s = _cpu_s() - cpu0
    step_ms = _uncontended_step_ms(app, chain, items[:UNCONTENDED_SAMPLE], request)
    cloud.reset()
    cloud.stop()
    return {
        "tenants": size,
        "wall_s": round(wall_s, 3),
        "tenants_per_s": round(size / wall_s, 2),
        "cpu_s": round(cpu_s, 2),
        "cpu_share": round(cpu_s / wall_s, 2),
        "peak_rss_mb": round(_peak_rss_mb(), 1),
        "status": summary["status"],
        "summary": summary,
        "tenant_failures": len(failures),
        "uncontended_step_ms": step_ms,
        # The Lambda tasks the state machine runs for the same work (dispatch, start, list, 6 per tenant,
        # finish, publish); used to spread the difference over tasks.
        "lambda_tasks": 1 + 2 + 6 * len(items) + 2,
    }


UNCONTENDED_SAMPLE = 20


def _uncontended_step_ms(
    app: Any, chain: tuple[tuple[str, Any], ...], tenants: list[dict[str, Any]], request: dict[str, Any]
) -> dict[str, float]:
    """Median duration of each tenant step called one at a time (untimed, after the run, on a run of its own).

    On AWS every Lambda has its own CPU; here 40 concurrent tasks share one GIL, so durations taken from a
    busy run overstate what AWS would bill. The cost estimate uses these as the uncontended figure.
    """
    sample_request = {**request, "fencing_token": None, "lock_key": None}
    run = app.start_run(
        {"request": sample_request, "execution_name": "daily_operations-bare-sample"}, _Context("start_run")
    )
    durations: dict[str, list[float]] = {}
    for tenant in tenants:
        item = {"run": run, "tenant": tenant}
        for name, step in chain:
            started = time.perf_counter()
            step(item, _Context(name))
            durations.setdefault(name, []).append((time.perf_counter() - started) * 1000)
    return {name: round(statistics.median(values), 2) for name, values in durations.items()}


# --- 5: step cold start (set-up; the measurement is bench.coldstart_child) ------------------------------
def coldstart_prep(args: dict[str, Any]) -> dict[str, Any]:
    """An open run to attach the cold call's step to (the step writes its row against it)."""
    _handler_environment(
        "benchcold",
        {
            "DATABASE_URL": os.environ["BENCH_DATABASE_URL"],
            "REDIS_URL": os.environ["BENCH_REDIS_URL"],
            "PLATFORM_BASE_URL": os.environ["BENCH_SIMULATOR_URL"],
        },
    )
    from chalicelib.db.engine import session_scope
    from chalicelib.db.migrate import upgrade
    from chalicelib.db.workflows import ensure_default_workflows
    from chalicelib.domain.models import RunRequest

    upgrade(os.environ["DATABASE_URL"])
    with session_scope() as session:
        ensure_default_workflows(session)
    import app

    request = RunRequest(workflow_name="daily_operations", scope=SCOPE, run_date=RUN_DATE).model_dump(mode="json")
    run = app.start_run({"request": request, "execution_name": "daily_operations-coldstart"}, _Context("start_run"))
    from infra.resources import functions

    return {"run": run, "environment": functions("local")[0].environment}


# --- 6: audit-log ingestion ------------------------------------------------------------------------------
def ingest(args: dict[str, Any]) -> dict[str, Any]:
    _handler_environment(
        "benchingest", {"DATABASE_URL": os.environ["BENCH_DATABASE_URL"], "REDIS_URL": os.environ["BENCH_REDIS_URL"]}
    )
    from chalicelib.db.engine import session_scope
    from chalicelib.db.logs import add_logs, log_row
    from chalicelib.db.migrate import upgrade
    from chalicelib.db.runs import start_execution
    from chalicelib.domain.models import DAILY_STEPS, RunRequest

    upgrade(os.environ["DATABASE_URL"])
    request = RunRequest(workflow_name="daily_operations", scope=SCOPE, run_date=RUN_DATE)
    with session_scope() as session:
        execution_id = str(
            start_execution(session, request, execution_name="daily_operations-ingest", execution_arn=None).id
        )
    rows_n, batch, step_rows = int(args["rows"]), int(args["batch"]), int(args["step_rows"])

    def row(i: int) -> dict[str, Any]:
        step = DAILY_STEPS[i % len(DAILY_STEPS)]
        return log_row(
            step,
            f"{step}: 7-day forecast for {i % 60} products ({i * 7 % 5000} units)",
            tenant_id=f"tenant-{i // 6:06d}",
            data={"products": i % 60, "total_units": i * 7 % 5000},
            duration_ms=float(i % 250),
        )

    rows = [row(i) for i in range(rows_n)]
    started = time.perf_counter()
    for start in range(0, rows_n, batch):
        with session_scope() as session:
            add_logs(session, execution_id, rows[start : start + batch])
    batched_s = time.perf_counter() - started

    # As the steps write: one row per transaction, from as many threads as the Map runs tenants.
    singles = [row(i) for i in range(step_rows)]

    def one(r: dict[str, Any]) -> None:
        with session_scope() as session:
            add_logs(session, execution_id, [r])

    concurrency = int(args["concurrency"])
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        list(pool.map(one, singles))
    singles_s = time.perf_counter() - started
    with session_scope() as session:
        from sqlalchemy import func, select

        from chalicelib.db.models import ExecutionLog

        stored = session.scalar(
            select(func.count()).select_from(ExecutionLog).where(ExecutionLog.execution_id == uuid.UUID(execution_id))
        )
    return {
        "rows": rows_n,
        "batch": batch,
        "batched_s": round(batched_s, 3),
        "rows_per_s": round(rows_n / batched_s, 1),
        "step_rows": step_rows,
        "step_concurrency": concurrency,
        "step_s": round(singles_s, 3),
        "step_rows_per_s": round(step_rows / singles_s, 1),
        "rows_stored": stored,
    }


KINDS = {"e2e": e2e, "bare": bare, "coldstart_prep": coldstart_prep, "ingest": ingest}


def main(argv: list[str]) -> int:
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    kind, args = argv[0], json.loads(argv[1]) if len(argv) > 1 else {}
    emit(KINDS[kind](args))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
