"""What a run costs on AWS, from its counts (pure: no I/O, reusable by FinishRun and the benchmark).

`counts` describes one run:

| key | meaning |
|---|---|
| `tenants` | tenants the run processed (the per-tenant figure divides by this) |
| `state_transitions` | STANDARD state transitions: the parent's states entered and retried, plus one per Distributed Map child execution started (AWS bills the child's start as a parent transition) |
| `express_durations_ms` | one duration per EXPRESS child execution (each tenant's pipeline) |
| `express_memory_mb` | memory an EXPRESS execution is billed at (optional; default 64, the minimum) |
| `lambda_invocations` | one `(memory_mb, duration_ms)` pair per Lambda request |
| `s3_put_requests`, `s3_get_requests` | S3 requests (the tenant manifest: one PUT by ListTenants, one GET by the Map's ItemReader) |

Prices are eu-west-1 list prices without free tiers; change them here only.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

# Step Functions STANDARD: USD per state transition ($0.025 per 1,000).
SFN_STANDARD_PER_TRANSITION = 0.025 / 1_000
# Step Functions EXPRESS: USD per execution request ($1.00 per 1M).
SFN_EXPRESS_PER_REQUEST = 1.00 / 1_000_000
# Step Functions EXPRESS: USD per GB-second of duration.
SFN_EXPRESS_PER_GB_SECOND = 0.00001667
# EXPRESS memory is billed in 64 MB chunks, duration rounded up to the next 100 ms (so 100 ms minimum).
SFN_EXPRESS_MEMORY_STEP_MB = 64
SFN_EXPRESS_DURATION_STEP_MS = 100
# Lambda (x86): USD per request ($0.20 per 1M) and per GB-second; duration billed per 1 ms, rounded up.
LAMBDA_PER_REQUEST = 0.20 / 1_000_000
LAMBDA_PER_GB_SECOND = 0.0000166667
LAMBDA_DURATION_STEP_MS = 1
# S3 Standard: USD per PUT/COPY/POST/LIST request ($0.005 per 1,000) and per GET request ($0.0004 per 1,000).
S3_PER_PUT = 0.005 / 1_000
S3_PER_GET = 0.0004 / 1_000
# Exchange rate used for the EUR figures (fixed, so runs are comparable over time).
USD_TO_EUR = 0.92


def _round_up(value: float, step: float) -> float:
    return math.ceil(value / step) * step if value > 0 else 0.0


def _non_negative(name: str, value: float) -> float:
    if value < 0 or math.isnan(value):
        raise ValueError(f"{name}: must be a non-negative number, got {value!r}")
    return value


def express_billed(duration_ms: float, memory_mb: int = SFN_EXPRESS_MEMORY_STEP_MB) -> tuple[float, float]:
    """(billed ms, billed MB) of one EXPRESS execution."""
    _non_negative("express duration_ms", duration_ms)
    billed_ms = max(float(SFN_EXPRESS_DURATION_STEP_MS), _round_up(duration_ms, SFN_EXPRESS_DURATION_STEP_MS))
    billed_mb = max(float(SFN_EXPRESS_MEMORY_STEP_MB), _round_up(memory_mb, SFN_EXPRESS_MEMORY_STEP_MB))
    return billed_ms, billed_mb


def lambda_billed_ms(duration_ms: float) -> float:
    """Billed duration of one Lambda request (rounded up to the next millisecond, at least 1 ms)."""
    _non_negative("lambda duration_ms", duration_ms)
    return max(float(LAMBDA_DURATION_STEP_MS), _round_up(duration_ms, LAMBDA_DURATION_STEP_MS))


def estimate_run_cost(counts: Mapping[str, Any]) -> dict[str, Any]:
    """USD and EUR for one run, broken down by service, and the same per tenant (None without tenants)."""
    tenants = int(_non_negative("tenants", counts.get("tenants", 0)))
    transitions = int(_non_negative("state_transitions", counts.get("state_transitions", 0)))
    express: Iterable[float] = counts.get("express_durations_ms") or ()
    express_memory = int(
        _non_negative("express_memory_mb", counts.get("express_memory_mb", SFN_EXPRESS_MEMORY_STEP_MB))
    )
    invocations: Iterable[tuple[int, float]] = counts.get("lambda_invocations") or ()
    puts = int(_non_negative("s3_put_requests", counts.get("s3_put_requests", 0)))
    gets = int(_non_negative("s3_get_requests", counts.get("s3_get_requests", 0)))

    express_requests, express_gb_s = 0, 0.0
    for duration in express:
        billed_ms, billed_mb = express_billed(float(duration), express_memory)
        express_requests += 1
        express_gb_s += billed_mb / 1024 * billed_ms / 1000
    lambda_requests, lambda_gb_s = 0, 0.0
    for memory_mb, duration in invocations:
        _non_negative("lambda memory_mb", memory_mb)
        lambda_requests += 1
        lambda_gb_s += memory_mb / 1024 * lambda_billed_ms(float(duration)) / 1000

    usd = {
        "step_functions_standard": transitions * SFN_STANDARD_PER_TRANSITION,
        "step_functions_express_requests": express_requests * SFN_EXPRESS_PER_REQUEST,
        "step_functions_express_duration": express_gb_s * SFN_EXPRESS_PER_GB_SECOND,
        "lambda_requests": lambda_requests * LAMBDA_PER_REQUEST,
        "lambda_duration": lambda_gb_s * LAMBDA_PER_GB_SECOND,
        "s3_requests": puts * S3_PER_PUT + gets * S3_PER_GET,
    }
    total_usd = sum(usd.values())
    return {
        "tenants": tenants,
        "billed": {
            "state_transitions": transitions,
            "express_requests": express_requests,
            "express_gb_seconds": express_gb_s,
            "lambda_requests": lambda_requests,
            "lambda_gb_seconds": lambda_gb_s,
            "s3_put_requests": puts,
            "s3_get_requests": gets,
        },
        "usd": {**usd, "total": total_usd},
        "eur_total": total_usd * USD_TO_EUR,
        "usd_per_tenant": total_usd / tenants if tenants else None,
        "eur_per_tenant": total_usd * USD_TO_EUR / tenants if tenants else None,
    }


def run_cost(counts: Mapping[str, Any]) -> dict[str, Any]:
    """The estimate stored with an execution: totals and the per-tenant figure, in EUR and USD."""
    estimate = estimate_run_cost(counts)
    return {
        "eur_total": estimate["eur_total"],
        "eur_per_tenant": estimate["eur_per_tenant"],
        "usd_total": estimate["usd"]["total"],
        "usd": estimate["usd"],
        "billed": estimate["billed"],
    }
