"""Alembic's entry point: run the revisions on the connection `storage.migrate` hands over.

That connection already holds the migration lock inside an open transaction, so Alembic joins
the transaction instead of opening (and committing) its own.
"""
from alembic import context

context.configure(connection=context.config.attributes["connection"], target_metadata=None)
with context.begin_transaction():
    context.run_migrations()
