"""One place for configuration. Explicit argument beats environment beats default.

Infrastructure outputs (state machine ARNs, endpoints) reach the code only as environment variables set
by the stage config (`.chalice/config.json`), the CloudFormation template or the local cloud's deploy.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import cache
from pathlib import Path
from typing import Any

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SQLITE_PATH = PROJECT_ROOT / ".local" / "orchestrator.db"
# Only these stages, spelled exactly so, may run on the published development JWT secret; every other
# stage (dev, prod, staging, "Prod", "dev ", or no STAGE at all) must be given a JWT_SECRET.
DEVELOPMENT_STAGES = ("local", "test")
LOCAL_ONLY_JWT_SECRET = "local-only-insecure-jwt-secret-never-use-outside-local"  # noqa: S105
MIN_JWT_SECRET_BYTES = 32


def jwt_secret_for(stage: str, secret: str) -> str:
    """The HS256 secret a stage may use, or ValueError naming JWT_SECRET.

    A given secret must be at least MIN_JWT_SECRET_BYTES bytes, and the published development secret is
    refused outside the development stages; without a secret only a development stage starts (on the
    development secret).
    """
    if secret:
        size = len(secret.encode())
        if size < MIN_JWT_SECRET_BYTES:
            raise ValueError(f"JWT_SECRET: must be at least {MIN_JWT_SECRET_BYTES} bytes (got {size})")
        if secret == LOCAL_ONLY_JWT_SECRET and stage not in DEVELOPMENT_STAGES:
            raise ValueError(f"JWT_SECRET: the published development secret may not be used on stage {stage!r}")
        return secret
    if stage in DEVELOPMENT_STAGES:
        return LOCAL_ONLY_JWT_SECRET
    raise ValueError(
        f"JWT_SECRET: required on stage {stage!r} (at least {MIN_JWT_SECRET_BYTES} bytes; only the stages "
        f"{' and '.join(DEVELOPMENT_STAGES)} may run without one): refusing to start"
    )


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
    sales_service_url: str = ""
    distribution_service_url: str = ""
    platform_timeout_seconds: float = Field(default=10.0, gt=0)
    # The services' documented client timeouts: a real bakery's forecast takes minutes, not seconds. The
    # step Lambdas' timeouts and the tasks' TimeoutSeconds sit above them (.chalice/config.json, the ASL).
    forecasting_timeout_seconds: float = Field(default=300.0, gt=0)
    production_timeout_seconds: float = Field(default=180.0, gt=0)
    procurement_timeout_seconds: float = Field(default=180.0, gt=0)

    # Workflows and scheduling.
    default_timezone: str = "Europe/Madrid"
    daily_workflow_cron: str = "0 8 * * *"
    weekly_workflow_cron: str = "0 9 * * 1"
    max_workflow_duration_seconds: int = Field(default=3600, gt=0)
    forecast_days_ahead: int = Field(default=7, gt=0)
    procurement_days_ahead: int = Field(default=14, gt=0)
    inventory_days_ahead: int = Field(default=14, gt=0)
    run_lock_ttl_seconds: int = Field(default=3900, gt=0)

    # Retries, idempotency, limits and alerts.
    # A step's result is cached per (execution, tenant, step) so a redelivered step never calls its
    # downstream service twice; the in-progress marker outlives the step Lambda's own timeout.
    step_result_ttl_seconds: int = Field(default=86400, gt=0)
    step_in_progress_ttl_seconds: int = Field(default=30, gt=0)
    step_in_progress_wait_seconds: float = Field(default=15.0, ge=0)
    # Concurrent calls to one platform service across all Lambdas (a Redis semaphore); 0 = unbounded.
    # Per service overrides: "forecasting=20,production=10".
    platform_max_concurrency: int = Field(default=50, ge=0)
    platform_concurrency_limits: str = ""
    # An alert goes out when a workflow's consecutive failures reach this number, when a run ends with more
    # than this percentage of its tenants failed, when it runs slower than SLOW_RUN_FACTOR times the p95 of
    # the workflow and scope's last 30 runs, and when its estimated AWS cost passes RUN_COST_BUDGET_EUR.
    alert_consecutive_failures_threshold: int = Field(default=3, gt=0)
    alert_tenant_failure_percent: float = Field(default=10.0, ge=0, le=100)
    slow_run_factor: float = Field(default=1.5, ge=1.0)
    run_cost_budget_eur: float = Field(default=5.0, ge=0)
    # The seeded workflows' retry policy for their per-tenant steps (attempts after the first, seconds
    # before the first retry, doubling after that); an operator changes it per workflow.
    workflow_max_retries: int = Field(default=3, ge=0, le=10)
    workflow_retry_delay_seconds: int = Field(default=300, ge=1, le=3600)
    # Timezones that get their own scope (and their own local 08:00) besides each workflow's own.
    scope_timezones: str = "Europe/Madrid,Atlantic/Canary"
    monthly_workflow_cron: str = "0 6 1 * *"
    # Calendar of a scope whose tenants are unknown (next run without the tenant service, seeds).
    default_country: str = "ES"
    default_subdivision: str = "MD"
    # Catch-up: a sweep rule fires the dispatcher this often; missed instants older than the window are
    # dropped. Dispatch lock ("leader"): TTL and heartbeat; ENABLE_LEADER_ELECTION=false turns it off.
    catchup_sweep_minutes: int = Field(default=15, ge=1, le=60)
    catchup_window_seconds: int = Field(default=21600, ge=0)
    # /health reports a scheduled instant the dispatcher has not handled this long after it was due.
    job_grace_minutes: int = Field(default=30, ge=1, le=1440)
    enable_leader_election: bool = True
    leader_lock_ttl_seconds: int = Field(default=90, gt=0)
    leader_heartbeat_seconds: int = Field(default=30, gt=0)
    dispatch_function_arn: str = ""  # set by the deploy: the target of the schedule rules

    # Enterprise network views: responses cached per parent, route and query (0 = no cache), dropped when
    # a run covering the network closes; outlets read with at most ENTERPRISE_MAX_CONCURRENCY calls in
    # flight, each bounded by its own timeout, and the whole fan-out by a deadline.
    enterprise_cache_ttl_seconds: int = Field(default=60, ge=0, le=3600)
    enterprise_max_concurrency: int = Field(default=10, ge=1, le=100)
    enterprise_call_timeout_seconds: float = Field(default=3.0, gt=0, le=60)
    enterprise_deadline_seconds: float = Field(default=20.0, gt=0, le=300)

    # Wiring produced by the deploy (template outputs / local cloud).
    manifest_bucket: str = ""  # S3 bucket for tenant manifests (the Distributed Map's item source)
    map_max_concurrency: int = Field(default=40, gt=0, le=10000)
    instance_id: str = "local"
    aws_lambda_log_stream_name: str = ""  # set by Lambda: one per sandbox
    stage: str = ""  # set by every stage's config; unset is no development stage (see jwt_secret_for)

    # API authentication (rules in `jwt_secret_for`): a JWT_SECRET of at least 32 bytes on every stage but
    # local and test, which may fall back to a published development constant that must never protect
    # anything real. Tokens living longer than JWT_MAX_LIFETIME_SECONDS are refused. AUTH_VERIFIER picks
    # the token verifier: "hs256" or "package.module:factory" for a real identity provider (chalicelib/api/auth.py).
    jwt_secret: str = ""
    jwt_issuer: str = ""
    jwt_audience: str = ""
    jwt_leeway_seconds: int = Field(default=30, ge=0, le=600)
    jwt_max_lifetime_seconds: int = Field(default=24 * 3600, gt=0, le=30 * 86400)
    auth_verifier: str = "hs256"
    # Prometheus cannot log in with a user's JWT: GET /metrics also accepts this bearer token (empty: none).
    metrics_token: str = ""
    # The local API's port (`make run`, `chalice local`).
    port: int = Field(default=8018, ge=1, le=65535)

    @model_validator(mode="after")
    def _jwt_secret_for_stage(self) -> Settings:
        # A given secret must hold anywhere (length, never the published one outside development). Without
        # one, a development stage uses the published secret; any other stage starts without one, and the
        # API's verifier refuses every token naming JWT_SECRET (chalicelib/api/auth.py): only the API needs it.
        if self.auth_verifier == "hs256" and (self.jwt_secret or self.stage in DEVELOPMENT_STAGES):
            object.__setattr__(self, "jwt_secret", jwt_secret_for(self.stage, self.jwt_secret))
        return self

    @property
    def effective_database_url(self) -> str:
        return self.database_url or f"sqlite:///{DEFAULT_SQLITE_PATH}"

    @property
    def instance(self) -> str:
        """This process as the leader row and the executions name it: the Lambda sandbox's log stream, else
        INSTANCE_ID."""
        return self.aws_lambda_log_stream_name or self.instance_id

    def service_timeout(self, service: str) -> float:
        return float(getattr(self, f"{service}_timeout_seconds", self.platform_timeout_seconds))

    def service_url(self, service: str) -> str:
        explicit = getattr(self, f"{service}_service_url", "")
        return (explicit or self.platform_base_url).rstrip("/")


Source = Callable[[], Mapping[str, str]]
_SOURCES: list[Source] = []


def add_source(source: Source) -> None:
    """Values read before the environment, by variable name (e.g. the secrets a function resolves at cold
    start: `chalicelib.adapters.secrets.resolve`). The composition root (`app.py`) adds them."""
    if source not in _SOURCES:
        _SOURCES.append(source)


@cache
def get_settings() -> Settings:
    """The settings of this process, read once from the sources and the environment (a Lambda's
    environment does not change while it runs). Whoever changes the environment afterwards (the tests,
    the local cloud's Lambda runner) calls `get_settings.cache_clear()` and forgets the clients built from
    the old values."""
    values: dict[str, Any] = {}
    for source in _SOURCES:
        values.update(source())
    return Settings(**{name.lower(): value for name, value in values.items()})
