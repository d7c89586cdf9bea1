"""stale companies: per consumer asset, the companies whose derived rows an input write made out of date, so a
new filing re-derives that company alone; an index for risk_alerts' read of the scores not yet compared

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "stale_companies",
        sa.Column("consumer", sa.String(length=40), nullable=False),
        sa.Column("company_id", sa.String(length=40), nullable=False),
        sa.Column("token", sa.String(length=32), nullable=False),
        sa.Column(
            "marked_at", sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb"), nullable=False
        ),
        sa.PrimaryKeyConstraint("consumer", "company_id"),
    )
    op.create_index("ix_scores_pending", "risk_scores", ["kind", "alert_pending"])


def downgrade() -> None:
    op.drop_index("ix_scores_pending", table_name="risk_scores")
    op.drop_table("stale_companies")
