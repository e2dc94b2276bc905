"""A playbook on PostgreSQL: JSON columns become jsonb (compared, indexed and taken apart by the
audit queries), text columns lose the length limits SQLite never enforced (a model name of 300
characters must not fail on one database and not the other), and every change to the entries
or their reviews is announced on the `playbook_changes` channel, so serving replicas reload at
once (LISTEN/NOTIFY). Those changes also take one transaction lock, so entry and review ids are
committed in order, as on SQLite, and a replica that reads "the highest id" never skips one.

Nothing changes on SQLite. Later migrations that add JSON columns declare them with
`schema.JSON`, which is jsonb on PostgreSQL.

Revision ID: 0009
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

CHANNEL = "playbook_changes"
CHANGE_LOCK = 7_018_002
WATCHED = ("entries", "reviews")


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    inspector = sa.inspect(bind)
    for table in inspector.get_table_names():
        if table == "alembic_version":
            continue
        for column in inspector.get_columns(table):
            kind = column["type"]
            if isinstance(kind, sa.JSON):
                op.execute(
                    f'ALTER TABLE "{table}" ALTER COLUMN "{column["name"]}" TYPE jsonb '
                    f'USING "{column["name"]}"::jsonb'
                )
            elif isinstance(kind, sa.String) and getattr(kind, "length", None):
                op.execute(f'ALTER TABLE "{table}" ALTER COLUMN "{column["name"]}" TYPE varchar')
    op.execute(
        f"""
        CREATE FUNCTION playbook_change_lock() RETURNS trigger AS $$
        BEGIN
            PERFORM pg_advisory_xact_lock({CHANGE_LOCK});
            RETURN NULL;
        END $$ LANGUAGE plpgsql
        """
    )
    op.execute(
        f"""
        CREATE FUNCTION playbook_announce_change() RETURNS trigger AS $$
        BEGIN
            PERFORM pg_notify('{CHANNEL}', TG_TABLE_NAME);
            RETURN NULL;
        END $$ LANGUAGE plpgsql
        """
    )
    for table in WATCHED:
        op.execute(
            f"CREATE TRIGGER {table}_change_lock BEFORE INSERT OR UPDATE OR DELETE ON {table} "
            "FOR EACH STATEMENT EXECUTE FUNCTION playbook_change_lock()"
        )
        op.execute(
            f"CREATE TRIGGER {table}_announce AFTER INSERT OR UPDATE OR DELETE ON {table} "
            "FOR EACH STATEMENT EXECUTE FUNCTION playbook_announce_change()"
        )


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    for table in WATCHED:
        op.execute(f"DROP TRIGGER {table}_announce ON {table}")
        op.execute(f"DROP TRIGGER {table}_change_lock ON {table}")
    op.execute("DROP FUNCTION playbook_announce_change()")
    op.execute("DROP FUNCTION playbook_change_lock()")
    # jsonb and unlimited varchar stay: narrowing them could fail on rows written since.
