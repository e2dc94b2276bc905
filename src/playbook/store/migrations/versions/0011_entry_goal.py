"""Entries keep the goal of the persona they were learned from in a column of their own: serving
reads it for every entry at start-up, and taking it out of each scenario's JSON cost about a
quarter of a second at 100,000 entries. Existing entries get it from their scenario.

Revision ID: 0011
Revises: 0010
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

# The persona's goal in the scenario JSON (jsonb on PostgreSQL since 0009); NULL when absent.
GOAL_IN_SCENARIO = {
    "sqlite": "json_extract(scenario, '$.persona.goal')",
    "postgresql": "scenario #>> '{persona,goal}'",
}


def upgrade() -> None:
    with op.batch_alter_table("entries") as table:
        table.add_column(sa.Column("goal", sa.Text, nullable=True))
    goal = GOAL_IN_SCENARIO[op.get_bind().dialect.name]
    op.execute(f"UPDATE entries SET goal = {goal}")


def downgrade() -> None:
    with op.batch_alter_table("entries") as table:
        table.drop_column("goal")
