"""HTTP client for the bakery platform's services (tenant, forecasting, production, ...).

Concurrent calls to each service are bounded platform-wide by a Redis semaphore (see
`ServiceSemaphore`): on AWS every concurrent Lambda invocation is its own sandbox, so an in-process
`BoundedSemaphore` would bound nothing (each process makes one call at a time); only a counter shared by
all sandboxes can keep a 10,000-tenant run from sending thousands of simultaneous requests to one
service. Redis is already what runs need for their locks.
"""

from __future__ import annotations

import contextlib
import time
import uuid
from collections.abc import Callable, Hashable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from datetime import date
from functools import cache
from typing import Any, Generic, TypeVar

import httpx
from pydantic import BaseModel, ConfigDict, ValidationError

from chalicelib.domain.enterprise import AccuracyReply, ForecastReply, PlanReply, RoutesReply, SalesReply, WasteReply
from chalicelib.domain.models import Tenant
from chalicelib.errors import LockUnavailableError, PermanentServiceError, TransientServiceError
from chalicelib.settings import Settings, get_settings

R = TypeVar("R", bound=BaseModel)
T = TypeVar("T")
K = TypeVar("K", bound=Hashable)


class TenantList(BaseModel):
    model_config = ConfigDict(extra="ignore")

    tenants: list[Tenant]


# Take a slot: drop expired leases, then add ours if fewer than the limit are held. Leases expire so a
# Lambda killed mid-call cannot leak its slot.
_ACQUIRE = """
local now = tonumber(ARGV[1])
redis.call('zremrangebyscore', KEYS[1], '-inf', now)
if redis.call('zcard', KEYS[1]) < tonumber(ARGV[3]) then
    redis.call('zadd', KEYS[1], now + tonumber(ARGV[2]), ARGV[4])
    redis.call('pexpire', KEYS[1], tonumber(ARGV[2]))
    return 1
end
return 0
"""


def parse_limits(text: str) -> dict[str, int]:
    """`"forecasting=20, production=10"` -> {"forecasting": 20, "production": 10}; names the bad entry."""
    limits: dict[str, int] = {}
    for item in (part.strip() for part in text.split(",")):
        if not item:
            continue
        name, sep, value = item.partition("=")
        if not sep or not name.strip() or not value.strip().isdigit():
            raise ValueError(f"PLATFORM_CONCURRENCY_LIMITS: bad entry {item!r} (expected service=N)")
        limits[name.strip()] = int(value)
    return limits


class ServiceSemaphore:
    """At most `limit` calls in flight per service across every Lambda, as leases in a Redis sorted set.

    Waits (polling) up to `wait_seconds` for a slot, then raises TransientServiceError so the state
    machine retries the step later with backoff. If Redis cannot be reached the call goes ahead
    unbounded (a protective limit must not stop the platform; run locks fail closed on their own).
    """

    def __init__(self, *, settings: Settings, client: Any | None = None) -> None:
        self._settings = settings
        self._client = client
        self._limits = parse_limits(settings.platform_concurrency_limits)
        self._script: Any = None

    def limit(self, service: str) -> int:
        return self._limits.get(service, self._settings.platform_max_concurrency)

    def _redis(self) -> Any:
        if self._client is None:
            from chalicelib.adapters.redis_client import get_redis

            self._client = get_redis()
        return self._client

    @contextlib.contextmanager
    def slot(self, service: str) -> Iterator[None]:
        limit = self.limit(service)
        if limit <= 0:
            yield
            return
        import redis

        from chalicelib.observability import get_logger

        key = f"{self._settings.redis_key_prefix}:service-slots:{service}"
        holder = uuid.uuid4().hex
        lease_ms = int((self._settings.service_timeout(service) + 5) * 1000)  # outlives the call it guards
        try:
            client = self._redis()
            if self._script is None:
                self._script = client.register_script(_ACQUIRE)
            deadline = time.monotonic() + self._settings.platform_timeout_seconds
            delay = 0.005
            while not self._script(keys=[key], args=[int(time.time() * 1000), lease_ms, limit, holder]):
                if time.monotonic() >= deadline:
                    raise TransientServiceError(
                        f"{service} service: {limit} concurrent calls already in flight (limit reached)"
                    )
                time.sleep(delay)
                delay = min(delay * 2, 0.1)
        except (redis.RedisError, LockUnavailableError) as exc:
            get_logger().warning(
                "service concurrency not bounded: Redis unavailable", extra={"service": service, "error": str(exc)}
            )
            yield
            return
        try:
            yield
        finally:
            with contextlib.suppress(redis.RedisError):
                client.zrem(key, holder)


class PlatformClient:
    """One method per platform call. Raises TransientServiceError (retry) or PermanentServiceError."""

    def __init__(
        self,
        *,
        settings: Settings | None = None,
        client: httpx.Client | None = None,
        semaphore: ServiceSemaphore | None = None,
    ) -> None:
        self._settings = settings or get_settings()
        self._client = client or httpx.Client(
            timeout=httpx.Timeout(self._settings.platform_timeout_seconds),
            limits=httpx.Limits(max_connections=200, max_keepalive_connections=100),
        )
        self._semaphore = semaphore or ServiceSemaphore(settings=self._settings)

    def _call(self, service: str, method: str, path: str, **kwargs: Any) -> Any:
        with self._semaphore.slot(service):
            return self._send(service, method, path, **kwargs)

    def _send(self, service: str, method: str, path: str, **kwargs: Any) -> Any:
        return self._decode(service, method, path, self._exchange(service, method, path, **kwargs))

    def _exchange(self, service: str, method: str, path: str, **kwargs: Any) -> httpx.Response:
        url = f"{self._settings.service_url(service)}{path}"
        try:
            kwargs.setdefault("timeout", self._settings.service_timeout(service))  # a dashboard read sets its own
            return self._client.request(method, url, **kwargs)
        except httpx.TimeoutException as exc:
            raise TransientServiceError(f"{service} service timed out: {method} {path}") from exc
        except httpx.TransportError as exc:
            raise TransientServiceError(f"{service} service unreachable: {method} {path}: {exc}") from exc

    @staticmethod
    def _decode(service: str, method: str, path: str, response: httpx.Response) -> Any:
        if response.status_code >= 500 or response.status_code == 429:
            raise TransientServiceError(
                f"{service} service answered {response.status_code} to {method} {path}: {response.text[:200]}"
            )
        if response.status_code >= 400:
            raise PermanentServiceError(
                f"{service} service answered {response.status_code} to {method} {path}: {response.text[:200]}"
            )
        try:
            return response.json()
        except ValueError as exc:
            raise TransientServiceError(f"{service} service answered non-JSON to {method} {path}") from exc

    def _read(
        self,
        service: str,
        path: str,
        model: type[R],
        *,
        params: dict[str, Any] | None = None,
        timeout: float | None = None,
        absent: tuple[int, ...] = (),
    ) -> R | None:
        """A read for a view (an enterprise dashboard), parsed into `model`: `timeout` bounds this call alone,
        a status in `absent` means "no such thing" (None). A view's reads are bounded per request by the
        caller's fan-out, not by the platform-wide semaphore: that one paces the daily runs, and a dashboard
        must not queue behind a run for a slot. A body of the wrong shape is a PermanentServiceError naming
        the field."""
        kwargs: dict[str, Any] = {"params": params}
        if timeout is not None:
            kwargs["timeout"] = httpx.Timeout(timeout)
        try:
            response = self._exchange(service, "GET", path, **kwargs)
        except TransientServiceError as exc:
            if timeout is not None and isinstance(exc.__cause__, httpx.TimeoutException):
                raise TransientServiceError(f"{service} service timed out after {timeout:g} s: GET {path}") from exc
            raise
        if response.status_code in absent:
            return None
        body = self._decode(service, "GET", path, response)
        try:
            return model.model_validate(body)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first.get("loc", ())) or "body"
            raise PermanentServiceError(
                f"{service} service answered GET {path} with an unexpected body: {where}: {first.get('msg')}"
            ) from None

    def _require(
        self,
        service: str,
        path: str,
        model: type[R],
        *,
        params: dict[str, Any] | None = None,
        timeout: float | None = None,
    ) -> R:
        result = self._read(service, path, model, params=params, timeout=timeout)
        if result is None:  # only an `absent` status gives None, and none is given here
            raise PermanentServiceError(f"{service} service answered GET {path} with nothing")
        return result

    # Tenant service
    def get_tenant(self, tenant_id: str, *, timeout: float | None = None) -> Tenant | None:
        """One tenant, or None when the tenant service does not know it (404, or an id it cannot hold)."""
        return self._read("tenant", f"/api/v1/tenants/{tenant_id}", Tenant, timeout=timeout, absent=(400, 404, 422))

    def list_children(self, parent_id: str, *, timeout: float | None = None) -> list[Tenant]:
        """The tenants whose parent is `parent_id` (its outlets), as the tenant service lists them."""
        body = self._require("tenant", f"/api/v1/tenants/{parent_id}/children", TenantList, timeout=timeout)
        return body.tenants

    def list_tenants(self) -> list[Tenant]:
        body = self._call("tenant", "GET", "/api/v1/tenants")
        return [Tenant.model_validate(item) for item in body["tenants"]]

    # Forecasting service
    def generate_forecasts(self, tenant_id: str, start_date: date, days_ahead: int) -> dict[str, Any]:
        payload = {"tenant_id": tenant_id, "start_date": start_date.isoformat(), "days_ahead": days_ahead}
        return self._call("forecasting", "POST", "/api/v1/forecasting/generate", json=payload)

    def validate_forecasts(self, tenant_id: str, day: date) -> dict[str, Any]:
        payload = {"tenant_id": tenant_id, "date": day.isoformat()}
        return self._call("forecasting", "POST", "/api/v1/forecasting/validate", json=payload)

    def get_forecast(self, tenant_id: str, start: date, days: int, *, timeout: float | None = None) -> ForecastReply:
        """The tenant's forecast from `start` for `days` days, read (never generated)."""
        params = {"tenant_id": tenant_id, "start_date": start.isoformat(), "days_ahead": days}
        return self._require(
            "forecasting", "/api/v1/forecasting/forecasts", ForecastReply, params=params, timeout=timeout
        )

    def get_forecast_accuracy(
        self, tenant_id: str, start: date, end: date, *, timeout: float | None = None
    ) -> AccuracyReply:
        """The forecasting service's MAPE of the tenant's forecasts, per day and over [start, end]."""
        params = {"tenant_id": tenant_id, "start_date": start.isoformat(), "end_date": end.isoformat()}
        return self._require(
            "forecasting", "/api/v1/forecasting/accuracy", AccuracyReply, params=params, timeout=timeout
        )

    # Sales service
    def get_sales_summary(self, tenant_id: str, start: date, end: date, *, timeout: float | None = None) -> SalesReply:
        params = {"tenant_id": tenant_id, "start_date": start.isoformat(), "end_date": end.isoformat()}
        return self._require("sales", "/api/v1/sales/summary", SalesReply, params=params, timeout=timeout)

    # Distribution service
    def get_delivery_routes(self, tenant_id: str, day: date, *, timeout: float | None = None) -> RoutesReply:
        """A central site's delivery routes and their shipments on `day`."""
        params = {"tenant_id": tenant_id, "date": day.isoformat()}
        return self._require("distribution", "/api/v1/distribution/routes", RoutesReply, params=params, timeout=timeout)

    # Production, procurement, inventory
    def get_production_plan(self, tenant_id: str, start: date, days: int, *, timeout: float | None = None) -> PlanReply:
        """The tenant's production plan from `start` for `days` days (a central site's covers its network)."""
        params = {"tenant_id": tenant_id, "start_date": start.isoformat(), "days_ahead": days}
        return self._require("production", "/api/v1/production/schedules", PlanReply, params=params, timeout=timeout)

    def get_waste(self, tenant_id: str, start: date, end: date, *, timeout: float | None = None) -> WasteReply:
        """Units written off per day over [start, end], and the tenant's own baseline for the same period."""
        params = {"tenant_id": tenant_id, "start_date": start.isoformat(), "end_date": end.isoformat()}
        return self._require("inventory", "/api/v1/inventory/waste", WasteReply, params=params, timeout=timeout)

    def generate_production_schedule(
        self, tenant_id: str, day: date, days_ahead: int, forecast_id: str | None
    ) -> dict[str, Any]:
        payload: dict[str, Any] = {"tenant_id": tenant_id, "date": day.isoformat(), "days_ahead": days_ahead}
        if forecast_id:
            payload["forecast_id"] = forecast_id
        return self._call("production", "POST", "/api/v1/production/schedules/generate", json=payload)

    def calculate_procurement_needs(self, tenant_id: str, day: date, days_ahead: int) -> dict[str, Any]:
        payload = {"tenant_id": tenant_id, "date": day.isoformat(), "days_ahead": days_ahead}
        return self._call("procurement", "POST", "/api/v1/procurement/needs/calculate", json=payload)

    def project_inventory(self, tenant_id: str, day: date, days_ahead: int) -> dict[str, Any]:
        payload = {"tenant_id": tenant_id, "date": day.isoformat(), "days_ahead": days_ahead}
        return self._call("inventory", "POST", "/api/v1/inventory/projections/generate", json=payload)

    # Notification service
    def send_notification(
        self,
        *,
        tenant_id: str | None,
        type_: str,
        severity: str,
        title: str,
        message: str,
        data: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        payload = {
            "tenant_id": tenant_id,
            "type": type_,
            "severity": severity,
            "title": title,
            "message": message,
            "data": data or {},
        }
        return self._call("notification", "POST", "/api/v1/notifications/send", json=payload)


@dataclass(frozen=True)
class Fetched(Generic[T]):
    """One call of a fan-out: its value, or why there is none."""

    value: T | None = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


def fan_out(
    calls: Mapping[K, Callable[[], T]], *, max_concurrency: int, deadline_seconds: float
) -> dict[K, Fetched[T]]:
    """Run the calls with at most `max_concurrency` in flight; each call's failure (any exception) is its
    own `Fetched.error`, never the caller's. Calls not answered within `deadline_seconds` of the start are
    reported as such and not waited for (each call's own timeout ends its thread soon after)."""
    if not calls:
        return {}
    pool = ThreadPoolExecutor(max_workers=min(max_concurrency, len(calls)), thread_name_prefix="fan-out")
    futures: dict[Future[T], K] = {pool.submit(call): key for key, call in calls.items()}
    try:
        done, _ = wait(futures, timeout=deadline_seconds)
    finally:
        pool.shutdown(wait=False, cancel_futures=True)
    results: dict[K, Fetched[T]] = {}
    for future, key in futures.items():
        if future not in done:
            results[key] = Fetched(error=f"no answer within the {deadline_seconds:g} s deadline")
            continue
        exc = future.exception()
        if exc is None:
            results[key] = Fetched(value=future.result())
        elif isinstance(exc, (TransientServiceError, PermanentServiceError)):
            results[key] = Fetched(error=str(exc)[:300])
        else:
            from chalicelib.observability import get_logger

            get_logger().warning("fan-out call failed", extra={"call": str(key), "error": repr(exc)})
            results[key] = Fetched(error=f"{type(exc).__name__}: {exc}"[:300])
    return results


@cache
def get_platform_client() -> PlatformClient:
    """Built lazily and reused across invocations of a warm Lambda (keep-alive connections);
    `get_platform_client.cache_clear()` forgets it."""
    return PlatformClient(settings=get_settings())
