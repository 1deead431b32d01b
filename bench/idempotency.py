"""Step idempotency: the project's `chalicelib.adapters.step_cache` against Powertools' idempotency utility, on real Redis.

    PYTHONPATH=$PWD:$PWD/localstack .venv/bin/python -m bench.idempotency

Measures, for N distinct keys (first calls) and the same N keys again (replays), the wall and CPU time per
call and the Redis round trips per call of
  custom           run_once(StepKey(execution, tenant, step), work, cache=StepResultCache(...))
  pt-function      Powertools `idempotent_function` (the call the step code would wrap), one Redis
                   persistence layer per step, key = key_prefix(step) # md5([run.execution_id, tenant.id])
  pt-handler       Powertools `@idempotent` on a (event, context) handler, same layer and key
with the work a no-op returning a small dict, and the event shaped like a tenant step's input
(`TenantStepInput`: run, tenant, earlier steps' results). Also: import time of each (fresh interpreters),
and semantic checks (failures, exceptions, key selection, concurrency, crash recovery, lost result write,
Redis down, missing key, shared persistence layer, the embedded fakeredis server), each verified by running it.

Knobs: BENCH_IDEM_N (2000), BENCH_IDEM_ROUNDS (5), BENCH_IDEM_REDIS (redis://127.0.0.1:6379/4),
BENCH_IDEM_IMPORT_REPEATS (7), BENCH_IDEM_OUTPUT (bench/results-idempotency.json).
Keys live under `bench-idem-<pid>` and are deleted at the end. The benchmark reports; it never fails on
a number. Numbers are noisy on a shared machine: compare the ratios measured in one run.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import platform
import statistics
import subprocess
import sys
import threading
import time
import warnings
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import redis

ROOT = Path(__file__).resolve().parent.parent
REDIS_URL = os.environ.get("BENCH_IDEM_REDIS", "redis://127.0.0.1:6379/4")
N = int(os.environ.get("BENCH_IDEM_N", "2000"))
ROUNDS = int(os.environ.get("BENCH_IDEM_ROUNDS", "5"))
IMPORT_REPEATS = int(os.environ.get("BENCH_IDEM_IMPORT_REPEATS", "7"))
OUTPUT = Path(os.environ.get("BENCH_IDEM_OUTPUT", str(ROOT / "bench" / "results-idempotency.json")))
PREFIX = f"bench-idem-{os.getpid()}"
STEP = "generate_forecasts"
OTHER_STEP = "plan_production"
JMESPATH = "[run.execution_id, tenant.id]"
WORK_RESULT = {"forecast_id": "fc-1", "products": 12, "total_units": 840.0}


# --- events and work ------------------------------------------------------------------------------------
def make_event(
    execution_id: str, tenant_id: str, *, tenant_name: str = "Panadería Sol", results: dict[str, Any] | None = None
) -> dict[str, Any]:
    """A tenant step's input as the state machine builds it (see TenantStepInput, RunRef, TenantRef)."""
    return {
        "run": {
            "execution_id": execution_id,
            "execution_name": f"daily_operations-europe-madrid-2026-06-01-{execution_id[-6:]}",
            "workflow_name": "daily_operations",
            "scope": "Europe/Madrid",
            "run_date": "2026-06-01",
            "fencing_token": 42,
            "lock_key": "orchestrator:run-lock:daily_operations:Europe/Madrid",
            "retry_of": None,
        },
        "tenant": {
            "id": tenant_id,
            "name": tenant_name,
            "subscription_tier": "professional",
            "timezone": "Europe/Madrid",
        },
        "results": results
        if results is not None
        else {
            "generate_forecasts": {"forecast_id": "fc-9f1c", "products": 12, "total_units": 840.0},
            "plan_production": {"schedule_id": "ps-77a0", "batches": 9, "total_units": 810.0},
        },
    }


def keys_for(round_no: int, n: int) -> list[tuple[str, str]]:
    return [(f"exec-{round_no:03d}-{i // 100:06d}", f"tenant-{i:06d}") for i in range(n)]


class FakeLambdaContext:
    """What Powertools reads from a Lambda context: the remaining time, for the in-progress expiry."""

    def __init__(self, remaining_ms: int = 30_000) -> None:
        self._deadline = time.monotonic() + remaining_ms / 1000
        self.function_name = "bench-step"
        self.aws_request_id = "bench"

    def get_remaining_time_in_millis(self) -> int:
        return max(int((self._deadline - time.monotonic()) * 1000), 0)


class Steady(FakeLambdaContext):
    def get_remaining_time_in_millis(self) -> int:  # a fresh 30 s budget on every call
        return 30_000


# --- Redis clients --------------------------------------------------------------------------------------
class CountingConnection(redis.connection.Connection):
    """Counts round trips (one per packed send: a command, or a whole pipeline) and command names."""

    round_trips = 0
    commands: Counter[str] = Counter()

    def send_command(self, *args: Any, **kwargs: Any) -> None:
        if kwargs.get("check_health", True):  # health-check PINGs are sent with check_health=False
            CountingConnection.commands[str(args[0]).upper()] += 1
        super().send_command(*args, **kwargs)

    def pack_commands(self, commands: Any) -> Any:
        for cmd in commands:
            CountingConnection.commands[str(cmd[0]).upper()] += 1
        return super().pack_commands(commands)

    def send_packed_command(self, command: Any, check_health: bool = True) -> None:
        if check_health:
            CountingConnection.round_trips += 1
        super().send_packed_command(command, check_health)

    @classmethod
    def reset(cls) -> None:
        cls.round_trips = 0
        cls.commands = Counter()


def make_client(*, counting: bool = False, url: str = REDIS_URL, **extra: Any) -> redis.Redis:
    options: dict[str, Any] = {"socket_timeout": 5, "socket_connect_timeout": 2, "decode_responses": True, **extra}
    if counting:
        pool = redis.ConnectionPool.from_url(url, connection_class=CountingConnection, **options)
        return redis.Redis(connection_pool=pool)
    return redis.Redis.from_url(url, **options)


def delete_prefix(client: redis.Redis, prefix: str = PREFIX) -> int:
    keys = list(client.scan_iter(match=f"{prefix}*", count=1000))
    for start in range(0, len(keys), 1000):
        client.delete(*keys[start : start + 1000])
    return len(keys)


# --- the two implementations, behind one call shape: call(execution_id, tenant_id, event) -> result ----------
def custom_caller(
    client: redis.Redis,
    *,
    step: str = STEP,
    work: Callable[[], Any] | None = None,
    ttl: int = 86400,
    in_progress_ttl: int = 30,
) -> Callable[[str, str, dict[str, Any]], Any]:
    from chalicelib.adapters.step_cache import StepKey, StepResultCache, run_once

    cache = StepResultCache(client=client, prefix=PREFIX, ttl_seconds=ttl, in_progress_ttl_seconds=in_progress_ttl)
    do = work or (lambda: (dict(WORK_RESULT), "done"))

    def call(execution_id: str, tenant_id: str, event: dict[str, Any]) -> Any:
        result, _replayed = run_once(StepKey(execution_id, tenant_id, step), do, cache=cache)
        return result.summary

    return call


def powertools_layer(client: redis.Redis) -> Any:
    from aws_lambda_powertools.utilities.idempotency.persistence.redis import RedisCachePersistenceLayer

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        return RedisCachePersistenceLayer(client=client)


def pt_config(
    *, context: Any = None, expires: int = 86400, raise_on_missing: bool = True, jmespath_expr: str = JMESPATH
) -> Any:
    from aws_lambda_powertools.utilities.idempotency import IdempotencyConfig

    config = IdempotencyConfig(
        event_key_jmespath=jmespath_expr, raise_on_no_idempotency_key=raise_on_missing, expires_after_seconds=expires
    )
    if context is not None:
        config.register_lambda_context(context)
    return config


def pt_function_caller(
    client: redis.Redis | None,
    *,
    step: str = STEP,
    work: Callable[[], Any] | None = None,
    context: Any = None,
    expires: int = 86400,
    layer: Any = None,
    key_prefix: str | None = None,
    raise_on_missing: bool = True,
) -> Callable[[str, str, dict[str, Any]], Any]:
    """`idempotent_function` as the step code would use it: one layer and one decorated function per step."""
    from aws_lambda_powertools.utilities.idempotency import idempotent_function

    layer = layer if layer is not None else powertools_layer(client)
    config = pt_config(
        context=Steady() if context is None else context, expires=expires, raise_on_missing=raise_on_missing
    )
    do = work or (lambda: dict(WORK_RESULT))

    @idempotent_function(
        data_keyword_argument="event",
        persistence_store=layer,
        config=config,
        key_prefix=key_prefix or f"{PREFIX}:pt:{step}",
    )
    def step_work(event: dict[str, Any]) -> Any:
        return do()

    def call(execution_id: str, tenant_id: str, event: dict[str, Any]) -> Any:
        return step_work(event=event)

    return call


def pt_handler_caller(client: redis.Redis, *, step: str = STEP) -> Callable[[str, str, dict[str, Any]], Any]:
    """`@idempotent` on the Lambda handler itself (the context gives the in-progress expiry)."""
    from aws_lambda_powertools.utilities.idempotency import idempotent

    layer = powertools_layer(client)
    config = pt_config()
    context = Steady()

    @idempotent(persistence_store=layer, config=config, key_prefix=f"{PREFIX}:pth:{step}")
    def handler(event: dict[str, Any], _context: Any) -> Any:
        return dict(WORK_RESULT)

    def call(execution_id: str, tenant_id: str, event: dict[str, Any]) -> Any:
        return handler(event, context)

    return call


IMPLEMENTATIONS: dict[str, Callable[..., Callable[[str, str, dict[str, Any]], Any]]] = {
    "custom": custom_caller,
    "pt-function": pt_function_caller,
    "pt-handler": pt_handler_caller,
}


# --- speed ----------------------------------------------------------------------------------------------
def _timed_pass(
    call: Callable[[str, str, dict[str, Any]], Any], items: list[tuple[str, str, dict[str, Any]]]
) -> dict[str, float]:
    per_call: list[float] = []
    wall0, cpu0 = time.perf_counter(), time.process_time()
    for execution_id, tenant_id, event in items:
        t = time.perf_counter()
        call(execution_id, tenant_id, event)
        per_call.append(time.perf_counter() - t)
    wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    per_call.sort()
    n = len(items)
    return {
        "wall_us": wall / n * 1e6,
        "cpu_us": cpu / n * 1e6,
        "p50_us": per_call[n // 2] * 1e6,
        "p99_us": per_call[min(n - 1, int(n * 0.99))] * 1e6,
    }


def measure_speed(client: redis.Redis) -> dict[str, Any]:
    callers = {name: make(client) for name, make in IMPLEMENTATIONS.items()}
    # Warm up every path (imports, jmespath compile, connection) on keys of their own.
    for call in callers.values():
        warm = [(e, t, make_event(e, t)) for e, t in keys_for(999, 300)]
        for _ in range(2):
            for item in warm:
                call(*item)
    samples: dict[str, dict[str, list[dict[str, float]]]] = {n: {"first": [], "replay": []} for n in callers}
    for round_no in range(ROUNDS):
        order = list(callers) if round_no % 2 == 0 else list(reversed(callers))  # spread drift evenly
        for offset, name in enumerate(order):
            ids = keys_for(round_no * 10 + offset, N)
            items = [(e, t, make_event(e, t)) for e, t in ids]
            samples[name]["first"].append(_timed_pass(callers[name], items))
            samples[name]["replay"].append(_timed_pass(callers[name], items))
    speed: dict[str, Any] = {}
    for name, phases in samples.items():
        speed[name] = {
            phase: {metric: statistics.median(s[metric] for s in runs) for metric in runs[0]}
            for phase, runs in phases.items()
        }
    # Context: one bare Redis round trip, and the no-op work alone.
    bare = [(f"{PREFIX}:absent:{i}",) for i in range(N)]
    rtts = []
    for _ in range(ROUNDS):
        t = time.perf_counter()
        for (key,) in bare:
            client.get(key)
        rtts.append((time.perf_counter() - t) / N * 1e6)
    speed["redis_get_roundtrip_us"] = statistics.median(rtts)
    return speed


def measure_round_trips() -> dict[str, Any]:
    client = make_client(counting=True)
    out: dict[str, Any] = {}
    for name, make in IMPLEMENTATIONS.items():
        call = make(client)
        n = 200
        items = [(e, t, make_event(e, t)) for e, t in keys_for(900 + len(out), n)]
        result: dict[str, Any] = {}
        for e, t, event in [(e, t, make_event(e, t)) for e, t in keys_for(950 + len(out), 5)]:
            call(e, t, event)  # connect (HELLO, SELECT, CLIENT SETINFO) outside the count
        for phase in ("first", "replay"):
            CountingConnection.reset()
            for item in items:
                call(*item)
            result[phase] = {
                "round_trips": CountingConnection.round_trips / n,
                "commands": {k: v / n for k, v in sorted(CountingConnection.commands.items())},
            }
        out[name] = result
    client.close()
    return out


# --- import time ----------------------------------------------------------------------------------------
BASELINE_IMPORTS = "import redis, pydantic, chalicelib.settings, chalicelib.errors"
IMPORT_TARGETS = {
    "custom": "import chalicelib.adapters.step_cache",
    "powertools": (
        "from aws_lambda_powertools.utilities.idempotency import IdempotencyConfig, idempotent, "
        "idempotent_function\n"
        "from aws_lambda_powertools.utilities.idempotency.persistence.redis import "
        "RedisCachePersistenceLayer"
    ),
}


def _import_seconds(target: str, baseline: str | None) -> tuple[float, float]:
    """(wall, CPU) seconds of `target` in a fresh interpreter, after `baseline` (untimed)."""
    code = (
        f"{baseline or ''}\nimport time as _t\n_s, _c = _t.perf_counter(), _t.process_time()\n{target}\n"
        "print(_t.perf_counter() - _s, _t.process_time() - _c)"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "localstack")])}
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=ROOT, timeout=120, check=True
    )
    wall, cpu = done.stdout.strip().splitlines()[-1].split()
    return float(wall), float(cpu)


def _heaviest_new_modules(target: str, baseline: str) -> list[tuple[str, float]]:
    """Top-level modules the target pulls in beyond the baseline, by cumulative import time (-X importtime)."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "localstack")])}
    code = f"{baseline}\nimport sys\nsys.stderr.write('--- target ---\\n')\n{target}"
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", code],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=120,
        check=True,
    )
    lines = done.stderr.split("--- target ---\n", 1)[-1].splitlines()
    packages: Counter[str] = Counter()
    for line in lines:
        if not line.startswith("import time:") or "|" not in line:
            continue
        parts = line.split("|")
        try:
            self_us = int(parts[0].split(":")[1])
        except ValueError:
            continue
        name = parts[2].strip()
        packages[name.split(".")[0]] += self_us
    return [(name, us / 1000) for name, us in packages.most_common(6)]


STEP_IMPORTS = "import chalicelib.steps.tenant_steps"  # what a tenant-step Lambda imports anyway


def measure_imports() -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, target in IMPORT_TARGETS.items():
        row: dict[str, Any] = {}
        for label, baseline in (
            ("standalone", None),
            ("over_baseline", BASELINE_IMPORTS),
            ("over_tenant_step", STEP_IMPORTS),
        ):
            runs = [_import_seconds(target, baseline) for _ in range(IMPORT_REPEATS)]
            row[f"{label}_ms"] = statistics.median(r[0] for r in runs) * 1000
            row[f"{label}_cpu_ms"] = statistics.median(r[1] for r in runs) * 1000
        row["heaviest_new_packages_ms"] = _heaviest_new_modules(target, BASELINE_IMPORTS)
        out[name] = row
    out["baseline"] = BASELINE_IMPORTS
    out["tenant_step"] = STEP_IMPORTS + " (already imports chalicelib.adapters.step_cache)"
    return out


# --- semantics ------------------------------------------------------------------------------------------
class Calls:
    """A work function that counts its calls, optionally sleeping or failing."""

    def __init__(self, *, sleep: float = 0.0, fail: BaseException | None = None, result: Any = None) -> None:
        self.count = 0
        self.sleep = sleep
        self.fail = fail
        self.result = result if result is not None else dict(WORK_RESULT)
        self._lock = threading.Lock()

    def __call__(self) -> Any:
        with self._lock:
            self.count += 1
        if self.sleep:
            time.sleep(self.sleep)
        if self.fail is not None:
            raise self.fail
        return self.result


def _outcome(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> str:
    """What `fn(*args, **kwargs)` did, as text: `returned ...` or `raised <class>: <message>`."""
    try:
        return f"returned {fn(*args, **kwargs)!r}"
    except BaseException as exc:  # noqa: BLE001 - we report what happened
        return f"raised {type(exc).__module__}.{type(exc).__name__}: {str(exc)[:120]}"


def _keys(client: redis.Redis, pattern: str) -> dict[str, Any]:
    found = {}
    for key in sorted(client.scan_iter(match=pattern, count=1000)):
        found[key] = {"value": client.get(key), "ttl": client.ttl(key)}
    return found


def _custom_tuple(client: redis.Redis, calls: Calls, **kw: Any) -> Callable[[str, str, dict[str, Any]], Any]:
    return custom_caller(client, work=lambda: (calls(), "done"), **kw)


def check_failures(client: redis.Redis) -> dict[str, Any]:
    """Work raises ValueError: is the exception passed through unchanged, and is the failure cached?"""
    out = {}
    for name in ("custom", "pt-function"):
        calls = Calls(fail=ValueError("downstream said no"))
        e, t = f"exec-fail-{name}", "tenant-1"
        call = _custom_tuple(client, calls) if name == "custom" else pt_function_caller(client, work=calls)
        first = _outcome(call, e, t, make_event(e, t))
        left = _keys(client, f"{PREFIX}*{e}*") if name == "custom" else _keys(client, f"{PREFIX}:pt:*")
        calls.fail = None
        second = _outcome(call, e, t, make_event(e, t))
        out[name] = {
            "first_call": first,
            "keys_left_after_failure": left,
            "second_call": second,
            "work_calls": calls.count,
            "failure_cached": calls.count == 1,
        }
        delete_prefix(client)
    return out


def check_key_selection(client: redis.Redis) -> dict[str, Any]:
    """Same (execution, tenant, step) with different other content -> replay; other step / tenant -> runs."""
    out = {}
    for name in ("custom", "pt-function"):
        calls_a, calls_b = Calls(result={"step": STEP}), Calls(result={"step": OTHER_STEP})
        if name == "custom":
            a, b = _custom_tuple(client, calls_a, step=STEP), _custom_tuple(client, calls_b, step=OTHER_STEP)
        else:
            a = pt_function_caller(client, work=calls_a, step=STEP)
            b = pt_function_caller(client, work=calls_b, step=OTHER_STEP)
        e = "exec-key"
        a(e, "tenant-1", make_event(e, "tenant-1"))
        # a redelivery whose other fields differ (a retry-from-failure run carries other earlier results,
        # the tenant was renamed in between, the fencing token moved on)
        changed = make_event(e, "tenant-1", tenant_name="Renamed", results={"generate_forecasts": {"x": 1}})
        changed["run"]["fencing_token"] = 43
        replay = a(e, "tenant-1", changed)
        a(e, "tenant-2", make_event(e, "tenant-2"))  # another tenant: runs
        other_step = b(e, "tenant-1", make_event(e, "tenant-1"))  # another step, same event: runs
        out[name] = {
            "work_calls_step_a": calls_a.count,
            "work_calls_step_b": calls_b.count,
            "changed_event_replayed": calls_a.count == 2 and replay == {"step": STEP},
            "other_step_got": other_step,
            "redis_keys": sorted(client.scan_iter(match=f"{PREFIX}*", count=1000)),
        }
        delete_prefix(client)
    # The hazard of not putting the step in the key: one generic idempotent wrapper for all steps (no key_prefix
    # per step): Powertools derives the key prefix from AWS_LAMBDA_FUNCTION_NAME + the wrapped function's name.
    from aws_lambda_powertools.utilities.idempotency import idempotent_function

    layer = powertools_layer(client)
    os.environ["AWS_LAMBDA_FUNCTION_NAME"] = PREFIX  # so the default key lands under our prefix

    @idempotent_function(data_keyword_argument="event", persistence_store=layer, config=pt_config(context=Steady()))
    def generic_step(step_name: str, event: dict[str, Any]) -> Any:
        return {"step": step_name}

    e = "exec-generic"
    first = generic_step(STEP, event=make_event(e, "t1"))
    second = generic_step(OTHER_STEP, event=make_event(e, "t1"))
    os.environ.pop("AWS_LAMBDA_FUNCTION_NAME", None)
    out["pt_generic_wrapper_without_step_in_key"] = {
        "first_step_returned": first,
        "second_step_returned": second,
        "second_step_got_first_steps_result": second == {"step": STEP},
        "redis_keys": sorted(client.scan_iter(match=f"{PREFIX}*", count=1000)),
        "fix": "key_prefix per step, or the step as a JMESPath literal: "
        '[run.execution_id, tenant.id, `"generate_forecasts"`]',
    }
    # The literal form, verified: the step name in the hashed key without a per-step prefix.
    from aws_lambda_powertools.utilities.idempotency import idempotent_function as idf

    layers = {s: powertools_layer(client) for s in (STEP, OTHER_STEP)}
    fns = {}
    for s in (STEP, OTHER_STEP):
        cfg = pt_config(context=Steady(), jmespath_expr=f'[run.execution_id, tenant.id, `"{s}"`]')

        @idf(data_keyword_argument="event", persistence_store=layers[s], config=cfg, key_prefix=f"{PREFIX}:lit")
        def fn(event: dict[str, Any], _s: str = s) -> Any:
            return {"step": _s}

        fns[s] = fn
    ra = fns[STEP](event=make_event("exec-lit", "t1"))
    rb = fns[OTHER_STEP](event=make_event("exec-lit", "t1"))
    out["pt_step_as_jmespath_literal"] = {"step_a": ra, "step_b": rb, "distinct": ra != rb}
    delete_prefix(client)
    return out


def check_concurrency(client: redis.Redis) -> dict[str, Any]:
    """A twin delivery starts while the first is still working."""
    out = {}
    for name in ("custom", "pt-function"):
        calls = Calls(sleep=0.4)
        e, t = f"exec-conc-{name}", "tenant-1"
        call = _custom_tuple(client, calls) if name == "custom" else pt_function_caller(client, work=calls)
        results: dict[str, Any] = {}

        def run(label: str, call: Any = call, e: str = e, t: str = t, results: dict[str, Any] = results) -> None:
            start = time.perf_counter()
            results[label] = _outcome(call, e, t, make_event(e, t))
            results[f"{label}_seconds"] = round(time.perf_counter() - start, 3)

        first = threading.Thread(target=run, args=("first",))
        first.start()
        time.sleep(0.1)
        run("twin")
        first.join()
        out[name] = {**results, "work_calls": calls.count}
        delete_prefix(client)
    return out


def _crash_child(kind: str, execution_id: str, remaining_ms: int | None, in_progress_ttl: int, expires: int) -> None:
    """Start the step, then die inside the work like a Lambda killed by its timeout."""
    client = make_client()

    def die() -> Any:
        os._exit(17)

    if kind == "custom":
        call = custom_caller(client, work=die, in_progress_ttl=in_progress_ttl)
    else:
        context = FakeLambdaContext(remaining_ms) if remaining_ms is not None else None
        from aws_lambda_powertools.utilities.idempotency import idempotent_function

        layer = powertools_layer(client)
        config = pt_config(context=context, expires=expires)

        @idempotent_function(
            data_keyword_argument="event", persistence_store=layer, config=config, key_prefix=f"{PREFIX}:pt:{STEP}"
        )
        def step_work(event: dict[str, Any]) -> Any:
            return die()

        def call(e: str, t: str, event: dict[str, Any]) -> Any:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                return step_work(event=event)

    call(execution_id, "tenant-1", make_event(execution_id, "tenant-1"))


def _crash(
    kind: str, execution_id: str, *, remaining_ms: int | None = 1000, in_progress_ttl: int = 1, expires: int = 4
) -> int:
    proc = multiprocessing.get_context("fork").Process(
        target=_crash_child, args=(kind, execution_id, remaining_ms, in_progress_ttl, expires)
    )
    proc.start()
    proc.join(30)
    return proc.exitcode if proc.exitcode is not None else -1


def _probe(call: Callable[[str, str, dict[str, Any]], Any], e: str, at: float, t0: float) -> dict[str, Any]:
    time.sleep(max(0.0, at - (time.monotonic() - t0)))
    start = time.monotonic()
    return {
        "at_s": round(start - t0, 2),
        "outcome": _outcome(call, e, "tenant-1", make_event(e, "tenant-1")),
        "took_s": round(time.monotonic() - start, 2),
    }


def check_crash_recovery(client: redis.Redis) -> dict[str, Any]:
    """The worker dies inside the work (Lambda timeout): when can a retry run the step again?

    Scaled down: the custom marker TTL is 1 s (production: STEP_IN_PROGRESS_TTL_SECONDS=30); Powertools'
    in-progress expiry is the Lambda context's remaining time, 1 s here (production: up to the step's 30 s
    timeout), and the record TTL (expires_after_seconds) is 4 s (production: the 24 h result TTL)."""
    out: dict[str, Any] = {}
    # custom
    calls = Calls()
    e = "exec-crash-custom"
    code = _crash("custom", e)
    call = _custom_tuple(client, calls)
    t0 = time.monotonic()
    out["custom"] = {
        "child_exit": code,
        "keys_after_crash": _keys(client, f"{PREFIX}*{e}*"),
        "retry_immediately": _probe(call, e, 0.0, t0),
        "work_calls": calls.count,
    }
    delete_prefix(client)
    # Powertools with the Lambda context registered (in-progress expiry = remaining time)
    for label, remaining in (("pt-with-context", 1000), ("pt-without-context", None)):
        calls = Calls()
        e = f"exec-crash-{label}"
        code = _crash("pt", e, remaining_ms=remaining)
        t0 = time.monotonic()
        keys = _keys(client, f"{PREFIX}:pt:*")
        call = pt_function_caller(client, work=calls, context=Steady(), expires=4)
        probes = [_probe(call, e, at, t0) for at in (0.0, 1.3, 2.5, 4.5)]
        out[label] = {
            "child_exit": code,
            "keys_after_crash": keys,
            "retries": probes,
            "work_calls": calls.count,
            "keys_after": _keys(client, f"{PREFIX}:pt:*"),
        }
        delete_prefix(client)
    return out


class FailingResultWrites(redis.Redis):
    """A client whose result write fails (the connection drops after the work ran)."""

    def set(self, name: Any, value: Any, *args: Any, **kwargs: Any) -> Any:  # Powertools: SET without NX
        if not kwargs.get("nx"):
            raise redis.ConnectionError("connection dropped (injected) while writing the result")
        return super().set(name, value, *args, **kwargs)

    def pipeline(self, transaction: bool = True, shard_hint: Any = None) -> Any:  # custom: SET + release
        pipe = super().pipeline(transaction, shard_hint)

        def execute(raise_on_error: bool = True) -> Any:
            pipe.reset()
            raise redis.ConnectionError("connection dropped (injected) while writing the result")

        pipe.execute = execute  # type: ignore[method-assign]
        return pipe


def check_lost_result_write(client: redis.Redis) -> dict[str, Any]:
    """The work succeeded but writing its result failed: what does the step raise, and what does a retry do?"""
    out = {}
    bad = FailingResultWrites.from_url(REDIS_URL, decode_responses=True, socket_timeout=5)
    for name in ("custom", "pt-function"):
        calls = Calls()
        e = f"exec-lost-{name}"
        if name == "custom":
            first_call, retry_call = _custom_tuple(bad, calls, in_progress_ttl=1), _custom_tuple(client, calls)
        else:
            first_call = pt_function_caller(bad, work=calls, context=FakeLambdaContext(1000))
            retry_call = pt_function_caller(client, work=calls, context=Steady())
        first = _outcome(first_call, e, "tenant-1", make_event(e, "tenant-1"))
        t0 = time.monotonic()
        probes = [_probe(retry_call, e, 0.0, t0)]
        if name != "custom":
            probes.append(_probe(retry_call, e, 1.3, t0))
        out[name] = {"first_call": first, "retries": probes, "work_calls": calls.count}
        delete_prefix(client)
    bad.close()
    return out


def check_redis_down() -> dict[str, Any]:
    out = {}
    down = make_client(url="redis://127.0.0.1:1/0", socket_connect_timeout=0.5)
    for name in ("custom", "pt-function"):
        calls = Calls()
        call = _custom_tuple(down, calls) if name == "custom" else pt_function_caller(down, work=calls)
        out[name] = {"outcome": _outcome(call, "e", "t", make_event("e", "t")), "work_calls": calls.count}
    return out


def check_missing_key(client: redis.Redis) -> dict[str, Any]:
    out = {}
    for raise_on_missing in (False, True):
        calls = Calls()
        call = pt_function_caller(client, work=calls, raise_on_missing=raise_on_missing)
        event = make_event("e", "t")
        del event["run"], event["tenant"]
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            outcomes = [_outcome(call, "e", "t", event) for _ in range(2)]
        out[f"raise_on_no_idempotency_key={raise_on_missing}"] = {
            "outcomes": outcomes,
            "work_calls": calls.count,
            "warnings": sorted({str(w.message)[:100] for w in caught}),
        }
    # Only the tenant missing: [exec, null] is not "missing", so it hashes — every such event shares a key.
    calls = Calls()
    call = pt_function_caller(client, work=calls)
    events = [make_event("e-partial", f"t{i}") for i in range(2)]
    for event in events:
        del event["tenant"]
    outcomes = [_outcome(call, "e", "t", ev) for ev in events]
    out["tenant_missing_only"] = {
        "outcomes": outcomes,
        "work_calls": calls.count,
        "note": "custom: the step rejects the event first (TenantStepInput)",
    }
    delete_prefix(client)
    return out


def check_shared_layer(client: redis.Redis) -> dict[str, Any]:
    """Two steps sharing one persistence-layer instance, running at the same time in one process (threads, as in
    the local cloud's Lambda runner). `configure()` rewrites the shared `function_name` (the key prefix) on every
    call, and the first configuration's JMESPath sticks."""
    from aws_lambda_powertools.utilities.idempotency import idempotent_function

    layer = powertools_layer(client)
    cfg = pt_config(context=Steady())
    slow, fast = Calls(sleep=0.3, result={"step": STEP}), Calls(sleep=0.05, result={"step": OTHER_STEP})

    @idempotent_function(
        data_keyword_argument="event", persistence_store=layer, config=cfg, key_prefix=f"{PREFIX}:shared:{STEP}"
    )
    def step_a(event: dict[str, Any]) -> Any:
        return slow()

    @idempotent_function(
        data_keyword_argument="event", persistence_store=layer, config=cfg, key_prefix=f"{PREFIX}:shared:{OTHER_STEP}"
    )
    def step_b(event: dict[str, Any]) -> Any:
        return fast()

    event = make_event("exec-shared", "tenant-1")
    first: dict[str, Any] = {}
    ta = threading.Thread(target=lambda: first.__setitem__("a", _outcome(step_a, event=event)))
    ta.start()
    time.sleep(0.1)
    first["b"] = _outcome(step_b, event=event)
    ta.join()
    keys = _keys(client, f"{PREFIX}:shared:*")
    replay_a = _outcome(step_a, event=event)
    replay_b = _outcome(step_b, event=event)
    out = {
        "first_calls": first,
        "keys": keys,
        "replay_a": replay_a,
        "replay_b": replay_b,
        "work_calls": {"a": slow.count, "b": fast.count},
    }
    delete_prefix(client)
    # The configure-once half: a second config on the same layer is ignored.
    layer2 = powertools_layer(client)

    @idempotent_function(
        data_keyword_argument="event",
        persistence_store=layer2,
        config=pt_config(context=Steady(), jmespath_expr="run.execution_id"),
        key_prefix=f"{PREFIX}:cfg:x",
    )
    def by_execution(event: dict[str, Any]) -> Any:
        return {"n": 1}

    @idempotent_function(
        data_keyword_argument="event",
        persistence_store=layer2,
        config=pt_config(context=Steady(), jmespath_expr=JMESPATH),
        key_prefix=f"{PREFIX}:cfg:x",
    )
    def by_tenant(event: dict[str, Any]) -> Any:
        return {"n": 2}

    by_execution(event=make_event("exec-cfg", "t1"))
    got = by_tenant(event=make_event("exec-cfg", "t2"))  # other tenant: should run, if its config were used
    out["second_config_ignored"] = {
        "second_function_returned": got,
        "ignored": got == {"n": 1},
        "layer_jmespath": layer2.event_key_jmespath,
    }
    delete_prefix(client)
    return out


def check_fakeredis() -> dict[str, Any]:
    """CachePersistenceLayer against the project's embedded server (fakeredis.TcpFakeServer)."""
    try:
        from localrun.stack import EmbeddedRedis  # the project's own embedded server

        server = EmbeddedRedis()
        origin = "localrun.stack.EmbeddedRedis"
    except Exception as exc:  # noqa: BLE001 - fall back to the same construction
        import socket

        from fakeredis import TcpFakeServer

        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        sock.close()
        srv = TcpFakeServer(("127.0.0.1", port), server_type="redis")
        srv.daemon_threads = True
        threading.Thread(target=srv.serve_forever, daemon=True).start()

        class _S:
            url = f"redis://127.0.0.1:{port}/0"

            def stop(self) -> None:
                srv.shutdown()
                srv.server_close()

        server = _S()
        origin = f"TcpFakeServer directly ({type(exc).__name__}: {exc})"
    from aws_lambda_powertools.utilities.idempotency import idempotent_function
    from aws_lambda_powertools.utilities.idempotency.persistence.cache import CachePersistenceLayer

    out: dict[str, Any] = {"server": origin, "url": server.url}
    host, port = server.url.split("//")[1].split("/")[0].split(":")
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            layers = {
                "url": CachePersistenceLayer(url=server.url),
                "host_port_ssl_false": CachePersistenceLayer(host=host, port=int(port), ssl=False),
                "client": CachePersistenceLayer(client=redis.Redis.from_url(server.url, decode_responses=True)),
            }
        out["construction_warnings"] = sorted({f"{w.category.__name__}: {w.message}" for w in caught})
        for label, layer in layers.items():
            calls = Calls()
            fail = Calls(fail=ValueError("boom"))

            @idempotent_function(
                data_keyword_argument="event",
                persistence_store=layer,
                config=pt_config(context=Steady()),
                key_prefix=f"{PREFIX}:fake:{label}",
            )
            def work(event: dict[str, Any], _c: Calls = calls) -> Any:
                return _c()

            layer_f = CachePersistenceLayer(client=redis.Redis.from_url(server.url))

            @idempotent_function(
                data_keyword_argument="event",
                persistence_store=layer_f,
                config=pt_config(context=Steady()),
                key_prefix=f"{PREFIX}:fakefail:{label}",
            )
            def failing(event: dict[str, Any], _c: Calls = fail) -> Any:
                return _c()

            ev = make_event("exec-fake", "tenant-1")
            first, replay = _outcome(work, event=ev), _outcome(work, event=ev)
            f1, f2 = _outcome(failing, event=ev), _outcome(failing, event=ev)
            # concurrency on fakeredis too
            slow = Calls(sleep=0.3)

            @idempotent_function(
                data_keyword_argument="event",
                persistence_store=layer,
                config=pt_config(context=Steady()),
                key_prefix=f"{PREFIX}:fakeconc:{label}",
            )
            def slow_work(event: dict[str, Any], _c: Calls = slow) -> Any:
                return _c()

            th = threading.Thread(target=slow_work, kwargs={"event": ev})
            th.start()
            time.sleep(0.1)
            twin = _outcome(slow_work, event=ev)
            th.join()
            out[label] = {
                "first": first,
                "replay": replay,
                "work_calls": calls.count,
                "failing_twice": [f1, f2],
                "failing_work_calls": fail.count,
                "concurrent_twin": twin,
                "ok": calls.count == 1 and fail.count == 2 and "AlreadyInProgress" in twin,
            }
        # The custom layer on the same server, for completeness.
        calls = Calls()
        call = _custom_tuple(redis.Redis.from_url(server.url), calls)
        r1, r2 = call("exec-fake", "tenant-1", {}), call("exec-fake", "tenant-1", {})
        out["custom_on_fakeredis"] = {"first": r1, "replay": r2, "work_calls": calls.count}
    finally:
        server.stop()
    return out


def check_ssl_default_hang() -> dict[str, Any]:
    """CachePersistenceLayer(host=..., port=...) without ssl=False against plain local Redis: first call time."""
    host, port = REDIS_URL.split("//")[1].split("/")[0].split(":")
    code = (
        "import time, warnings\nwarnings.simplefilter('ignore')\n"
        "from aws_lambda_powertools.utilities.idempotency import idempotent_function, IdempotencyConfig\n"
        "from aws_lambda_powertools.utilities.idempotency.persistence.cache import CachePersistenceLayer\n"
        f"layer = CachePersistenceLayer(host={host!r}, port={port}, db_index=4)\n"
        "@idempotent_function(data_keyword_argument='event', persistence_store=layer,"
        " config=IdempotencyConfig(event_key_jmespath='id'),"
        f" key_prefix='{PREFIX}:ssl')\n"
        "def f(event): return 1\n"
        "t = time.perf_counter()\n"
        "try:\n    f(event={'id': 'x'})\n    print('ok', time.perf_counter() - t)\n"
        "except Exception as exc:\n    print(type(exc).__name__, round(time.perf_counter() - t, 2), str(exc)[:160])\n"
    )
    limit = 8.0
    proc = subprocess.Popen(
        [sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT
    )
    try:
        stdout, _ = proc.communicate(timeout=limit)
        return {"outcome": stdout.strip(), "limit_s": limit}
    except subprocess.TimeoutExpired:
        proc.kill()  # our own child, by its handle
        proc.communicate()
        return {"outcome": f"no answer within {limit} s (killed)", "limit_s": limit}


def check_replay_value_types(client: redis.Redis) -> dict[str, Any]:
    """What comes back on a replay when the work returns non-JSON types (a tuple, a date)."""
    from datetime import date

    out: dict[str, Any] = {}
    for label, value in (("tuple", {"batches": (1, 2)}), ("date", {"date": date(2026, 6, 1)})):
        for name in ("custom", "pt-function"):
            calls = Calls(result=value)
            if name == "custom":
                call = custom_caller(client, work=lambda c=calls: (c(), "done"))
            else:
                call = pt_function_caller(client, work=calls)
            e = f"exec-types-{label}"
            attempts = [_outcome(call, e, "t1", make_event(e, "t1")) for _ in range(2)]
            out[f"{name} returns {label}"] = {"first": attempts[0], "second": attempts[1], "work_calls": calls.count}
            delete_prefix(client)
    return out


def check_records(client: redis.Redis) -> dict[str, Any]:
    """What each leaves in Redis for one completed step (what an operator sees)."""
    custom_caller(client)("exec-rec", "tenant-1", {})
    pt_function_caller(client)("exec-rec", "tenant-1", make_event("exec-rec", "tenant-1"))
    found = _keys(client, f"{PREFIX}*")
    delete_prefix(client)
    return found


# --- report ---------------------------------------------------------------------------------------------
def _ratio(a: float, b: float) -> str:
    return f"{a / b:.2f}x" if b else "-"


def print_report(results: dict[str, Any]) -> None:
    speed, rts, imports = results["speed"], results["round_trips"], results["imports"]
    base = "custom"
    print(
        f"\nStep idempotency on real Redis ({REDIS_URL}), N={N} keys, median of {ROUNDS} rounds; "
        f"bare GET round trip {speed['redis_get_roundtrip_us']:.1f} us\n"
    )
    header = (
        f"{'implementation':<13} {'phase':<7} {'wall us':>8} {'cpu us':>8} {'p50 us':>8} {'p99 us':>8} "
        f"{'RTs':>4}  {'wall vs custom':>14} {'cpu vs custom':>13}  commands per call"
    )
    print(header)
    print("-" * len(header))
    for name in IMPLEMENTATIONS:
        for phase in ("first", "replay"):
            s, c = speed[name][phase], speed[base][phase]
            r = rts[name][phase]
            cmds = ", ".join(f"{k}x{v:g}" for k, v in r["commands"].items())
            print(
                f"{name:<13} {phase:<7} {s['wall_us']:>8.1f} {s['cpu_us']:>8.1f} {s['p50_us']:>8.1f} "
                f"{s['p99_us']:>8.1f} {r['round_trips']:>4g}  {_ratio(s['wall_us'], c['wall_us']):>14} "
                f"{_ratio(s['cpu_us'], c['cpu_us']):>13}  {cmds}"
            )
    print(f"\nImport time (fresh interpreters, median of {IMPORT_REPEATS}); baseline = `{imports['baseline']}`")
    for name in IMPORT_TARGETS:
        i = imports[name]
        heavy = ", ".join(f"{m} {ms:.0f}" for m, ms in i["heaviest_new_packages_ms"])
        print(
            f"  {name:<11} standalone {i['standalone_ms']:6.1f} ms (cpu {i['standalone_cpu_ms']:6.1f})"
            f"   over baseline {i['over_baseline_ms']:6.1f} ms (cpu {i['over_baseline_cpu_ms']:6.1f})"
            f"   over a tenant step's imports {i['over_tenant_step_ms']:6.1f} ms"
            f" (cpu {i['over_tenant_step_cpu_ms']:6.1f})"
        )
        print(f"  {'':<11} new packages over baseline, self ms: {heavy}")
    print(
        f"  ratio powertools/custom (cpu): standalone "
        f"{_ratio(imports['powertools']['standalone_cpu_ms'], imports['custom']['standalone_cpu_ms'])}, "
        f"over baseline "
        f"{_ratio(imports['powertools']['over_baseline_cpu_ms'], imports['custom']['over_baseline_cpu_ms'])}"
    )
    print(f"\nSemantic checks: see {OUTPUT} ('semantics'); summary:")
    sem = results["semantics"]
    lines = [
        (
            "failure cached? custom / powertools",
            f"{sem['failures']['custom']['failure_cached']} / {sem['failures']['pt-function']['failure_cached']}",
        ),
        ("work raises ValueError -> custom", sem["failures"]["custom"]["first_call"]),
        ("work raises ValueError -> powertools", sem["failures"]["pt-function"]["first_call"]),
        (
            "concurrent twin -> custom",
            f"{sem['concurrency']['custom']['twin']} after {sem['concurrency']['custom']['twin_seconds']} s",
        ),
        (
            "concurrent twin -> powertools",
            f"{sem['concurrency']['pt-function']['twin']} after {sem['concurrency']['pt-function']['twin_seconds']} s",
        ),
        (
            "generic wrapper, no step in key: 2nd step got 1st step's result",
            sem["key_selection"]["pt_generic_wrapper_without_step_in_key"]["second_step_got_first_steps_result"],
        ),
        (
            "work returns a date -> custom (1st / 2nd call)",
            " / ".join(sem["replay_value_types"]["custom returns date"][k][:70] for k in ("first", "second")),
        ),
        (
            "work returns a date -> powertools (1st / 2nd call)",
            " / ".join(sem["replay_value_types"]["pt-function returns date"][k][:90] for k in ("first", "second")),
        ),
        (
            "crash in work, no Lambda context: retries blocked until the record TTL",
            [p["outcome"][:60] for p in sem["crash_recovery"]["pt-without-context"]["retries"]],
        ),
        ("two steps sharing one layer, concurrently: step b replays", sem["shared_layer"].get("replay_b")),
        (
            "fakeredis TcpFakeServer with CachePersistenceLayer ok (url / host+ssl=False / client)",
            " / ".join(str(sem["fakeredis"].get(k, {}).get("ok")) for k in ("url", "host_port_ssl_false", "client")),
        ),
    ]
    for label, value in lines:
        print(f"  {label}: {value}")


def main() -> int:
    client = make_client()
    client.ping()
    delete_prefix(client)
    results: dict[str, Any] = {
        "started_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "machine": {"python": platform.python_version(), "platform": platform.platform(), "cpus": os.cpu_count()},
        "config": {"n": N, "rounds": ROUNDS, "redis": REDIS_URL, "prefix": PREFIX, "jmespath": JMESPATH},
        "versions": {},
    }
    try:
        from importlib.metadata import version

        for dist in ("aws-lambda-powertools", "redis", "fakeredis", "jmespath"):
            results["versions"][dist] = version(dist)
        print(f"speed: {N} keys x {ROUNDS} rounds x {len(IMPLEMENTATIONS)} implementations ...", file=sys.stderr)
        results["speed"] = measure_speed(client)
        delete_prefix(client)
        results["round_trips"] = measure_round_trips()
        delete_prefix(client)
        print("imports ...", file=sys.stderr)
        results["imports"] = measure_imports()
        print("semantics ...", file=sys.stderr)
        sem: dict[str, Any] = {}
        for name, check in (
            ("failures", lambda: check_failures(client)),
            ("key_selection", lambda: check_key_selection(client)),
            ("concurrency", lambda: check_concurrency(client)),
            ("crash_recovery", lambda: check_crash_recovery(client)),
            ("lost_result_write", lambda: check_lost_result_write(client)),
            ("redis_down", check_redis_down),
            ("missing_key", lambda: check_missing_key(client)),
            ("shared_layer", lambda: check_shared_layer(client)),
            ("replay_value_types", lambda: check_replay_value_types(client)),
            ("records", lambda: check_records(client)),
            ("fakeredis", check_fakeredis),
            ("ssl_default_against_plain_redis", check_ssl_default_hang),
        ):
            try:
                sem[name] = check()
            except Exception as exc:  # noqa: BLE001 - a broken check is reported, not fatal
                sem[name] = {"error": f"{type(exc).__name__}: {exc}"}
            delete_prefix(client)
        results["semantics"] = sem
        OUTPUT.write_text(json.dumps(results, indent=2, default=str))
        print_report(results)
        print(f"\nwrote {OUTPUT}")
    finally:
        removed = delete_prefix(client)
        print(f"removed {removed} leftover keys under {PREFIX}*", file=sys.stderr)
        client.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
