"""Tenants, their AgentBuddy connections, the synced entities and the sync bookkeeping."""
from integration.storage.migrations import run_sql

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    run_sql("0001_core.sql")
