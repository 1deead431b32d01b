"""HTTP client for the bakery platform's services (tenant, forecasting, production, ...)."""

from __future__ import annotations

from datetime import date
from functools import cache
from typing import Any

import httpx

from chalicelib.domain.models import Tenant
from chalicelib.errors import PermanentServiceError, TransientServiceError
from chalicelib.settings import Settings, get_settings


class PlatformClient:
    """One method per platform call. Raises TransientServiceError (retry) or PermanentServiceError."""

    def __init__(self, *, settings: Settings | None = None, client: httpx.Client | None = None) -> None:
        self._settings = settings or get_settings()
        self._client = client or httpx.Client(
            timeout=httpx.Timeout(self._settings.platform_timeout_seconds),
            limits=httpx.Limits(max_connections=200, max_keepalive_connections=100),
        )

    def _call(self, service: str, method: str, path: str, **kwargs: Any) -> Any:
        url = f"{self._settings.service_url(service)}{path}"
        try:
            response = self._client.request(method, url, **kwargs)
        except httpx.TimeoutException as exc:
            raise TransientServiceError(f"{service} service timed out: {method} {path}") from exc
        except httpx.TransportError as exc:
            raise TransientServiceError(f"{service} service unreachable: {method} {path}: {exc}") from exc
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


def get_platform_client() -> PlatformClient:
    """Built lazily and reused across invocations of a warm Lambda (keep-alive connections)."""
    return _client_for(get_settings())


@cache
def _client_for(settings: Settings) -> PlatformClient:
    return PlatformClient(settings=settings)


get_platform_client.cache_clear = _client_for.cache_clear  # type: ignore[attr-defined]
