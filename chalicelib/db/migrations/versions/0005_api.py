"""API: link a retry-from-failure execution to the execution it retried

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "orchestrator_execution_retries",
        sa.Column("execution_id", sa.Uuid(), nullable=False),
        sa.Column("retry_of", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["execution_id"],
            ["orchestrator_executions.id"],
            ondelete="CASCADE",
            name=op.f("fk_orchestrator_execution_retries_execution_id_orchestrator_executions"),
        ),
        sa.ForeignKeyConstraint(
            ["retry_of"],
            ["orchestrator_executions.id"],
            ondelete="CASCADE",
            name=op.f("fk_orchestrator_execution_retries_retry_of_orchestrator_executions"),
        ),
        sa.PrimaryKeyConstraint("execution_id", name=op.f("pk_orchestrator_execution_retries")),
    )
    op.create_index(
        op.f("ix_orchestrator_execution_retries_retry_of"), "orchestrator_execution_retries", ["retry_of"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_orchestrator_execution_retries_retry_of"), table_name="orchestrator_execution_retries")
    op.drop_table("orchestrator_execution_retries")
