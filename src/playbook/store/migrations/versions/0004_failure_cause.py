"""Failures get a short cause ("timeout", "unusable output", ...) for run summaries.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("failures") as table:
        table.add_column(sa.Column("cause", sa.String(32), nullable=False, server_default="error"))


def downgrade() -> None:
    with op.batch_alter_table("failures") as table:
        table.drop_column("cause")
