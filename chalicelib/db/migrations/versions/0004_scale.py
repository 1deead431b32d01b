"""Index for the executions list (newest first, cursor on started_at and id).

Revision ID: 0004
Revises: 0002
"""

from __future__ import annotations

from alembic import op

revision = "0004"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # GET /executions orders by started_at DESC, id DESC: without this, each page sorts the whole table.
    op.create_index("ix_orchestrator_executions_started_id", "orchestrator_executions", ["started_at", "id"])


def downgrade() -> None:
    op.drop_index("ix_orchestrator_executions_started_id", table_name="orchestrator_executions")
