"""drop ix_scores_grade: no read uses it (the grade filters of the API and the CLI apply to each company's newest
score, ranked by a window over the scores, which an index on grade cannot serve), while every score row written
kept it up to date: about half a second of the server's CPU per batch of 30,000 score rows on MariaDB (2.1-2.4 ->
1.6-1.7 s; issue 11)

Revision ID: 0008
Revises: 0007
"""

from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index("ix_scores_grade", table_name="risk_scores")


def downgrade() -> None:
    op.create_index("ix_scores_grade", "risk_scores", ["grade"])
