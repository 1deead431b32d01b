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
from collections.abc import Iterator
from datetime import date
from functools import cache
from typing import Any

import httpx

from chalicelib.domain.models import Tenant
from chalicelib.errors import LockUnavailableError, PermanentServiceError, TransientServiceError
from chalicelib.settings import Settings, get_settings

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
        lease_ms = int((self._settings.platform_timeout_seconds + 5) * 1000)
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
        """One call. An error's message says which service did what (it is recorded with the step, where a
        tenant may read it); the request path, the address and the service's answer go to the log only."""
        url = f"{self._settings.service_url(service)}{path}"
        try:
            response = self._client.request(method, url, **kwargs)
        except httpx.TimeoutException as exc:
            self._log_failure(service, method, path, f"timed out: {exc}")
            raise TransientServiceError(f"{service} service timed out") from exc
        except httpx.TransportError as exc:
            self._log_failure(service, method, path, f"unreachable: {type(exc).__name__}: {exc}")
            raise TransientServiceError(f"{service} service unreachable ({type(exc).__name__})") from exc
        if response.status_code >= 400:
            self._log_failure(service, method, path, f"answered {response.status_code}: {response.text[:500]}")
            error = (
                TransientServiceError
                if response.status_code >= 500 or response.status_code == 429
                else PermanentServiceError
            )
            raise error(f"{service} service answered {response.status_code}")
        try:
            return response.json()
        except ValueError as exc:
            self._log_failure(service, method, path, f"answered non-JSON: {response.text[:500]}")
            raise TransientServiceError(f"{service} service answered non-JSON") from exc

    @staticmethod
    def _log_failure(service: str, method: str, path: str, what: str) -> None:
        from chalicelib.observability import get_logger

        get_logger().warning(
            "platform call failed", extra={"service": service, "request": f"{method} {path}", "error": what}
        )

    # Tenant service
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

    # Production, procurement, inventory
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


@cache
def get_platform_client() -> PlatformClient:
    """Built lazily and reused across invocations of a warm Lambda (keep-alive connections);
    `get_platform_client.cache_clear()` forgets it."""
    return PlatformClient(settings=get_settings())
