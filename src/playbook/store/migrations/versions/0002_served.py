"""Requests the serving proxy answered: entries used, latency, tokens, upstream status, and the
content only when the server is configured to record it.

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
        "served",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("created_at", sa.DateTime, nullable=False, index=True),
        sa.Column("model", sa.String(200), nullable=False),
        sa.Column("stream", sa.Boolean, nullable=False),
        sa.Column("entry_ids", sa.JSON, nullable=False),
        sa.Column("latency_ms", sa.Float, nullable=False),
        sa.Column("upstream_status", sa.Integer, nullable=True),  # None: no answer at all
        sa.Column("input_tokens", sa.Integer, nullable=True),  # None: upstream sent no usage
        sa.Column("output_tokens", sa.Integer, nullable=True),
        sa.Column("error", sa.Text, nullable=True),
        sa.Column("request", sa.JSON, nullable=True),  # only with serve.record_content
        sa.Column("response", sa.Text, nullable=True),  # only with serve.record_content
    )


def downgrade() -> None:
    op.drop_table("served")
