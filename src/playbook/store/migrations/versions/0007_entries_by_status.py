"""Entries indexed by review status and embedding model: serving counts and selects the servable
entries of one embedder without reading every entry (at 100,000 entries, a 400 MB table).

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_entries_status_model", "entries", ["status", "embedding_model"])


def downgrade() -> None:
    op.drop_index("ix_entries_status_model", table_name="entries")
