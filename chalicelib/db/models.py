"""Tables of the orchestrator. JSON columns are JSONB on Postgres and JSON text on SQLite."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    Uuid,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from chalicelib.domain.constants import EXECUTION_STATUSES, LOG_LEVELS, STEP_STATUSES, WORKFLOW_TYPES

JsonType = JSON().with_variant(JSONB(), "postgresql")
# SQLite only auto-increments an INTEGER PRIMARY KEY.
BigIntPk = BigInteger().with_variant(Integer(), "sqlite")

__all__ = ["EXECUTION_STATUSES", "LOG_LEVELS", "STEP_STATUSES", "WORKFLOW_TYPES"]


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(
        naming_convention={
            "ix": "ix_%(column_0_label)s",
            "uq": "uq_%(table_name)s_%(column_0_name)s",
            "ck": "ck_%(table_name)s_%(constraint_name)s",
            "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
            "pk": "pk_%(table_name)s",
        }
    )


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class Workflow(Base):
    __tablename__ = "orchestrator_workflows"
    __table_args__ = (
        CheckConstraint(_in("workflow_type", WORKFLOW_TYPES), name="workflow_type"),
        CheckConstraint("max_execution_time_seconds > 0", name="max_execution_time_positive"),
        CheckConstraint("max_retries >= 0", name="max_retries_non_negative"),
        CheckConstraint("retry_delay_seconds >= 0", name="retry_delay_non_negative"),
        Index("ix_orchestrator_workflows_enabled_next", "enabled", "next_execution_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    name: Mapped[str] = mapped_column(String(100), unique=True, nullable=False)
    description: Mapped[str | None] = mapped_column(Text)
    workflow_type: Mapped[str] = mapped_column(String(20), nullable=False, default="daily")
    cron_expression: Mapped[str] = mapped_column(String(100), nullable=False)
    timezone: Mapped[str] = mapped_column(String(64), nullable=False, default="Europe/Madrid")
    enabled: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True, index=True)
    steps: Mapped[list[Any]] = mapped_column(JsonType, nullable=False, default=list)
    max_execution_time_seconds: Mapped[int] = mapped_column(Integer, nullable=False, default=3600)
    max_retries: Mapped[int] = mapped_column(Integer, nullable=False, default=3)
    retry_delay_seconds: Mapped[int] = mapped_column(Integer, nullable=False, default=300)
    # Calendar policy: what a holiday or weekend does to a scheduled instant.
    holiday_policy: Mapped[str] = mapped_column(String(30), nullable=False, default="run")
    weekend_cron: Mapped[str | None] = mapped_column(String(100))
    catchup_policy: Mapped[str] = mapped_column(String(10), nullable=False, default="latest")
    catchup_window_seconds: Mapped[int] = mapped_column(Integer, nullable=False, default=21600)
    last_execution_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    last_execution_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_success_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_failure_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # The earliest next run over the workflow's scopes (holidays applied); kept current on every run and
    # schedule change.
    next_execution_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_status: Mapped[str | None] = mapped_column(String(30))
    last_duration_seconds: Mapped[float | None] = mapped_column(Float)
    consecutive_failures: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    total_executions: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    successful_executions: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    failed_executions: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, default=utcnow, onupdate=utcnow
    )


class Execution(Base):
    __tablename__ = "orchestrator_executions"
    __table_args__ = (
        CheckConstraint(_in("status", EXECUTION_STATUSES), name="status"),
        Index("ix_orchestrator_executions_workflow_started", "workflow_name", "started_at"),
        Index("ix_orchestrator_executions_status_started", "status", "started_at"),
        Index("ix_orchestrator_executions_started_id", "started_at", "id"),
        Index("ix_orchestrator_executions_workflow_status", "workflow_name", "status"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    workflow_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("orchestrator_workflows.id", ondelete="SET NULL"), index=True
    )
    workflow_name: Mapped[str] = mapped_column(String(100), nullable=False)
    execution_name: Mapped[str] = mapped_column(String(80), nullable=False, unique=True)
    execution_arn: Mapped[str | None] = mapped_column(String(2048))
    scope: Mapped[str] = mapped_column(String(64), nullable=False, default="all")
    # scheduled | manual | retry | catch_up; `triggered_by`: the caller's subject for manual runs and retries.
    execution_type: Mapped[str] = mapped_column(String(20), nullable=False, default="scheduled")
    triggered_by: Mapped[str | None] = mapped_column(String(200))
    # Set when the run covers exactly one tenant (NULL otherwise).
    tenant_id: Mapped[str | None] = mapped_column(String(64))
    # What dispatched the run: the dispatch Lambda's request id, or the API's instance for manual runs.
    executed_by_instance: Mapped[str | None] = mapped_column(String(255))
    run_date: Mapped[date | None] = mapped_column(Date, index=True)
    status: Mapped[str] = mapped_column(String(30), nullable=False, default="pending")
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False, default=utcnow)
    completed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    duration_seconds: Mapped[float | None] = mapped_column(Float)
    tenants_total: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    tenants_processed: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    tenants_failed: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    tenants_skipped: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    steps_total: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    steps_completed: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    steps_failed: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    error_message: Mapped[str | None] = mapped_column(Text)
    result_summary: Mapped[dict[str, Any] | None] = mapped_column(JsonType)
    fencing_token: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, default=utcnow, onupdate=utcnow
    )


class StepRun(Base):
    """One row per (execution, tenant, step): insert-only progress, aggregated at read time.

    Many tenants finish steps at once; counting rows avoids every step updating the execution row.
    """

    __tablename__ = "orchestrator_step_runs"
    __table_args__ = (CheckConstraint(_in("status", STEP_STATUSES), name="status"),)

    execution_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("orchestrator_executions.id", ondelete="CASCADE"), primary_key=True
    )
    tenant_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    step_name: Mapped[str] = mapped_column(String(64), primary_key=True)
    status: Mapped[str] = mapped_column(String(20), nullable=False)
    duration_ms: Mapped[float | None] = mapped_column(Float)
    result: Mapped[dict[str, Any] | None] = mapped_column(JsonType)
    error_type: Mapped[str | None] = mapped_column(String(200))
    error_message: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False, default=utcnow)


class ExecutionLog(Base):
    __tablename__ = "orchestrator_execution_logs"
    __table_args__ = (
        CheckConstraint(_in("level", LOG_LEVELS), name="level"),
        Index("ix_orchestrator_execution_logs_execution_created", "execution_id", "id"),
        Index("ix_orchestrator_execution_logs_execution_tenant", "execution_id", "tenant_id"),
        Index("ix_orchestrator_execution_logs_execution_step", "execution_id", "step_index"),
    )

    id: Mapped[int] = mapped_column(BigIntPk, primary_key=True, autoincrement=True)
    execution_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("orchestrator_executions.id", ondelete="CASCADE"), nullable=False
    )
    tenant_id: Mapped[str | None] = mapped_column(String(64))
    step_name: Mapped[str] = mapped_column(String(64), nullable=False)
    step_index: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    level: Mapped[str] = mapped_column(String(10), nullable=False, default="INFO")
    message: Mapped[str] = mapped_column(Text, nullable=False)
    data: Mapped[dict[str, Any] | None] = mapped_column(JsonType)
    duration_ms: Mapped[float | None] = mapped_column(Float)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False, default=utcnow)


class Leader(Base):
    """The current holder of the dispatch lock (the serverless stand-in for leader election)."""

    __tablename__ = "orchestrator_leader"

    lock_name: Mapped[str] = mapped_column(String(100), primary_key=True)
    # The instance holding the lock (the dispatch Lambda's log stream, or INSTANCE_ID) and the lease's own
    # token (one per dispatch).
    instance_id: Mapped[str] = mapped_column(String(200), nullable=False)
    lock_token: Mapped[str | None] = mapped_column(String(200))
    fencing_token: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)
    acquired_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False, default=utcnow)
    heartbeat_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False, default=utcnow)
    ttl_seconds: Mapped[int] = mapped_column(Integer, nullable=False, default=30)


class Metric(Base):
    """One row per day and workflow, upserted by every run's close, so it is always current."""

    __tablename__ = "orchestrator_metrics"
    __table_args__ = (UniqueConstraint("metric_date", "workflow_name", name="uq_orchestrator_metrics_date_workflow"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    metric_date: Mapped[date] = mapped_column(Date, nullable=False)
    workflow_name: Mapped[str] = mapped_column(String(100), nullable=False)
    total_executions: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    successful_executions: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    failed_executions: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    avg_duration_seconds: Mapped[int | None] = mapped_column(Integer)
    min_duration_seconds: Mapped[int | None] = mapped_column(Integer)
    max_duration_seconds: Mapped[int | None] = mapped_column(Integer)
    success_rate_percentage: Mapped[Decimal | None] = mapped_column(Numeric(5, 2))
    avg_retry_count: Mapped[Decimal | None] = mapped_column(Numeric(5, 2))
    calculated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False, default=utcnow)


class AuditEntry(Base):
    """Who changed what: workflow and schedule changes, manual runs, retries and cancels."""

    __tablename__ = "orchestrator_audit_log"

    id: Mapped[int] = mapped_column(BigIntPk, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False, default=utcnow)
    actor: Mapped[str] = mapped_column(String(200), nullable=False)
    action: Mapped[str] = mapped_column(String(50), nullable=False)
    target_type: Mapped[str] = mapped_column(String(30), nullable=False)
    target: Mapped[str] = mapped_column(String(200), nullable=False)
    before: Mapped[dict[str, Any] | None] = mapped_column(JsonType)
    after: Mapped[dict[str, Any] | None] = mapped_column(JsonType)


class OutboxEvent(Base):
    """Events written in the same transaction as the state they announce; the bridge publishes them."""

    __tablename__ = "orchestrator_outbox"
    __table_args__ = (Index("ix_orchestrator_outbox_unpublished", "published_at", "created_at"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    event_type: Mapped[str] = mapped_column(String(64), nullable=False)
    routing_key: Mapped[str] = mapped_column(String(128), nullable=False)
    aggregate_id: Mapped[str | None] = mapped_column(String(64), index=True)
    payload: Mapped[dict[str, Any]] = mapped_column(JsonType, nullable=False)
    attempts: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False, default=utcnow)
    published_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class ExecutionRetry(Base):
    """A retry-from-failure execution and the one it retried. The original row is never changed."""

    __tablename__ = "orchestrator_execution_retries"

    execution_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("orchestrator_executions.id", ondelete="CASCADE"), primary_key=True
    )
    retry_of: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("orchestrator_executions.id", ondelete="CASCADE"), nullable=False, index=True
    )
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False, default=utcnow)


class ScheduleWatermark(Base):
    """Per workflow and scope: every scheduled instant before `watermark_at` has been handled (started,
    already done, or deliberately dropped). The catch-up looks at instants from here to the firing."""

    __tablename__ = "orchestrator_schedule_watermarks"

    workflow_name: Mapped[str] = mapped_column(String(100), primary_key=True)
    scope: Mapped[str] = mapped_column(String(64), primary_key=True)
    watermark_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, default=utcnow, onupdate=utcnow
    )


class RunFence(Base):
    """The highest fencing number handed out for a (workflow, scope) run lock. A run's writes are refused
    once a newer holder registered a greater number here (its lock expired and was taken over)."""

    __tablename__ = "orchestrator_run_fences"

    workflow_name: Mapped[str] = mapped_column(String(100), primary_key=True)
    scope: Mapped[str] = mapped_column(String(64), primary_key=True)
    fencing_token: Mapped[int] = mapped_column(BigInteger, nullable=False)
    execution_name: Mapped[str] = mapped_column(String(80), nullable=False)
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, default=utcnow, onupdate=utcnow
    )


# Newest-first indexes (the documented `... DESC` ones), declared once the columns exist.
Index("ix_orchestrator_executions_workflow_created", Execution.workflow_name, Execution.created_at.desc())
Index("ix_orchestrator_executions_tenant_created", Execution.tenant_id, Execution.created_at.desc())
Index("ix_orchestrator_metrics_date", Metric.metric_date.desc())
Index("ix_orchestrator_audit_log_at", AuditEntry.at.desc())
