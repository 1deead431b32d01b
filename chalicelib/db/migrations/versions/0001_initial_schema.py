"""initial schema

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "orchestrator_leader",
        sa.Column("lock_name", sa.String(length=100), nullable=False),
        sa.Column("instance_id", sa.String(length=200), nullable=False),
        sa.Column("fencing_token", sa.BigInteger(), nullable=False),
        sa.Column("acquired_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ttl_seconds", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("lock_name", name=op.f("pk_orchestrator_leader")),
    )
    op.create_table(
        "orchestrator_outbox",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("event_type", sa.String(length=64), nullable=False),
        sa.Column("routing_key", sa.String(length=128), nullable=False),
        sa.Column("aggregate_id", sa.String(length=64), nullable=True),
        sa.Column(
            "payload", sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"), nullable=False
        ),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_orchestrator_outbox")),
    )
    with op.batch_alter_table("orchestrator_outbox", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_orchestrator_outbox_aggregate_id"), ["aggregate_id"], unique=False)
        batch_op.create_index("ix_orchestrator_outbox_unpublished", ["published_at", "created_at"], unique=False)

    op.create_table(
        "orchestrator_workflows",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("workflow_type", sa.String(length=20), nullable=False),
        sa.Column("cron_expression", sa.String(length=100), nullable=False),
        sa.Column("timezone", sa.String(length=64), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column(
            "steps", sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"), nullable=False
        ),
        sa.Column("max_execution_time_seconds", sa.Integer(), nullable=False),
        sa.Column("max_retries", sa.Integer(), nullable=False),
        sa.Column("retry_delay_seconds", sa.Integer(), nullable=False),
        sa.Column("holiday_policy", sa.String(length=30), nullable=False),
        sa.Column("weekend_cron", sa.String(length=100), nullable=True),
        sa.Column("catchup_policy", sa.String(length=10), nullable=False),
        sa.Column("catchup_window_seconds", sa.Integer(), nullable=False),
        sa.Column("last_execution_id", sa.Uuid(), nullable=True),
        sa.Column("last_execution_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_status", sa.String(length=30), nullable=True),
        sa.Column("last_duration_seconds", sa.Float(), nullable=True),
        sa.Column("consecutive_failures", sa.Integer(), nullable=False),
        sa.Column("total_executions", sa.Integer(), nullable=False),
        sa.Column("successful_executions", sa.Integer(), nullable=False),
        sa.Column("failed_executions", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "workflow_type IN ('daily', 'weekly', 'monthly', 'on_demand')",
            name=op.f("ck_orchestrator_workflows_workflow_type"),
        ),
        sa.CheckConstraint(
            "max_execution_time_seconds > 0", name=op.f("ck_orchestrator_workflows_max_execution_time_positive")
        ),
        sa.CheckConstraint("max_retries >= 0", name=op.f("ck_orchestrator_workflows_max_retries_non_negative")),
        sa.CheckConstraint("retry_delay_seconds >= 0", name=op.f("ck_orchestrator_workflows_retry_delay_non_negative")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_orchestrator_workflows")),
        sa.UniqueConstraint("name", name=op.f("uq_orchestrator_workflows_name")),
    )
    with op.batch_alter_table("orchestrator_workflows", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_orchestrator_workflows_enabled"), ["enabled"], unique=False)

    op.create_table(
        "orchestrator_executions",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("workflow_id", sa.Uuid(), nullable=True),
        sa.Column("workflow_name", sa.String(length=100), nullable=False),
        sa.Column("execution_name", sa.String(length=80), nullable=False),
        sa.Column("execution_arn", sa.String(length=2048), nullable=True),
        sa.Column("scope", sa.String(length=64), nullable=False),
        sa.Column("trigger", sa.String(length=20), nullable=False),
        sa.Column("run_date", sa.Date(), nullable=True),
        sa.Column("status", sa.String(length=30), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("duration_seconds", sa.Float(), nullable=True),
        sa.Column("tenants_total", sa.Integer(), nullable=False),
        sa.Column("tenants_processed", sa.Integer(), nullable=False),
        sa.Column("tenants_failed", sa.Integer(), nullable=False),
        sa.Column("tenants_skipped", sa.Integer(), nullable=False),
        sa.Column("steps_total", sa.Integer(), nullable=False),
        sa.Column("steps_completed", sa.Integer(), nullable=False),
        sa.Column("steps_failed", sa.Integer(), nullable=False),
        sa.Column("error_message", sa.Text(), nullable=True),
        sa.Column(
            "result", sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"), nullable=True
        ),
        sa.Column("fencing_token", sa.BigInteger(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "status IN ('pending', 'running', 'completed', 'completed_with_failures', 'failed', 'cancelled')",
            name=op.f("ck_orchestrator_executions_status"),
        ),
        sa.ForeignKeyConstraint(
            ["workflow_id"],
            ["orchestrator_workflows.id"],
            name=op.f("fk_orchestrator_executions_workflow_id_orchestrator_workflows"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_orchestrator_executions")),
        sa.UniqueConstraint("execution_name", name=op.f("uq_orchestrator_executions_execution_name")),
    )
    with op.batch_alter_table("orchestrator_executions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_orchestrator_executions_run_date"), ["run_date"], unique=False)
        batch_op.create_index("ix_orchestrator_executions_status_started", ["status", "started_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_orchestrator_executions_workflow_id"), ["workflow_id"], unique=False)
        batch_op.create_index(
            "ix_orchestrator_executions_workflow_started", ["workflow_name", "started_at"], unique=False
        )

    op.create_table(
        "orchestrator_execution_logs",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("execution_id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.String(length=64), nullable=True),
        sa.Column("step_name", sa.String(length=64), nullable=False),
        sa.Column("step_index", sa.Integer(), nullable=False),
        sa.Column("level", sa.String(length=10), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("data", sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"), nullable=True),
        sa.Column("duration_ms", sa.Float(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "level IN ('DEBUG', 'INFO', 'WARNING', 'ERROR')", name=op.f("ck_orchestrator_execution_logs_level")
        ),
        sa.ForeignKeyConstraint(
            ["execution_id"],
            ["orchestrator_executions.id"],
            name=op.f("fk_orchestrator_execution_logs_execution_id_orchestrator_executions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_orchestrator_execution_logs")),
    )
    with op.batch_alter_table("orchestrator_execution_logs", schema=None) as batch_op:
        batch_op.create_index("ix_orchestrator_execution_logs_execution_created", ["execution_id", "id"], unique=False)
        batch_op.create_index(
            "ix_orchestrator_execution_logs_execution_tenant", ["execution_id", "tenant_id"], unique=False
        )

    op.create_table(
        "orchestrator_metrics",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("metric_name", sa.String(length=100), nullable=False),
        sa.Column("metric_value", sa.Float(), nullable=False),
        sa.Column(
            "labels", sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"), nullable=False
        ),
        sa.Column("execution_id", sa.Uuid(), nullable=True),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["execution_id"],
            ["orchestrator_executions.id"],
            name=op.f("fk_orchestrator_metrics_execution_id_orchestrator_executions"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_orchestrator_metrics")),
    )
    with op.batch_alter_table("orchestrator_metrics", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_orchestrator_metrics_execution_id"), ["execution_id"], unique=False)
        batch_op.create_index("ix_orchestrator_metrics_name_recorded", ["metric_name", "recorded_at"], unique=False)

    op.create_table(
        "orchestrator_step_runs",
        sa.Column("execution_id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("step_name", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("duration_ms", sa.Float(), nullable=True),
        sa.Column(
            "result", sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"), nullable=True
        ),
        sa.Column("error_type", sa.String(length=200), nullable=True),
        sa.Column("error_message", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "status IN ('completed', 'failed', 'skipped')", name=op.f("ck_orchestrator_step_runs_status")
        ),
        sa.ForeignKeyConstraint(
            ["execution_id"],
            ["orchestrator_executions.id"],
            name=op.f("fk_orchestrator_step_runs_execution_id_orchestrator_executions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("execution_id", "tenant_id", "step_name", name=op.f("pk_orchestrator_step_runs")),
    )


def downgrade() -> None:
    op.drop_table("orchestrator_step_runs")
    with op.batch_alter_table("orchestrator_metrics", schema=None) as batch_op:
        batch_op.drop_index("ix_orchestrator_metrics_name_recorded")
        batch_op.drop_index(batch_op.f("ix_orchestrator_metrics_execution_id"))

    op.drop_table("orchestrator_metrics")
    with op.batch_alter_table("orchestrator_execution_logs", schema=None) as batch_op:
        batch_op.drop_index("ix_orchestrator_execution_logs_execution_tenant")
        batch_op.drop_index("ix_orchestrator_execution_logs_execution_created")

    op.drop_table("orchestrator_execution_logs")
    with op.batch_alter_table("orchestrator_executions", schema=None) as batch_op:
        batch_op.drop_index("ix_orchestrator_executions_workflow_started")
        batch_op.drop_index(batch_op.f("ix_orchestrator_executions_workflow_id"))
        batch_op.drop_index("ix_orchestrator_executions_status_started")
        batch_op.drop_index(batch_op.f("ix_orchestrator_executions_run_date"))

    op.drop_table("orchestrator_executions")
    with op.batch_alter_table("orchestrator_workflows", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_orchestrator_workflows_enabled"))

    op.drop_table("orchestrator_workflows")
    with op.batch_alter_table("orchestrator_outbox", schema=None) as batch_op:
        batch_op.drop_index("ix_orchestrator_outbox_unpublished")
        batch_op.drop_index(batch_op.f("ix_orchestrator_outbox_aggregate_id"))

    op.drop_table("orchestrator_outbox")
    op.drop_table("orchestrator_leader")
