"""Contract: the documented columns and indexes of workflows, executions, logs, leader and metrics; audit log

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
BIGINT_PK = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("orchestrator_workflows") as table:
        table.add_column(sa.Column("last_success_at", sa.DateTime(timezone=True), nullable=True))
        table.add_column(sa.Column("last_failure_at", sa.DateTime(timezone=True), nullable=True))
        table.add_column(sa.Column("next_execution_at", sa.DateTime(timezone=True), nullable=True))
    op.create_index(
        "ix_orchestrator_workflows_enabled_next", "orchestrator_workflows", ["enabled", "next_execution_at"]
    )

    with op.batch_alter_table("orchestrator_executions") as table:
        table.alter_column("trigger", new_column_name="execution_type", existing_type=sa.String(20))
        table.alter_column("result", new_column_name="result_summary", existing_type=JSON)
        table.add_column(sa.Column("triggered_by", sa.String(200), nullable=True))
        table.add_column(sa.Column("tenant_id", sa.String(64), nullable=True))
        table.add_column(sa.Column("executed_by_instance", sa.String(255), nullable=True))
    op.execute("UPDATE orchestrator_executions SET execution_type = 'catch_up' WHERE execution_type = 'catchup'")
    op.create_index(
        "ix_orchestrator_executions_workflow_created",
        "orchestrator_executions",
        ["workflow_name", sa.text("created_at DESC")],
    )
    op.create_index(
        "ix_orchestrator_executions_tenant_created",
        "orchestrator_executions",
        ["tenant_id", sa.text("created_at DESC")],
    )
    op.create_index(
        "ix_orchestrator_executions_workflow_status", "orchestrator_executions", ["workflow_name", "status"]
    )
    op.create_index(
        "ix_orchestrator_execution_logs_execution_step", "orchestrator_execution_logs", ["execution_id", "step_index"]
    )

    with op.batch_alter_table("orchestrator_leader") as table:
        table.add_column(sa.Column("lock_token", sa.String(200), nullable=True))

    # The old key/value metrics table was never written: replaced by the documented daily roll-up.
    op.drop_index("ix_orchestrator_metrics_name_recorded", table_name="orchestrator_metrics")
    op.drop_index(op.f("ix_orchestrator_metrics_execution_id"), table_name="orchestrator_metrics")
    op.drop_table("orchestrator_metrics")
    op.create_table(
        "orchestrator_metrics",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("metric_date", sa.Date(), nullable=False),
        sa.Column("workflow_name", sa.String(100), nullable=False),
        sa.Column("total_executions", sa.Integer(), nullable=False),
        sa.Column("successful_executions", sa.Integer(), nullable=False),
        sa.Column("failed_executions", sa.Integer(), nullable=False),
        sa.Column("avg_duration_seconds", sa.Integer(), nullable=True),
        sa.Column("min_duration_seconds", sa.Integer(), nullable=True),
        sa.Column("max_duration_seconds", sa.Integer(), nullable=True),
        sa.Column("success_rate_percentage", sa.Numeric(5, 2), nullable=True),
        sa.Column("avg_retry_count", sa.Numeric(5, 2), nullable=True),
        sa.Column("calculated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_orchestrator_metrics")),
        sa.UniqueConstraint("metric_date", "workflow_name", name="uq_orchestrator_metrics_date_workflow"),
    )
    op.create_index("ix_orchestrator_metrics_date", "orchestrator_metrics", [sa.text("metric_date DESC")])

    op.create_table(
        "orchestrator_audit_log",
        sa.Column("id", BIGINT_PK, autoincrement=True, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("action", sa.String(50), nullable=False),
        sa.Column("target_type", sa.String(30), nullable=False),
        sa.Column("target", sa.String(200), nullable=False),
        sa.Column("before", JSON, nullable=True),
        sa.Column("after", JSON, nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_orchestrator_audit_log")),
    )
    op.create_index("ix_orchestrator_audit_log_at", "orchestrator_audit_log", [sa.text("at DESC")])


def downgrade() -> None:
    op.drop_index("ix_orchestrator_audit_log_at", table_name="orchestrator_audit_log")
    op.drop_table("orchestrator_audit_log")
    op.drop_index("ix_orchestrator_metrics_date", table_name="orchestrator_metrics")
    op.drop_table("orchestrator_metrics")
    op.create_table(
        "orchestrator_metrics",
        sa.Column("id", BIGINT_PK, autoincrement=True, nullable=False),
        sa.Column("metric_name", sa.String(100), nullable=False),
        sa.Column("metric_value", sa.Float(), nullable=False),
        sa.Column("labels", JSON, nullable=False),
        sa.Column("execution_id", sa.Uuid(), nullable=True),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["execution_id"],
            ["orchestrator_executions.id"],
            ondelete="SET NULL",
            name=op.f("fk_orchestrator_metrics_execution_id_orchestrator_executions"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_orchestrator_metrics")),
    )
    op.create_index("ix_orchestrator_metrics_name_recorded", "orchestrator_metrics", ["metric_name", "recorded_at"])
    op.create_index(op.f("ix_orchestrator_metrics_execution_id"), "orchestrator_metrics", ["execution_id"])
    with op.batch_alter_table("orchestrator_leader") as table:
        table.drop_column("lock_token")
    op.drop_index("ix_orchestrator_execution_logs_execution_step", table_name="orchestrator_execution_logs")
    op.drop_index("ix_orchestrator_executions_workflow_status", table_name="orchestrator_executions")
    op.drop_index("ix_orchestrator_executions_tenant_created", table_name="orchestrator_executions")
    op.drop_index("ix_orchestrator_executions_workflow_created", table_name="orchestrator_executions")
    op.execute("UPDATE orchestrator_executions SET execution_type = 'catchup' WHERE execution_type = 'catch_up'")
    with op.batch_alter_table("orchestrator_executions") as table:
        table.drop_column("executed_by_instance")
        table.drop_column("tenant_id")
        table.drop_column("triggered_by")
        table.alter_column("result_summary", new_column_name="result", existing_type=JSON)
        table.alter_column("execution_type", new_column_name="trigger", existing_type=sa.String(20))
    op.drop_index("ix_orchestrator_workflows_enabled_next", table_name="orchestrator_workflows")
    with op.batch_alter_table("orchestrator_workflows") as table:
        table.drop_column("next_execution_at")
        table.drop_column("last_failure_at")
        table.drop_column("last_success_at")
