"""Mutable simulator state: tenants, stored forecasts, notifications, call counts, faults."""

from __future__ import annotations

import threading
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime

from .data import unit
from .tenants import demo_tenants

SERVICES = (
    "tenant",
    "forecasting",
    "production",
    "procurement",
    "inventory",
    "notification",
    "sales",
    "distribution",
)
_ANY = object()


@dataclass
class Fault:
    """One service's fault.

    Per matching call: sleep latency_ms. The call *trips* when it is among the first
    fail_first_n matching calls of its tenant, or else with probability error_rate
    (seeded by service+tenant+call number, so runs repeat). A tripped call sleeps
    hang_seconds and answers status_code. With no trigger configured (fail_first_n
    None and error_rate 0) every matching call just sleeps hang_seconds and succeeds.
    """

    service: str
    latency_ms: int = 0
    error_rate: float = 0.0
    status_code: int = 503
    hang_seconds: float = 0.0
    tenant_ids: frozenset[str] | None = None
    fail_first_n: int | None = None
    path: str | None = None  # only calls to this route (e.g. /api/v1/forecasting/validate); None: all
    seen: Counter = field(default_factory=Counter)  # matching calls per tenant id

    def as_dict(self) -> dict:
        return {
            "service": self.service,
            "latency_ms": self.latency_ms,
            "error_rate": self.error_rate,
            "status_code": self.status_code,
            "hang_seconds": self.hang_seconds,
            "tenant_ids": sorted(self.tenant_ids) if self.tenant_ids is not None else None,
            "fail_first_n": self.fail_first_n,
            "path": self.path,
            "matched_calls": sum(self.seen.values()),
        }


def build_fault(spec: dict) -> Fault:
    """Validate an admin fault body; ValueError names the offending field."""
    if not isinstance(spec, dict):
        raise ValueError("body: must be a JSON object")
    unknown = set(spec) - {
        "service",
        "latency_ms",
        "error_rate",
        "status_code",
        "hang_seconds",
        "tenant_ids",
        "fail_first_n",
        "path",
    }
    if unknown:
        raise ValueError(f"{sorted(unknown)[0]}: unknown field")
    service = spec.get("service")
    if service not in SERVICES:
        raise ValueError(f"service: must be one of {', '.join(SERVICES)}")

    def number(name: str, default: float, lo: float, hi: float, kind: type = float) -> float:
        value = spec.get(name, default)
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        if not ok or (kind is int and value != int(value)) or not lo <= value <= hi:
            raise ValueError(f"{name}: must be {'an integer' if kind is int else 'a number'} in [{lo}, {hi}]")
        return kind(value)

    tenant_ids = spec.get("tenant_ids")
    if tenant_ids is not None and (not isinstance(tenant_ids, list) or not all(isinstance(t, str) for t in tenant_ids)):
        raise ValueError("tenant_ids: must be a list of strings or null")
    fail_first_n = spec.get("fail_first_n")
    path = spec.get("path")
    if path is not None and (not isinstance(path, str) or not path.startswith("/api/")):
        raise ValueError("path: must be a route of the service (/api/...) or null")
    return Fault(
        path=path,
        service=service,
        latency_ms=number("latency_ms", 0, 0, 600_000, int),
        error_rate=number("error_rate", 0.0, 0.0, 1.0),
        status_code=number("status_code", 503, 400, 599, int),
        hang_seconds=number("hang_seconds", 0.0, 0.0, 3600.0),
        tenant_ids=frozenset(t.lower() for t in tenant_ids) if tenant_ids is not None else None,
        fail_first_n=None if fail_first_n is None else number("fail_first_n", 0, 0, 10**9, int),
    )


class SimState:
    def __init__(self, tenants: list[dict] | None = None) -> None:
        self._lock = threading.Lock()
        self.tenants: dict[str, dict] = {}
        self.sorted_tenants: list[dict] = []
        self.set_tenants(demo_tenants() if tenants is None else tenants)
        self.reset()

    # -- tenants ------------------------------------------------------------
    def set_tenants(self, tenants: list[dict]) -> None:
        by_id = {t["id"]: t for t in tenants}
        ordered = sorted(by_id.values(), key=lambda t: (t["name"], t["id"]))
        with self._lock:  # swap both at once so readers never see a half-built list
            self.tenants, self.sorted_tenants = by_id, ordered

    def children_of(self, parent_id: str) -> list[dict]:
        """The tenants whose parent is `parent_id` (any status), in listing order."""
        return [t for t in self.sorted_tenants if t["parent_tenant_id"] == parent_id]

    # -- forecasts / notifications -----------------------------------------
    def store_forecast(self, forecast_id: str, tenant_id: str, start: str, days: int) -> None:
        # Values are recomputable from (tenant, start, days); keep only the key so 10k tenants stay cheap.
        with self._lock:
            self.forecasts[forecast_id] = (tenant_id, start, days)
            self.latest_forecast[tenant_id] = forecast_id

    def add_notification(self, payload: dict) -> dict:
        record = {
            "notification_id": str(uuid.uuid4()),
            "status": "sent",
            "sent_at": datetime.now(UTC).isoformat(),
            **payload,
        }
        with self._lock:
            self.notifications.append(record)
        return record

    def list_notifications(self) -> list[dict]:
        with self._lock:
            return list(self.notifications)

    # -- call accounting ---------------------------------------------------
    def record_call(self, service: str, path: str, tenant_id: str | None) -> None:
        with self._lock:
            self._calls[(service, path, tenant_id)] += 1

    def calls(self) -> list[dict]:
        with self._lock:
            items = list(self._calls.items())
        return [{"service": s, "path": p, "tenant_id": t, "count": c} for (s, p, t), c in items]

    def calls_for(self, service: str, tenant_id: str | None | object = _ANY) -> int:
        """Calls to a service, optionally for one tenant id (None = calls without a tenant)."""
        with self._lock:
            return sum(
                c for (s, _, t), c in self._calls.items() if s == service and (tenant_id is _ANY or t == tenant_id)
            )

    def clear_calls(self) -> None:
        with self._lock:
            self._calls = Counter()

    # -- faults ------------------------------------------------------------
    def set_fault(
        self,
        service: str,
        *,
        latency_ms: int = 0,
        error_rate: float = 0.0,
        status_code: int = 503,
        hang_seconds: float = 0.0,
        tenant_ids: list[str] | None = None,
        fail_first_n: int | None = None,
        path: str | None = None,
    ) -> dict:
        """Install (replace) the fault for one service; ValueError names a bad field."""
        return self.install_fault(
            build_fault(
                {
                    "service": service,
                    "latency_ms": latency_ms,
                    "error_rate": error_rate,
                    "status_code": status_code,
                    "hang_seconds": hang_seconds,
                    "tenant_ids": tenant_ids,
                    "fail_first_n": fail_first_n,
                    "path": path,
                }
            )
        )

    def install_fault(self, fault: Fault) -> dict:
        with self._lock:
            self._faults[fault.service] = fault
        return fault.as_dict()

    def faults(self) -> list[dict]:
        with self._lock:
            return [f.as_dict() for f in self._faults.values()]

    def clear_faults(self, service: str | None = None) -> None:
        with self._lock:
            if service is None:
                self._faults = {}
            else:
                self._faults.pop(service, None)

    def fault_outcome(self, service: str, tenant_id: str | None, path: str | None = None) -> tuple[float, int | None]:
        """(seconds to sleep, status code to fail with or None) for one incoming call."""
        fault = self._faults.get(service)
        if fault is None or (fault.path is not None and fault.path != path):
            return 0.0, None
        key = tenant_id.lower() if tenant_id else None
        if fault.tenant_ids is not None and key not in fault.tenant_ids:
            return 0.0, None
        with self._lock:
            fault.seen[key] += 1
            n = fault.seen[key]
        if fault.fail_first_n is not None and n <= fault.fail_first_n:
            tripped = True
        else:
            tripped = fault.error_rate > 0 and unit("fault", service, key, n) < fault.error_rate
        has_trigger = fault.fail_first_n is not None or fault.error_rate > 0
        delay = fault.latency_ms / 1000.0
        if tripped or not has_trigger:
            delay += fault.hang_seconds
        return delay, fault.status_code if tripped else None

    def reset(self) -> None:
        """Forget forecasts, notifications, calls and faults; keep tenants."""
        with self._lock:
            self.forecasts: dict[str, tuple[str, str, int]] = {}
            self.latest_forecast: dict[str, str] = {}
            self.notifications: list[dict] = []
            self._calls: Counter = Counter()
            self._faults: dict[str, Fault] = {}
