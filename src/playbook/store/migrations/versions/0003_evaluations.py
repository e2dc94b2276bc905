"""Evaluated conversations: transcript, judge ratings on two axes, entries used.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "evaluations",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("run_id", sa.String(32), sa.ForeignKey("runs.id"), nullable=False, index=True),
        sa.Column("student", sa.String(200), nullable=False),
        sa.Column("condition", sa.String(32), nullable=False),
        sa.Column("persona", sa.JSON, nullable=False),
        sa.Column("sample", sa.Integer, nullable=False),
        sa.Column("transcript", sa.JSON, nullable=False),
        sa.Column("left", sa.Boolean, nullable=False),
        sa.Column("satisfaction", sa.Integer, nullable=False),
        sa.Column("satisfaction_explanation", sa.Text, nullable=False),
        sa.Column("compliance", sa.Integer, nullable=False),
        sa.Column("compliance_explanation", sa.Text, nullable=False),
        sa.Column("entry_ids", sa.JSON, nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("evaluations")
