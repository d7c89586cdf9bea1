"""a filing score keeps a digest of the feature values it was predicted from, and the values themselves only where
its drivers are kept (the snapshots and each company's newest filing score): the JSON was three quarters of a
score row's bytes, written for every filing of the market (issue 11); an older filing's values are its features
row, which the API reads and checks against the digest

Rows stored before this revision keep their values and get no digest: the next rescore (new code) rewrites the
current champions' rows in the new form, and the older versions' rows keep serving their values. On SQLite the
column's nullability is changed by rebuilding the table (Alembic's batch mode), so the statistics of an analysed
warehouse are taken again, as in 0006. The downgrade writes "{}" where only a digest is kept: the earlier version
then finds no values for those scores.

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

_TEXT = sa.Text().with_variant(mysql.MEDIUMTEXT(), "mysql", "mariadb")


def upgrade() -> None:
    with op.batch_alter_table("risk_scores") as batch:
        batch.add_column(sa.Column("feature_digest", sa.String(length=32), nullable=True))
        batch.alter_column("feature_values", existing_type=_TEXT, nullable=True)
    context = op.get_context()
    if context.dialect.name == "sqlite" and not context.as_sql:
        bind = op.get_bind()
        analysed = (
            bind.exec_driver_sql("SELECT 1 FROM sqlite_master WHERE name = 'sqlite_stat1'").first()
            is not None
        )
        if analysed:
            op.execute("ANALYZE risk_scores")


def downgrade() -> None:
    op.execute("UPDATE risk_scores SET feature_values = '{}' WHERE feature_values IS NULL")
    with op.batch_alter_table("risk_scores") as batch:
        batch.alter_column("feature_values", existing_type=_TEXT, nullable=False)
        batch.drop_column("feature_digest")
