"""Alembic environment: runs the migrations on the connection that `upgrade()` passes in."""

from alembic import context

connection = context.config.attributes["connection"]
# Batch mode lets later migrations alter SQLite tables (copy-and-move) like any other database.
context.configure(connection=connection, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
