"""Rules about runs: names, scopes, tenant order and final status."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from datetime import date

from chalicelib.domain.models import Tenant

TIER_PRIORITY = {"enterprise": 0, "professional": 1, "starter": 2}
_NAME_UNSAFE = re.compile(r"[^A-Za-z0-9_-]+")
MAX_EXECUTION_NAME = 80  # Step Functions' limit


def scope_slug(scope: str) -> str:
    """`Europe/Madrid` -> `europe-madrid`: a scope as it may appear in an execution name."""
    return _NAME_UNSAFE.sub("-", scope.replace("/", "-")).strip("-").lower() or "all"


def execution_name(workflow: str, scope: str, run_date: date, suffix: str | None = None) -> str:
    """Deterministic name: the same workflow, scope and local date always give the same name.

    Step Functions refuses a second execution with one name, which makes duplicate dispatches harmless.
    """
    name = f"{workflow}-{scope_slug(scope)}-{run_date.isoformat()}"
    if suffix:
        name = f"{name}-{_NAME_UNSAFE.sub('-', suffix).strip('-')}"
    if len(name) > MAX_EXECUTION_NAME:
        raise ValueError(f"execution name longer than {MAX_EXECUTION_NAME} characters: {name!r}")
    return name


def tenants_for_run(
    tenants: Iterable[Tenant],
    *,
    scope: str,
    tenant_ids: Iterable[str] | None = None,
    calendars: Iterable[str] | None = None,
    calendar_of: Callable[[Tenant], str] | None = None,
) -> tuple[list[Tenant], list[Tenant]]:
    """Split the tenants a run covers into (to process, skipped).

    Only active tenants of the scope's timezone run ("all" covers every timezone), and with `calendars`
    only those whose holiday calendar (`calendar_of(tenant)`, a calendar key) is one of them; enterprise
    first, then professional, then starter, each by name, so the biggest customers are served first.
    """
    wanted = set(tenant_ids) if tenant_ids is not None else None
    running_calendars = set(calendars) if calendars is not None else None
    if running_calendars is not None and calendar_of is None:
        raise ValueError("calendars: needs calendar_of to place each tenant")
    selected: list[Tenant] = []
    skipped: list[Tenant] = []
    for tenant in tenants:
        if wanted is not None and tenant.id not in wanted:
            continue
        if scope != "all" and tenant.timezone != scope:
            continue
        if running_calendars is not None and calendar_of is not None and calendar_of(tenant) not in running_calendars:
            continue
        (selected if tenant.status == "active" else skipped).append(tenant)
    selected.sort(key=lambda t: (TIER_PRIORITY.get(t.subscription_tier, 9), t.name, t.id))
    return selected, skipped


def final_status(*, tenants_total: int, tenants_failed: int) -> str:
    if tenants_failed == 0:
        return "completed"
    if tenants_failed >= tenants_total:
        return "failed"
    return "completed_with_failures"
