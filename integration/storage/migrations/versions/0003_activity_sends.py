"""Per-email records of a contact's activity move out of `state` into their own column."""
from integration.storage.migrations import run_sql

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    run_sql("0003_activity_sends.sql")
