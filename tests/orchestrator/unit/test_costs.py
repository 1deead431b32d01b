"""The AWS cost estimate of a run (chalicelib.costs): prices, billing granularity, per-tenant figure."""

from __future__ import annotations

import pytest

from chalicelib.domain import costs
from chalicelib.domain.costs import estimate_run_cost, express_billed, lambda_billed_ms


def test_empty_run_costs_nothing_and_has_no_per_tenant_figure() -> None:
    result = estimate_run_cost({})
    assert result["usd"]["total"] == 0
    assert result["eur_total"] == 0
    assert result["usd_per_tenant"] is None and result["eur_per_tenant"] is None


def test_express_duration_rounds_up_to_100_ms_and_memory_to_64_mb() -> None:
    assert express_billed(0) == (100, 64)
    assert express_billed(1) == (100, 64)
    assert express_billed(100) == (100, 64)
    assert express_billed(101) == (200, 64)
    assert express_billed(250, memory_mb=65) == (300, 128)


def test_lambda_duration_is_billed_per_started_millisecond() -> None:
    assert lambda_billed_ms(0) == 1
    assert lambda_billed_ms(0.2) == 1
    assert lambda_billed_ms(12.01) == 13
    assert lambda_billed_ms(12) == 12


def test_each_price_applies_to_its_own_count() -> None:
    result = estimate_run_cost(
        {
            "tenants": 2,
            "state_transitions": 1_000,  # $0.025
            "express_durations_ms": [50.0, 1_950.0],  # 100 ms + 2,000 ms at 64 MB
            "lambda_invocations": [(1024, 999.2)] * 2,  # 2 x 1,000 ms at 1 GB
            "s3_put_requests": 1_000,  # $0.005
            "s3_get_requests": 1_000,  # $0.0004
        }
    )
    usd = result["usd"]
    assert usd["step_functions_standard"] == pytest.approx(0.025)
    assert usd["step_functions_express_requests"] == pytest.approx(2 / 1_000_000)
    assert result["billed"]["express_gb_seconds"] == pytest.approx(64 / 1024 * 2.1)
    assert usd["step_functions_express_duration"] == pytest.approx(64 / 1024 * 2.1 * 0.00001667)
    assert usd["lambda_requests"] == pytest.approx(0.4 / 1_000_000)
    assert result["billed"]["lambda_gb_seconds"] == pytest.approx(2.0)
    assert usd["lambda_duration"] == pytest.approx(2 * 0.0000166667)
    assert usd["s3_requests"] == pytest.approx(0.0054)
    parts = sum(v for k, v in usd.items() if k != "total")
    assert usd["total"] == pytest.approx(parts)
    assert result["eur_total"] == pytest.approx(parts * costs.USD_TO_EUR)
    assert result["usd_per_tenant"] == pytest.approx(parts / 2)
    assert result["eur_per_tenant"] == pytest.approx(parts * costs.USD_TO_EUR / 2)


def test_a_typical_tenant_is_dominated_by_the_child_execution_start() -> None:
    # One tenant: one child start (a STANDARD transition), one EXPRESS child of 300 ms, six 20 ms Lambdas.
    result = estimate_run_cost(
        {"tenants": 1, "state_transitions": 1, "express_durations_ms": [300], "lambda_invocations": [(256, 20)] * 6}
    )
    assert result["usd"]["step_functions_standard"] > result["usd"]["total"] / 2
    assert result["eur_per_tenant"] < 0.0001


@pytest.mark.parametrize(
    "counts",
    [
        {"tenants": -1},
        {"state_transitions": -5},
        {"s3_get_requests": -1},
        {"express_durations_ms": [-1.0]},
        {"lambda_invocations": [(256, -3.0)]},
        {"lambda_invocations": [(-256, 3.0)]},
    ],
)
def test_negative_counts_are_refused_with_the_field_named(counts: dict) -> None:
    with pytest.raises(ValueError, match="must be a non-negative number"):
        estimate_run_cost(counts)
