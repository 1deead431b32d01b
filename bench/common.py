"""What the benchmark's sections share: the dedicated database, Redis keys, the simulator process, workers."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from bench.config import ROOT, Config

RESULT_MARK = "BENCH-RESULT "
# The benchmark's stages (bench1000, ...) are not development stages: they need a JWT secret of their own,
# one per benchmark run, shared by all its processes.
_JWT_SECRET = os.environ.setdefault("JWT_SECRET", f"bench-{secrets.token_hex(24)}")


def python_path() -> str:
    parts = [str(ROOT), str(ROOT / "localstack"), os.environ.get("PYTHONPATH", "")]
    return os.pathsep.join(p for p in parts if p)


def recreate_database(cfg: Config) -> str:
    """A fresh, empty `bench_<pid>` for the next section (sections never share tables)."""
    import sqlalchemy as sa

    admin = sa.create_engine(cfg.pg_admin_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{cfg.database}" WITH (FORCE)'))
            conn.execute(sa.text(f'CREATE DATABASE "{cfg.database}"'))
    finally:
        admin.dispose()
    return cfg.database_url


def drop_database(cfg: Config) -> None:
    import sqlalchemy as sa

    admin = sa.create_engine(cfg.pg_admin_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{cfg.database}" WITH (FORCE)'))
    finally:
        admin.dispose()


def clear_redis(cfg: Config) -> int:
    """Delete this benchmark's keys only (other sessions share the machine's Redis)."""
    import redis

    client = redis.Redis.from_url(cfg.redis_url)
    try:
        keys = list(client.scan_iter(match=f"{cfg.redis_prefix}:*", count=1000))
        for start in range(0, len(keys), 1000):
            client.delete(*keys[start : start + 1000])
        return len(keys)
    finally:
        client.close()


class Simulator:
    """The bakery platform simulator in its own process, so it doesn't share the orchestrator's GIL."""

    def __init__(self) -> None:
        self.process: subprocess.Popen[str] | None = None
        self.url = ""

    def start(self) -> Simulator:
        env = {**os.environ, "PYTHONPATH": python_path()}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "bakery_sim", "--port", "0", "--tenants", "0"],
            stdout=subprocess.PIPE,
            text=True,
            env=env,
            cwd=ROOT,
        )
        assert self.process.stdout is not None
        self.url = self.process.stdout.readline().strip()
        if not self.url.startswith("http://127.0.0.1:"):
            self.stop()
            raise RuntimeError(f"the simulator did not start (printed {self.url!r})")
        return self

    def set_tenants(self, tenants: list[dict[str, Any]]) -> None:
        import httpx

        httpx.post(f"{self.url}/sim/reset", timeout=60).raise_for_status()
        httpx.put(f"{self.url}/sim/tenants", json={"tenants": tenants}, timeout=120).raise_for_status()

    def stop(self) -> None:
        stop_process(self.process)
        self.process = None


def stop_process(process: subprocess.Popen[Any] | None) -> None:
    """Terminate a helper server, killing it if it does not stop within 10 s."""
    if process is not None and process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def worker_env(cfg: Config, database_url: str, simulator_url: str, **extra: str) -> dict[str, str]:
    return {
        **os.environ,
        "PYTHONPATH": python_path(),
        "BENCH_DATABASE_URL": database_url,
        "BENCH_REDIS_URL": cfg.redis_url,
        "BENCH_SIMULATOR_URL": simulator_url,
        "REDIS_KEY_PREFIX": cfg.redis_prefix,
        "POWERTOOLS_LOG_LEVEL": "ERROR",
        "MAP_MAX_CONCURRENCY": str(cfg.concurrency),
        "JWT_SECRET": _JWT_SECRET,
        **extra,
    }


def run_worker(
    kind: str, args: dict[str, Any], env: dict[str, str], *, timeout: float, module: str = "bench.worker"
) -> dict[str, Any]:
    """Run one measurement in a fresh interpreter; its last `BENCH-RESULT {json}` line is the answer.

    stderr (progress) goes straight to ours; wall time of the child and its peak RSS come back too.
    """
    started = time.monotonic()
    process = subprocess.Popen(
        [sys.executable, "-m", module, kind, json.dumps(args)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=ROOT,
    )
    errors: deque[str] = deque(maxlen=30)

    def relay() -> None:  # progress lines reach our stderr as they come; the tail is kept for a failure
        assert process.stderr is not None
        for line in process.stderr:
            errors.append(line.rstrip())
            if line.startswith("  ["):
                sys.stderr.write(line)
                sys.stderr.flush()

    output: list[str] = []

    def collect() -> None:
        assert process.stdout is not None
        output.extend(process.stdout)

    threads = [threading.Thread(target=relay, daemon=True), threading.Thread(target=collect, daemon=True)]
    for thread in threads:
        thread.start()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
        raise TimeoutError(f"worker {kind} {args} still running after {timeout:.0f} s") from None
    except BaseException:  # interrupted: don't leave the worker running on its own
        process.kill()
        process.wait()
        raise
    for thread in threads:
        thread.join(timeout=10)
    out = "".join(output)
    lines = [line[len(RESULT_MARK) :] for line in out.splitlines() if line.startswith(RESULT_MARK)]
    if process.returncode != 0 or not lines:
        tail = "\n".join([*out.splitlines()[-5:], *errors])
        raise RuntimeError(f"worker {kind} exited {process.returncode} without a result:\n{tail}")
    result: dict[str, Any] = json.loads(lines[-1])
    result.setdefault("process_wall_s", round(time.monotonic() - started, 3))
    return result


def emit(result: dict[str, Any]) -> None:
    """A worker's answer (the parent reads the last such line on stdout)."""
    print(RESULT_MARK + json.dumps(result, default=str), flush=True)


@contextmanager
def timed() -> Iterator[dict[str, float]]:
    box: dict[str, float] = {}
    start = time.perf_counter()
    try:
        yield box
    finally:
        box["s"] = time.perf_counter() - start
