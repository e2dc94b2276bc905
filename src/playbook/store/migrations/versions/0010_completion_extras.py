"""The call log keeps a whole answer: the fields of a completion beyond its text and token
counts (none today; tool calls, say, later) go into one JSON column, so a new field is cached
and answered again from the log without another migration.

Revision ID: 0010
Revises: 0009
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from playbook.store.migrations.schema import JSON

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("calls") as table:
        table.add_column(sa.Column("extras", JSON, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("calls") as table:
        table.drop_column("extras")
