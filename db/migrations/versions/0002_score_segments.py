"""score segments: the segment whose model scored a row, why, and whether it had enough data for a PD

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("risk_scores") as batch:
        batch.add_column(sa.Column("segment", sa.String(length=24), nullable=True))
        batch.add_column(sa.Column("segment_reason", sa.String(length=300), nullable=True))
        batch.add_column(sa.Column("status", sa.String(length=24), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("risk_scores") as batch:
        batch.drop_column("status")
        batch.drop_column("segment_reason")
        batch.drop_column("segment")
