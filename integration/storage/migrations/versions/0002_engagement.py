"""The engagement pipeline: sends, provider events, activity, metrics, scores, the outbox."""
import sqlalchemy as sa
from alembic import op

from integration.storage.migrations import run_sql

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    run_sql("0002_engagement.sql")
    # Every score change, for timelines ("45 -> 87 after the valuation clicks"). The key is
    # generated: INTEGER PRIMARY KEY AUTOINCREMENT on SQLite, an identity column on PostgreSQL.
    op.create_table(
        "score_history",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), sa.Identity(), primary_key=True),
        sa.Column("organization_id", sa.Text(), nullable=False),
        sa.Column("contact_id", sa.Text(), nullable=False),
        sa.Column("propensity_score", sa.Integer(), nullable=False),
        sa.Column("propensity_category", sa.Text(), nullable=False),
        sa.Column("seller_likelihood", sa.Integer()),
        sa.Column("buyer_activity_score", sa.Integer()),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("scored_at", sa.Text(), nullable=False),
        sqlite_autoincrement=True,
    )
    op.create_index("score_history_by_contact", "score_history", ["organization_id", "contact_id", "scored_at"])
