"""an index of today's snapshots: a few companies' new snapshots ranked among today's, and the market's summary
by segment and its riskiest ten, each read from the index alone, not from a hundred thousand score rows (issue 11:
a new filing in under 10 s at 100,000 companies)

Revision ID: 0006
Revises: 0005
"""

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_scores_rank", "risk_scores", ["kind", "as_of", "status", "pd", "segment", "out_of_domain"]
    )
    context = op.get_context()
    if context.dialect.name == "sqlite" and not context.as_sql:
        # SQLite plans with the statistics it has, and an index without any looks selective: until the next run
        # of several batches refreshed them, a batch's read of its companies' scores (company_id IN ..., kind =
        # 'period') would go through this index, every period row of the market. InnoDB keeps its own.
        bind = op.get_bind()
        analysed = (
            bind.exec_driver_sql("SELECT 1 FROM sqlite_master WHERE name = 'sqlite_stat1'").first()
            is not None
        )
        if analysed:
            op.execute("ANALYZE risk_scores")


def downgrade() -> None:
    op.drop_index("ix_scores_rank", table_name="risk_scores")
