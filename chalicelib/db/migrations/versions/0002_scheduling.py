"""scheduling: catch-up watermarks and run fences

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "orchestrator_schedule_watermarks",
        sa.Column("workflow_name", sa.String(length=100), nullable=False),
        sa.Column("scope", sa.String(length=64), nullable=False),
        sa.Column("watermark_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("workflow_name", "scope", name=op.f("pk_orchestrator_schedule_watermarks")),
    )
    op.create_table(
        "orchestrator_run_fences",
        sa.Column("workflow_name", sa.String(length=100), nullable=False),
        sa.Column("scope", sa.String(length=64), nullable=False),
        sa.Column("fencing_token", sa.BigInteger(), nullable=False),
        sa.Column("execution_name", sa.String(length=80), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("workflow_name", "scope", name=op.f("pk_orchestrator_run_fences")),
    )


def downgrade() -> None:
    op.drop_table("orchestrator_run_fences")
    op.drop_table("orchestrator_schedule_watermarks")
