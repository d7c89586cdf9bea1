"""Warehouse tables (SQLAlchemy Core). The Alembic migrations in db/migrations are generated from and
checked against this metadata; the API and the assets read and write through it.

Keys are natural keys so every write is an idempotent upsert: re-materialising replaces, never duplicates.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects import mysql

from risk_assets.core.canonical import CANONICAL_ITEMS
from risk_assets.core.feature_table import FEATURE_COLUMNS, FeatureColumn

metadata = sa.MetaData()

# MySQL/MariaDB variants ("mariadb" too, for mariadb+pymysql:// URLs): DOUBLE for floats, MEDIUMTEXT (16 MB)
# for JSON text, and DATETIME(6) so a timestamp reads back with its microseconds as it does on SQLite (plain
# DATETIME drops them: MariaDB truncates, MySQL 8 rounds, possibly into the next second).
_Float = sa.Float(precision=53).with_variant(mysql.DOUBLE(asdecimal=False), "mysql", "mariadb")
_Text = sa.Text().with_variant(mysql.MEDIUMTEXT(), "mysql", "mariadb")
_DateTime = sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")

companies = sa.Table(
    "companies",
    metadata,
    sa.Column("company_id", sa.String(40), primary_key=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("ticker", sa.String(16)),
    sa.Column("cik", sa.String(10)),
    sa.Column("dart_corp_code", sa.String(8)),
    sa.Column("country", sa.String(2), nullable=False),
    sa.Column("currency", sa.String(3)),
    sa.Column("sic", sa.String(8)),
    sa.Column("induty_code", sa.String(8)),
    sa.Column("sector", sa.String(60)),
    sa.Column("is_financial", sa.Boolean, nullable=False, default=False),
    sa.Column("fiscal_year_end", sa.String(4)),
    sa.Column("source", sa.String(32), nullable=False),
    sa.Column("updated_at", _DateTime, nullable=False),
    sa.Index("ix_companies_ticker", "ticker"),
    sa.Index("ix_companies_cik", "cik"),
    sa.Index("ix_companies_dart", "dart_corp_code"),
    sa.Index("ix_companies_name", "name"),
)

watchlist = sa.Table(
    "watchlist",
    metadata,
    sa.Column("company_id", sa.String(40), primary_key=True),
    sa.Column("ticker", sa.String(16)),
    sa.Column("cik", sa.String(10)),
    sa.Column("dart_corp_code", sa.String(8)),
    sa.Column("added_at", _DateTime, nullable=False),
    sa.Column("added_by", sa.String(80)),
)

raw_filings = sa.Table(
    "raw_filings",
    metadata,
    sa.Column("company_id", sa.String(40), primary_key=True),
    sa.Column("source", sa.String(32), primary_key=True),
    sa.Column("kind", sa.String(40), primary_key=True),
    sa.Column("sha256", sa.String(64), primary_key=True),
    sa.Column("object_key", sa.String(512), nullable=False),
    sa.Column("content_type", sa.String(80)),
    sa.Column("size_bytes", sa.BigInteger, nullable=False),
    sa.Column("fetched_at", _DateTime, nullable=False),
    sa.Index("ix_raw_filings_fetched", "company_id", "fetched_at"),
)

statements = sa.Table(
    "statements",
    metadata,
    sa.Column("company_id", sa.String(40), primary_key=True),
    sa.Column("period_end", sa.Date, primary_key=True),
    sa.Column("accession", sa.String(32), primary_key=True),
    sa.Column("fiscal_year", sa.Integer, nullable=False),
    sa.Column("period_start", sa.Date),
    sa.Column("filed_at", sa.Date, nullable=False),
    sa.Column("form", sa.String(16)),
    sa.Column("currency", sa.String(3), nullable=False),
    sa.Column("source", sa.String(32), nullable=False),
    sa.Column("derived_items", sa.String(400), nullable=False, default=""),
    # "FY": an annual filing's figures; "TTM": trailing twelve months at a quarter end, built from a quarterly
    # filing (its own accession) and the prior fiscal year known on its filing date. fiscal_period: FY, Q1-Q3.
    sa.Column("period_type", sa.String(3), nullable=False, default="FY", server_default="FY"),
    sa.Column("fiscal_period", sa.String(2), nullable=False, default="FY", server_default="FY"),
    *[sa.Column(item, _Float) for item in CANONICAL_ITEMS],
    sa.Index("ix_statements_filed", "company_id", "filed_at"),
    sa.Index("ix_statements_year", "company_id", "fiscal_year"),
)

rejected_records = sa.Table(
    "rejected_records",
    metadata,
    sa.Column("stage", sa.String(32), primary_key=True),
    sa.Column("company_id", sa.String(40), primary_key=True),
    sa.Column("record_key", sa.String(128), primary_key=True),
    sa.Column("reason", sa.String(1000), nullable=False),
    sa.Column("detected_at", _DateTime, nullable=False),
)

indicators = sa.Table(
    "indicators",
    metadata,
    sa.Column("source", sa.String(16), primary_key=True),
    sa.Column("series_id", sa.String(64), primary_key=True),
    sa.Column("observation_date", sa.Date, primary_key=True),
    sa.Column("released_at", sa.Date, primary_key=True),
    sa.Column("value", _Float),
    sa.Column("release_basis", sa.String(32), nullable=False),
    sa.Index("ix_indicators_release", "series_id", "released_at"),
)

market_prices = sa.Table(
    "market_prices",
    metadata,
    sa.Column("symbol", sa.String(24), primary_key=True),
    sa.Column("price_date", sa.Date, primary_key=True),
    sa.Column("close", _Float),
    sa.Column("adjclose", _Float),
    sa.Column("volume", _Float),
    sa.Column("currency", sa.String(3)),
)


def _feature_type(column: FeatureColumn) -> sa.types.TypeEngine:
    return {"float": _Float, "int": sa.Integer(), "date": sa.Date(), "text": sa.String(column.length)}[
        column.kind
    ]


# One row per statement version; the typed columns (ratios, classic scores with their reasons and zones, market
# inputs, macro values with their series and dates, early-warning flags) are listed in core/feature_table.py, the
# one place the writer and the readers take them from too (migration 0005 replaced the JSON text columns).
features = sa.Table(
    "features",
    metadata,
    sa.Column("company_id", sa.String(40), primary_key=True),
    sa.Column("period_end", sa.Date, primary_key=True),
    sa.Column("accession", sa.String(32), primary_key=True),
    sa.Column("fiscal_year", sa.Integer, nullable=False),
    sa.Column("filed_at", sa.Date, nullable=False),
    sa.Column("currency", sa.String(3), nullable=False),
    sa.Column("period_type", sa.String(3), nullable=False, default="FY", server_default="FY"),
    sa.Column("fiscal_period", sa.String(2), nullable=False, default="FY", server_default="FY"),
    sa.Column("computed_at", _DateTime, nullable=False),
    *[sa.Column(column.name, _feature_type(column)) for column in FEATURE_COLUMNS],
    sa.Index("ix_features_filed", "company_id", "filed_at"),
)

market_features = sa.Table(
    "market_features",
    metadata,
    sa.Column("company_id", sa.String(40), primary_key=True),
    sa.Column("period_end", sa.Date, primary_key=True),
    sa.Column("accession", sa.String(32), primary_key=True),
    sa.Column("filed_at", sa.Date, nullable=False),
    sa.Column("symbol", sa.String(24)),
    sa.Column("price_date", sa.Date),
    sa.Column("close", _Float),
    sa.Column("shares_outstanding", _Float),
    sa.Column("market_value_equity", _Float),
    sa.Column("equity_volatility", _Float),
    sa.Column("n_returns", sa.Integer),
    sa.Column("debt_face", _Float),
    sa.Column("risk_free_rate", _Float),
    sa.Column("risk_free_series", sa.String(64)),
    sa.Column("risk_free_released_at", sa.Date),
    sa.Column("merton_dd", _Float),
    sa.Column("merton_pd", _Float),
    sa.Column("merton_method", sa.String(32)),
    sa.Column("reason", sa.String(400)),
    sa.Column("computed_at", _DateTime, nullable=False),
    sa.Index("ix_market_features_filed", "company_id", "filed_at"),
)

warning_signals = sa.Table(
    "warning_signals",
    metadata,
    sa.Column("company_id", sa.String(40), primary_key=True),
    sa.Column(
        "kind", sa.String(40), primary_key=True
    ),  # late_filing_notice | non_clean_audit_opinion | filing_overdue
    sa.Column("reference", sa.String(64), primary_key=True),  # accession / rcept_no / expected period
    sa.Column("signal_date", sa.Date, nullable=False),  # the day it became known
    sa.Column("resolved_at", sa.Date),  # an overdue filing that arrived late: the day it arrived
    sa.Column("source", sa.String(40), nullable=False),
    sa.Column("detail", sa.String(400)),
    sa.Column("alert_pending", sa.Boolean, nullable=False, default=True),
    sa.Column("loaded_at", _DateTime, nullable=False),
    sa.Index("ix_warning_signals_date", "company_id", "signal_date"),
)

default_events = sa.Table(
    "default_events",
    metadata,
    sa.Column("company_id", sa.String(40), primary_key=True),
    sa.Column("event_date", sa.Date, primary_key=True),
    sa.Column("kind", sa.String(40), primary_key=True),
    sa.Column("source", sa.String(40), nullable=False),
    sa.Column("reference", sa.String(64)),
    sa.Column("loaded_at", _DateTime, nullable=False),
)

risk_scores = sa.Table(
    "risk_scores",
    metadata,
    sa.Column("company_id", sa.String(40), primary_key=True),
    sa.Column("as_of", sa.Date, primary_key=True),
    sa.Column("model_version", sa.String(16), primary_key=True),
    sa.Column("kind", sa.String(8), primary_key=True),  # "period" (as of a filing) or "current" (snapshot)
    sa.Column("model_name", sa.String(64), nullable=False),
    sa.Column("period_end", sa.Date, nullable=False),
    sa.Column("fiscal_year", sa.Integer, nullable=False),
    sa.Column("accession", sa.String(32), nullable=False),
    sa.Column("filed_at", sa.Date, nullable=False),
    sa.Column("pd", _Float, nullable=False),
    sa.Column("model_pd", _Float, nullable=False),
    sa.Column("grade", sa.String(2), nullable=False),
    sa.Column("percentile", _Float),
    sa.Column("log_odds", _Float, nullable=False),
    sa.Column("drivers", _Text, nullable=False),
    # The feature values the model scored, as JSON: kept on the scores whose drivers are kept (the snapshots and
    # each company's newest filing score). An older filing score keeps only their digest (migration 0007); its
    # values are its filing's features row, which the API reads and checks against the digest.
    sa.Column("feature_values", _Text),
    sa.Column("feature_digest", sa.String(32)),
    sa.Column("in_default", sa.Boolean, nullable=False),
    sa.Column("out_of_domain", sa.Boolean, nullable=False),
    sa.Column("domain_note", sa.String(1000)),
    sa.Column("code_version", sa.String(40), nullable=False),
    sa.Column("scored_at", _DateTime, nullable=False),
    sa.Column("alert_pending", sa.Boolean, nullable=False, default=False),
    # Which segment's model scored the row and why (core/segments.py); migration 0002.
    sa.Column("segment", sa.String(24)),
    sa.Column("segment_reason", sa.String(300)),
    # "scored", or "insufficient_data" when too few of the model's features are known (served without a PD)
    sa.Column("status", sa.String(24)),
    # FY or TTM: the kind of statement the score rests on (migration 0003; null for rows scored before it)
    sa.Column("period_type", sa.String(3)),
    # Company lookups use the primary key's (company_id, as_of) prefix; these serve the cross-company reads:
    # a model version's view at a date, and the most recently scored snapshot.
    sa.Index("ix_scores_latest", "model_version", "kind", "as_of"),
    sa.Index("ix_scores_recent", "kind", "scored_at"),
    # risk_alerts reads only the companies with a score not yet compared (migration 0004)
    sa.Index("ix_scores_pending", "kind", "alert_pending"),
    # today's snapshots without their rows (migration 0006): a few companies ranked among them, and the market's
    # summary by segment and riskiest ten that every run of risk_scores records
    sa.Index("ix_scores_rank", "kind", "as_of", "status", "pd", "segment", "out_of_domain"),
)

risk_alerts = sa.Table(
    "risk_alerts",
    metadata,
    sa.Column("company_id", sa.String(40), primary_key=True),
    sa.Column("as_of", sa.Date, primary_key=True),
    sa.Column("model_version", sa.String(16), primary_key=True),
    sa.Column("previous_as_of", sa.Date, nullable=False),
    sa.Column("previous_pd", _Float, nullable=False),
    sa.Column("pd", _Float, nullable=False),
    sa.Column("previous_grade", sa.String(2), nullable=False),
    sa.Column("grade", sa.String(2), nullable=False),
    sa.Column("reasons", sa.String(200), nullable=False),
    # "score": a worse score under one model; "warning": an early-warning signal (model_version "early_warning",
    # previous_* and pd/grade are the company's score as of the signal).
    sa.Column("kind", sa.String(16), nullable=False, default="score", server_default="score"),
    sa.Column("created_at", _DateTime, nullable=False),
    sa.Column("acknowledged_at", _DateTime),
    sa.Column("acknowledged_by", sa.String(80)),
    sa.Index("ix_alerts_created", "created_at"),
)

model_decisions = sa.Table(
    "model_decisions",
    metadata,
    sa.Column("model_name", sa.String(64), primary_key=True),
    sa.Column("challenger_version", sa.String(16), primary_key=True),
    sa.Column("decided_at", _DateTime, nullable=False),
    sa.Column("champion_version_before", sa.String(16)),
    sa.Column("champion_version_after", sa.String(16), nullable=False),
    sa.Column("decision", sa.String(16), nullable=False),
    sa.Column("rule", sa.String(1000), nullable=False),
    sa.Column("reason", sa.String(1000), nullable=False),
    sa.Column("challenger_auc", _Float),
    sa.Column("champion_auc", _Float),
    sa.Column("n_holdout", sa.Integer),
    sa.Column("figures", _Text, nullable=False),
)

api_keys = sa.Table(
    "api_keys",
    metadata,
    sa.Column("name", sa.String(80), primary_key=True),
    sa.Column("key_prefix", sa.String(16), nullable=False, unique=True),
    sa.Column("key_hash", sa.String(128), nullable=False),
    sa.Column("scopes", sa.String(80), nullable=False),
    sa.Column("created_at", _DateTime, nullable=False),
    sa.Column("revoked_at", _DateTime),
)

audit_log = sa.Table(
    "audit_log",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("at", _DateTime, nullable=False),
    sa.Column("actor", sa.String(80), nullable=False),
    sa.Column("action", sa.String(64), nullable=False),
    sa.Column("target", sa.String(200)),
    sa.Column("detail", sa.String(2000)),
    sa.Index("ix_audit_at", "at"),
)

# Companies whose derived rows are out of date, per consumer asset (storage/stale.py): a write to an input table
# marks the companies whose rows it changed, in the same transaction; the consumer recomputes those companies
# alone and clears the marks it read (by token, so a mark made while it ran survives). Migration 0004.
stale_companies = sa.Table(
    "stale_companies",
    metadata,
    sa.Column("consumer", sa.String(40), primary_key=True),
    sa.Column("company_id", sa.String(40), primary_key=True),
    sa.Column("token", sa.String(32), nullable=False),
    sa.Column("marked_at", _DateTime, nullable=False),
)

TABLES: dict[str, sa.Table] = dict(metadata.tables)
