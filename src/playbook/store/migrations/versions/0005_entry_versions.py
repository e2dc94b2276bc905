"""Reviewers' edits: every version of an entry's guideline list is kept (version 1 is the
learner's original), and each review row says what was done (a status set, or an edit).

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
        "entry_versions",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("entry_id", sa.Integer, sa.ForeignKey("entries.id"), nullable=False, index=True),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("guidance", sa.JSON, nullable=False),
        sa.Column("reviewer", sa.String(200), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.UniqueConstraint("entry_id", "version"),
    )
    with op.batch_alter_table("reviews") as table:
        # Rows written before this step were all status changes.
        table.add_column(
            sa.Column("action", sa.String(16), nullable=False, server_default="status")
        )


def downgrade() -> None:
    with op.batch_alter_table("reviews") as table:
        table.drop_column("action")
    op.drop_table("entry_versions")
