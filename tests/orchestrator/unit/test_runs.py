"""Run naming, tenant selection and final status (pure domain)."""

from __future__ import annotations

from datetime import date

import pytest

from chalicelib.domain.models import Tenant, TenantStepInput
from chalicelib.domain.runs import execution_name, final_status, scope_slug, tenants_for_run


def _tenant(name: str, tier: str = "starter", status: str = "active", tz: str = "Europe/Madrid") -> Tenant:
    return Tenant(id=f"id-{name}", name=name, subscription_tier=tier, status=status, timezone=tz)


def test_execution_name_is_deterministic_and_step_functions_safe() -> None:
    # GIVEN the same workflow, scope and local date
    # WHEN the name is built twice
    first = execution_name("daily_operations", "Europe/Madrid", date(2026, 3, 29))
    second = execution_name("daily_operations", "Europe/Madrid", date(2026, 3, 29))
    # THEN both are equal and use only the characters Step Functions allows
    assert first == second == "daily_operations-europe-madrid-2026-03-29"
    assert execution_name("daily_operations", "Atlantic/Canary", date(2026, 3, 29), "manual 1") == (
        "daily_operations-atlantic-canary-2026-03-29-manual-1"
    )


def test_execution_name_refuses_names_over_80_characters() -> None:
    with pytest.raises(ValueError, match="longer than 80"):
        execution_name("w" * 70, "Europe/Madrid", date(2026, 1, 1))


def test_scope_slug() -> None:
    assert scope_slug("America/Argentina/Buenos_Aires") == "america-argentina-buenos_aires"
    assert scope_slug("all") == "all"


def test_only_active_tenants_of_the_scope_run_enterprise_first() -> None:
    # GIVEN tenants of mixed tiers, statuses and timezones
    tenants = [
        _tenant("zeta", "starter"),
        _tenant("alpha", "starter"),
        _tenant("mid", "professional"),
        _tenant("big", "enterprise"),
        _tenant("paused", "enterprise", status="suspended"),
        _tenant("gone", status="cancelled"),
        _tenant("canary", tz="Atlantic/Canary"),
    ]
    # WHEN the Madrid scope is selected
    selected, skipped = tenants_for_run(tenants, scope="Europe/Madrid")
    # THEN active Madrid tenants run in tier order, then by name; inactive ones are skipped
    assert [t.name for t in selected] == ["big", "mid", "alpha", "zeta"]
    assert sorted(t.name for t in skipped) == ["gone", "paused"]
    # AND the "all" scope covers every timezone; tenant ids narrow the run
    all_selected, _ = tenants_for_run(tenants, scope="all")
    assert "canary" in [t.name for t in all_selected]
    only, _ = tenants_for_run(tenants, scope="all", tenant_ids=["id-mid", "id-gone"])
    assert [t.name for t in only] == ["mid"]


@pytest.mark.parametrize(
    ("total", "failed", "expected"),
    [(10, 0, "completed"), (10, 3, "completed_with_failures"), (10, 10, "failed"), (0, 0, "completed")],
)
def test_final_status(total: int, failed: int, expected: str) -> None:
    assert final_status(tenants_total=total, tenants_failed=failed) == expected


def test_parallel_branch_results_are_merged_for_the_next_step() -> None:
    # GIVEN the Parallel state's output: one results object per branch
    event = {
        "run": {
            "execution_id": "e",
            "execution_name": "n",
            "workflow_name": "w",
            "scope": "s",
            "run_date": "2026-11-30",
        },
        "tenant": {"id": "t1", "name": "T"},
        "results": [{"generate_forecasts": {"forecast_id": "f"}}, {"validate_forecasts": {"mape": 5.0}}],
    }
    # WHEN the step input is parsed
    parsed = TenantStepInput.model_validate(event)
    # THEN each step's summary is found by its name
    assert parsed.results["generate_forecasts"]["forecast_id"] == "f"
    assert parsed.results["validate_forecasts"]["mape"] == 5.0
