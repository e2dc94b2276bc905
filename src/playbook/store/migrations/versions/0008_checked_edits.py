"""Checked edits and guidelines reviewed once for every entry: each version of an entry's
guidance keeps the check it passed (policy verdict, student ratings before and after), an edit
that failed its check is kept as a draft with the reason, and a guideline's own history
(edited, approved, rejected, across every entry using it) is kept by its text.

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("entry_versions") as table:
        table.add_column(sa.Column("checks", sa.JSON, nullable=True))
    op.create_table(
        "drafts",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("entry_id", sa.Integer, sa.ForeignKey("entries.id"), nullable=False, index=True),
        sa.Column("guidance", sa.JSON, nullable=False),
        sa.Column("reviewer", sa.String(200), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("problem", sa.Text, nullable=False),
        sa.Column("checks", sa.JSON, nullable=True),
        sa.Column("created_at", sa.DateTime, nullable=False),
    )
    op.create_table(
        "guideline_changes",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("text", sa.Text, nullable=False, index=True),
        sa.Column("new_text", sa.Text, nullable=True, index=True),
        sa.Column("reviewer", sa.String(200), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("entry_ids", sa.JSON, nullable=False),
        sa.Column("draft_ids", sa.JSON, nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("guideline_changes")
    op.drop_table("drafts")
    with op.batch_alter_table("entry_versions") as table:
        table.drop_column("checks")
