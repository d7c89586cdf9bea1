"""features as typed columns: one column per ratio and field feature, the classic scores with their reasons and
zones, the market inputs, the macro values with their series and dates, and the early-warning flags, in place of
the JSON text columns ratios, classic, market, macro and warnings (issue 11: a whole market is written and read as
numbers; core/feature_table.py names the columns)

The features table is derived entirely from statements, market_features, indicators and warning_signals, so the
upgrade drops it with its rows and creates it anew, empty: the next run of the features asset finds its output
table empty and re-derives every company (defs/incremental.company_work), marking their scores stale as it goes.
The downgrade does the same the other way (the old JSON table, empty until the features asset of that version
runs). The column list is frozen here as of this revision, not read from the product.

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

_FLOAT = sa.Float(precision=53).with_variant(mysql.DOUBLE(asdecimal=False), "mysql", "mariadb")
_TEXT = sa.Text().with_variant(mysql.MEDIUMTEXT(), "mysql", "mariadb")
_DATETIME = sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")

#: (name, kind[, length]) of every typed column, in table order.
TYPED_COLUMNS = (
    ("Attr1", "float"),
    ("Attr2", "float"),
    ("Attr3", "float"),
    ("Attr4", "float"),
    ("Attr5", "float"),
    ("Attr6", "float"),
    ("Attr7", "float"),
    ("Attr8", "float"),
    ("Attr9", "float"),
    ("Attr10", "float"),
    ("Attr11", "float"),
    ("Attr12", "float"),
    ("Attr13", "float"),
    ("Attr14", "float"),
    ("Attr15", "float"),
    ("Attr16", "float"),
    ("Attr17", "float"),
    ("Attr18", "float"),
    ("Attr19", "float"),
    ("Attr20", "float"),
    ("Attr21", "float"),
    ("Attr22", "float"),
    ("Attr23", "float"),
    ("Attr24", "float"),
    ("Attr26", "float"),
    ("Attr27", "float"),
    ("Attr28", "float"),
    ("Attr30", "float"),
    ("Attr31", "float"),
    ("Attr32", "float"),
    ("Attr33", "float"),
    ("Attr34", "float"),
    ("Attr35", "float"),
    ("Attr36", "float"),
    ("Attr37", "float"),
    ("Attr38", "float"),
    ("Attr39", "float"),
    ("Attr40", "float"),
    ("Attr41", "float"),
    ("Attr42", "float"),
    ("Attr43", "float"),
    ("Attr44", "float"),
    ("Attr45", "float"),
    ("Attr46", "float"),
    ("Attr47", "float"),
    ("Attr48", "float"),
    ("Attr49", "float"),
    ("Attr50", "float"),
    ("Attr51", "float"),
    ("Attr52", "float"),
    ("Attr53", "float"),
    ("Attr54", "float"),
    ("Attr56", "float"),
    ("Attr57", "float"),
    ("Attr58", "float"),
    ("Attr59", "float"),
    ("Attr60", "float"),
    ("Attr61", "float"),
    ("Attr62", "float"),
    ("Attr63", "float"),
    ("Attr64", "float"),
    ("wc_ta", "float"),
    ("re_ta", "float"),
    ("ebit_ta", "float"),
    ("sales_ta", "float"),
    ("tl_ta", "float"),
    ("ni_ta", "float"),
    ("ca_cl", "float"),
    ("ffo_tl", "float"),
    ("intwo", "float"),
    ("chin", "float"),
    ("log_real_assets", "float"),
    ("ltd_ta", "float"),
    ("interest_cover", "float"),
    ("quick_ratio", "float"),
    ("cash_ta", "float"),
    ("gross_margin", "float"),
    ("roa_change", "float"),
    ("sales_growth", "float"),
    ("mve_tl", "float"),
    ("log_real_mve", "float"),
    ("mve_change", "float"),
    ("excess_return", "float"),
    ("equity_volatility", "float"),
    ("merton_dd", "float"),
    ("altman_z", "float"),
    ("altman_z_reason", "text", 400),
    ("altman_z_zone", "text", 8),
    ("altman_z_double_prime", "float"),
    ("altman_z_double_prime_reason", "text", 400),
    ("altman_z_double_prime_zone", "text", 8),
    ("ohlson_o", "float"),
    ("ohlson_o_reason", "text", 400),
    ("ohlson_probability", "float"),
    ("zmijewski", "float"),
    ("zmijewski_reason", "text", 400),
    ("zmijewski_probability", "float"),
    ("merton_dd_reason", "text", 400),
    ("market_symbol", "text", 24),
    ("market_price_date", "date"),
    ("market_close", "float"),
    ("market_shares_outstanding", "float"),
    ("market_value_equity", "float"),
    ("market_n_returns", "int"),
    ("market_debt_face", "float"),
    ("market_risk_free_rate", "float"),
    ("market_risk_free_series", "text", 64),
    ("market_risk_free_released_at", "date"),
    ("market_merton_pd", "float"),
    ("market_merton_method", "text", 32),
    ("market_reason", "text", 400),
    ("market_value_source", "text", 200),
    ("macro_policy_rate", "float"),
    ("macro_policy_rate_series", "text", 160),
    ("macro_policy_rate_observed", "date"),
    ("macro_policy_rate_released", "date"),
    ("macro_govt_10y", "float"),
    ("macro_govt_10y_series", "text", 160),
    ("macro_govt_10y_observed", "date"),
    ("macro_govt_10y_released", "date"),
    ("macro_credit_spread", "float"),
    ("macro_credit_spread_series", "text", 160),
    ("macro_credit_spread_observed", "date"),
    ("macro_credit_spread_released", "date"),
    ("macro_gdp_growth", "float"),
    ("macro_gdp_growth_series", "text", 160),
    ("macro_gdp_growth_observed", "date"),
    ("macro_gdp_growth_released", "date"),
    ("macro_cpi_inflation", "float"),
    ("macro_cpi_inflation_series", "text", 160),
    ("macro_cpi_inflation_observed", "date"),
    ("macro_cpi_inflation_released", "date"),
    ("late_filing_notices_12m", "int"),
    ("non_clean_audit_opinion", "int"),
    ("filing_overdue", "int"),
    ("latest_signal_date", "date"),
)


def _typed(name: str, kind: str, length: int = 0) -> sa.Column:
    kinds = {"float": _FLOAT, "int": sa.Integer(), "date": sa.Date(), "text": sa.String(length=length)}
    return sa.Column(name, kinds[kind], nullable=True)


def _key_columns() -> list[sa.Column]:
    return [
        sa.Column("company_id", sa.String(length=40), nullable=False),
        sa.Column("period_end", sa.Date(), nullable=False),
        sa.Column("accession", sa.String(length=32), nullable=False),
        sa.Column("fiscal_year", sa.Integer(), nullable=False),
        sa.Column("filed_at", sa.Date(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
    ]


def _replace(columns: list[sa.Column]) -> None:
    op.drop_index("ix_features_filed", table_name="features")
    op.drop_table("features")
    op.create_table(
        "features",
        *_key_columns(),
        *columns,
        sa.PrimaryKeyConstraint("company_id", "period_end", "accession"),
    )
    op.create_index("ix_features_filed", "features", ["company_id", "filed_at"], unique=False)


def upgrade() -> None:
    _replace(
        [
            sa.Column("period_type", sa.String(length=3), server_default="FY", nullable=False),
            sa.Column("fiscal_period", sa.String(length=2), server_default="FY", nullable=False),
            sa.Column("computed_at", _DATETIME, nullable=False),
            *[_typed(*column) for column in TYPED_COLUMNS],
        ]
    )


def downgrade() -> None:
    _replace(
        [
            sa.Column("ratios", _TEXT, nullable=False),
            sa.Column("classic", _TEXT, nullable=False),
            sa.Column("altman_z", _FLOAT, nullable=True),
            sa.Column("altman_z_double_prime", _FLOAT, nullable=True),
            sa.Column("ohlson_o", _FLOAT, nullable=True),
            sa.Column("zmijewski", _FLOAT, nullable=True),
            sa.Column("computed_at", _DATETIME, nullable=False),
            sa.Column("period_type", sa.String(length=3), server_default="FY", nullable=False),
            sa.Column("fiscal_period", sa.String(length=2), server_default="FY", nullable=False),
            sa.Column("merton_dd", _FLOAT, nullable=True),
            sa.Column("market", _TEXT, nullable=True),
            sa.Column("macro", _TEXT, nullable=True),
            sa.Column("warnings", _TEXT, nullable=True),
        ]
    )
