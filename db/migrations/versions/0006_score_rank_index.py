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


def downgrade() -> None:
    op.drop_index("ix_scores_rank", table_name="risk_scores")
