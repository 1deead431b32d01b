"""One place for configuration. Explicit argument beats environment beats default.

Infrastructure outputs (state machine ARNs, endpoints) reach the code only as environment variables set
by the stage config (`.chalice/config.json`), the CloudFormation template or the local cloud's deploy.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SQLITE_PATH = PROJECT_ROOT / ".local" / "orchestrator.db"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(extra="ignore", case_sensitive=False, frozen=True)

    # Persistence and coordination. Empty DATABASE_URL -> the embedded SQLite file.
    database_url: str = ""
    redis_url: str = ""
    redis_key_prefix: str = "orchestrator"
    rabbitmq_url: str = ""
    event_log_path: str = ""  # where events go without RabbitMQ (default .local/events.jsonl)

    # Platform services (the simulator serves them all from one base URL locally).
    platform_base_url: str = "http://127.0.0.1:8019"
    tenant_service_url: str = ""
    forecasting_service_url: str = ""
    production_service_url: str = ""
    procurement_service_url: str = ""
    inventory_service_url: str = ""
    notification_service_url: str = ""
    platform_timeout_seconds: float = Field(default=10.0, gt=0)

    # Workflows and scheduling.
    default_timezone: str = "Europe/Madrid"
    daily_workflow_cron: str = "0 8 * * *"
    weekly_workflow_cron: str = "0 9 * * 1"
    max_workflow_duration_seconds: int = Field(default=3600, gt=0)
    forecast_days_ahead: int = Field(default=7, gt=0)
    procurement_days_ahead: int = Field(default=14, gt=0)
    inventory_days_ahead: int = Field(default=14, gt=0)
    run_lock_ttl_seconds: int = Field(default=3900, gt=0)
    # Timezones that get their own scope (and their own local 08:00) besides each workflow's own.
    scope_timezones: str = "Europe/Madrid,Atlantic/Canary"

    # Wiring produced by the deploy (template outputs / local cloud).
    daily_state_machine_arn: str = ""
    manifest_bucket: str = ""
    instance_id: str = "local"
    stage: str = "local"

    @property
    def effective_database_url(self) -> str:
        return self.database_url or f"sqlite:///{DEFAULT_SQLITE_PATH}"

    def service_url(self, service: str) -> str:
        explicit = getattr(self, f"{service}_service_url", "")
        return (explicit or self.platform_base_url).rstrip("/")


def get_settings() -> Settings:
    """Settings for the current environment, cached per distinct environment.

    On the local cloud several deployments (stages) may share one process and the Lambda runner applies
    each function's environment before a call, so the cache follows the environment, not the process.
    """
    return _settings_for(tuple(os.environ.get(name.upper()) for name in _FIELDS))


_FIELDS = tuple(Settings.model_fields)


@lru_cache(maxsize=16)
def _settings_for(_env: tuple[str | None, ...]) -> Settings:
    return Settings()


def reset_settings() -> None:
    """Forget cached settings and every client built from them (tests and the local cloud change the
    environment between runs)."""
    _settings_for.cache_clear()
    from chalicelib.adapters.platform import get_platform_client
    from chalicelib.adapters.redis_store import get_redis
    from chalicelib.adapters.stepfunctions import get_sfn_client
    from chalicelib.db.engine import dispose_engines

    get_platform_client.cache_clear()
    get_redis.cache_clear()
    get_sfn_client.cache_clear()
    dispose_engines()
