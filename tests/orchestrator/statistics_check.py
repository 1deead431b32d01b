"""What the statistics tests share on SQLite and on Postgres: seeded executions, the answer computed the plain
way in Python (the oracle), and a count of the execution rows the ORM loaded while answering."""

from __future__ import annotations

import math
import random
import uuid
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import event, insert

from chalicelib.db.engine import session_scope
from chalicelib.db.models import Execution
from chalicelib.db.readmodels import statistics
from chalicelib.domain.constants import TERMINAL_STATUSES

TODAY = date(2027, 8, 31)
STATUSES = ("completed", "completed", "completed", "completed_with_failures", "failed", "running", "cancelled")


def seed(url: str, workflow: str, count: int, *, seed_value: int = 7) -> list[dict[str, Any]]:
    """`count` executions of `workflow` over the 40 days before TODAY (some before the 30-day window)."""
    rng = random.Random(seed_value)
    rows = []
    for n in range(count):
        started = datetime.combine(TODAY, datetime.min.time(), UTC) + timedelta(minutes=1439 - rng.randrange(40 * 1440))
        status = rng.choice(STATUSES)
        duration = None if status == "running" or rng.random() < 0.05 else round(rng.uniform(5, 3600), 3)
        cost = None if rng.random() < 0.2 else {"eur_total": rng.uniform(0, 2), "billed": {"express_requests": 10}}
        rows.append(
            {
                "id": uuid.uuid4(),
                "workflow_name": workflow,
                "execution_name": f"{workflow}-{n}-{uuid.uuid4().hex[:8]}",
                "scope": "Europe/Madrid",
                "execution_type": "retry" if rng.random() < 0.1 else "scheduled",
                "run_date": None if rng.random() < 0.1 else started.date(),
                "status": status,
                "started_at": started,
                "duration_seconds": duration,
                "result_summary": _summary(cost, rng),
            }
        )
    with session_scope(url) as session:
        session.execute(insert(Execution), rows)
    return rows


def _percentile(values: list[float], pct: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[max(1, math.ceil(pct / 100 * len(ordered))) - 1], 3)


def _summary(cost: dict[str, Any] | None, rng: Any) -> dict[str, Any] | None:
    """Some runs carry a cost, some a performance verdict (slow or not), some neither."""
    summary: dict[str, Any] = {}
    if cost:
        summary["cost"] = cost
    verdict = rng.random()
    if verdict < 0.3:
        summary["performance"] = {"p95_seconds": 100.0, "factor": 1.5, "slow": verdict < 0.1}
    return summary or None


def _block(rows: list[dict[str, Any]]) -> dict[str, Any]:
    by_status: dict[str, int] = defaultdict(int)
    for r in rows:
        by_status[r["status"]] += 1
    finished = sum(by_status[s] for s in TERMINAL_STATUSES)
    durations = [r["duration_seconds"] for r in rows if r["duration_seconds"] is not None and r["status"] != "running"]
    costs = [((r["result_summary"] or {}).get("cost") or {}) for r in rows]
    total = sum(c.get("eur_total") or 0.0 for c in costs)
    tenants = sum((c.get("billed") or {}).get("express_requests") or 0 for c in costs)
    return {
        "executions": len(rows),
        "completed": by_status["completed"],
        "completed_with_failures": by_status["completed_with_failures"],
        "failed": by_status["failed"],
        "running": by_status["running"],
        "success_rate": round(100.0 * (by_status["completed"] + by_status["completed_with_failures"]) / finished, 2)
        if finished
        else None,
        "duration_p50": _percentile(durations, 50),
        "duration_p95": _percentile(durations, 95),
        "duration_max": round(max(durations), 3) if durations else None,
        "retries": sum(1 for r in rows if r["execution_type"] == "retry"),
        "cost_eur": round(total, 8),
        "cost_eur_per_tenant": round(total / tenants, 10) if tenants else None,
        "slow_runs": sum(1 for r in rows if ((r["result_summary"] or {}).get("performance") or {}).get("slow") is True),
    }


def expected(rows: list[dict[str, Any]], days: int) -> dict[str, Any]:
    since = TODAY - timedelta(days=days - 1)
    kept = [r for r in rows if r["started_at"] >= datetime.combine(since, datetime.min.time(), UTC)]
    per_day: dict[date, list[dict[str, Any]]] = defaultdict(list)
    for r in kept:
        per_day[r["run_date"] or r["started_at"].date()].append(r)
    return {
        **_block(kept),
        "days": [{"date": d, **_block(per_day[d])} for d in sorted(per_day)],
    }


@contextmanager
def rows_loaded() -> Iterator[list[int]]:
    """Counts Execution objects the ORM builds inside the block (`counter[0]`)."""
    counter = [0]

    def loaded(*_: Any) -> None:
        counter[0] += 1

    event.listen(Execution, "load", loaded)
    try:
        yield counter
    finally:
        event.remove(Execution, "load", loaded)


def answer(url: str, workflow: str, days: int) -> tuple[dict[str, Any], int]:
    with rows_loaded() as counter, session_scope(url) as session:
        result = statistics(session, workflow=workflow, days=days, today=TODAY)
    (block,) = result["workflows"]
    return {k: v for k, v in block.items() if k != "workflow_name"}, counter[0]


def close(a: Any, b: Any) -> bool:
    """Equal, floats within rounding (the database sums costs in another order)."""
    if isinstance(a, float) and isinstance(b, float):
        return abs(a - b) <= 1e-6 * max(1.0, abs(a), abs(b))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(close(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(close(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)
