"""Health probes (each timed) and the leader view."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import Any

from chalicelib.settings import get_settings


def _timed(required: bool, probe: Callable[[], str | None]) -> dict[str, Any]:
    started = time.perf_counter()
    try:
        detail = probe()
        result: dict[str, Any] = {"status": "up", "required": required, "detail": detail}
    except _Disabled as off:
        result = {"status": "disabled", "required": False, "detail": str(off)}
    except _Degraded as problem:
        result = {"status": "degraded", "required": required, "error": str(problem)[:2000]}
    except Exception as exc:  # noqa: BLE001 - a health check reports any failure
        result = {"status": "down", "required": required, "error": f"{type(exc).__name__}: {exc}"[:500]}
    result["latency_ms"] = round((time.perf_counter() - started) * 1000, 2)
    return result


class _Disabled(Exception):
    """The dependency is not configured in this environment (not an error)."""


def _database() -> str:
    from sqlalchemy import text

    from chalicelib.db.engine import session_scope

    with session_scope() as session:
        session.execute(text("SELECT 1"))
        return session.get_bind().dialect.name


def _redis() -> None:
    from chalicelib.adapters.redis_client import get_redis

    get_redis().ping()


def _rabbitmq() -> str:
    url = get_settings().rabbitmq_url
    if not url:
        raise _Disabled("RABBITMQ_URL unset: events go to the local event log")
    import pika

    params = pika.URLParameters(url)
    params.socket_timeout = 2
    params.blocked_connection_timeout = 2
    params.connection_attempts = 1
    connection = pika.BlockingConnection(params)
    connection.close()
    return "connected"


class _Degraded(Exception):
    """The dependency answers, but what it reports needs an operator (the scheduled jobs)."""


def _jobs() -> str:
    from chalicelib.services.scheduling import job_health

    problems = job_health()
    if problems:
        raise _Degraded("; ".join(p["reason"] for p in problems[:10]))
    return "every enabled workflow's scheduled runs dispatched; none running past its limit"


def _stepfunctions() -> str:
    from chalicelib.adapters.stepfunctions import describe_state_machine

    return describe_state_machine(os.environ.get("DAILY_OPERATIONS_STATE_MACHINE_ARN"))


PUBLIC_CHECK_FIELDS = ("status", "required")


def health(*, details: bool = False) -> tuple[int, dict[str, Any]]:
    """Database, Redis and Step Functions are required (503 when one is down); RabbitMQ is not (events wait
    in the outbox). The scheduled jobs make the service `degraded` (200) when a due run was not dispatched
    or a run is stuck past its limit.

    Anyone sees the overall status and each dependency's status (up, down, disabled). The stage, the
    latencies and what a failing dependency said (driver errors name hosts and ports) are for operators
    (`details`) and for the log, where every failing check is written."""
    checks = {
        "database": _timed(True, _database),
        "redis": _timed(True, _redis),
        "stepfunctions": _timed(True, _stepfunctions),
        "rabbitmq": _timed(False, _rabbitmq),
    }
    healthy = all(c["status"] == "up" for c in checks.values() if c["required"])
    if checks["database"]["status"] == "up":
        checks["jobs"] = _timed(False, _jobs)
    failing = {name: c.get("error") for name, c in checks.items() if c["status"] in ("down", "degraded")}
    if failing:
        from chalicelib.observability import get_logger

        get_logger().warning("health check failing", extra={"checks": failing})
    degraded = checks.get("jobs", {}).get("status") == "degraded"
    status = "unhealthy" if not healthy else "degraded" if degraded else "healthy"
    body: dict[str, Any] = {"status": status, "checks": checks}
    if details:
        body["stage"] = get_settings().stage
    else:
        body["checks"] = {name: {k: c[k] for k in PUBLIC_CHECK_FIELDS} for name, c in checks.items()}
    return (200 if healthy else 503), body


def leader() -> dict[str, Any]:
    """The dispatch locks (holder, heartbeat, held now) and the run locks held."""
    from chalicelib.adapters.locks import RunLocks
    from chalicelib.services.scheduling import leader_status

    status = leader_status()
    held = [lock for lock in status["locks"] if lock.get("held")]
    return {
        "instance_id": status["instance_id"],
        "enabled": status["enabled"],
        "leader": held[0] if held else None,
        "locks": status["locks"],
        "run_locks": RunLocks().held(),
    }
