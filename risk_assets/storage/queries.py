"""Queries shared by the API and the CLI: reads, plus the one write the API makes on warehouse rows (acknowledging
an alert, with its audit row). SQLAlchemy Core with bound parameters throughout, never string-built SQL.

Reads return plain dicts (not DataFrames): the API serialises them directly, which keeps a lookup to a few
hundred microseconds. ``latest_scores`` keeps returning a DataFrame for the CLI's table.

Two views of "a company's score":
- latest (no date): the company's newest current snapshot, whatever model wrote it;
- as of a date D: the newest score (filing or snapshot) with as_of <= D under ONE model version (by default the
  version of the newest snapshot), so a cross-section never mixes models.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from risk_assets.core.canonical import CANONICAL_ITEMS, STATEMENT_META_COLUMNS
from risk_assets.core.feature_table import FEATURE_COLUMN_NAMES, feature_document
from risk_assets.core.master_scale import GRADE_LABELS
from risk_assets.storage.api_keys import record_audit
from risk_assets.storage.schema import companies, features, risk_alerts, risk_scores, statements, watchlist
from risk_assets.storage.warehouse import Warehouse, utc_now

SCORE_SORTS = ("-pd", "pd", "name", "-name", "company_id", "-company_id", "-as_of", "as_of")
AlertKind = Literal["downgrade", "pd_jump"]

# Columns of a score row in lists (the heavy JSON columns only in score_detail).
_SCORE_COLUMNS = (
    "company_id",
    "as_of",
    "kind",
    "fiscal_year",
    "period_end",
    "filed_at",
    "accession",
    "pd",
    "grade",
    "percentile",
    "in_default",
    "out_of_domain",
    "domain_note",
    "model_name",
    "model_version",
    "scored_at",
    "segment",
    "segment_reason",
    "status",
    "period_type",
)
# Annual or trailing-twelve-month rows; a feature row's statement columns and its typed columns (core/feature_table),
# served as the documents (ratios, classic, market, macro, warnings) clients have always read.
_STATEMENT_EXTRAS = ("period_type", "fiscal_period")
_FEATURE_META = (
    "period_end",
    "fiscal_year",
    "accession",
    "filed_at",
    "currency",
    "period_type",
    "fiscal_period",
)
_FEATURE_COLUMNS = (*_FEATURE_META, *FEATURE_COLUMN_NAMES)
_COMPANY_COLUMNS = (
    "company_id",
    "name",
    "ticker",
    "cik",
    "dart_corp_code",
    "country",
    "currency",
    "sic",
    "induty_code",
    "sector",
    "is_financial",
    "fiscal_year_end",
)


def _rows(warehouse: Warehouse, statement: Any) -> list[dict[str, Any]]:
    with warehouse.engine.connect() as conn:
        return [dict(row) for row in conn.execute(statement).mappings()]


def _first(warehouse: Warehouse, statement: Any) -> dict[str, Any] | None:
    with warehouse.engine.connect() as conn:
        row = conn.execute(statement).mappings().first()
    return dict(row) if row is not None else None


def _count(warehouse: Warehouse, statement: sa.Select) -> int:
    counted = sa.select(sa.func.count()).select_from(
        statement.order_by(None).limit(None).offset(None).subquery()
    )
    with warehouse.engine.connect() as conn:
        return int(conn.execute(counted).scalar_one())


def _like_pattern(text: str) -> str:
    """A LIKE pattern matching ``text`` anywhere, with LIKE's wildcards in it taken literally (escape '\\')."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped.lower()}%"


# --- companies -----------------------------------------------------------------------------------------------


def search_companies(
    warehouse: Warehouse,
    *,
    q: str | None = None,
    sector: str | None = None,
    country: str | None = None,
    limit: int = 100,
    offset: int = 0,
) -> tuple[list[dict[str, Any]], int]:
    """Companies whose name contains ``q`` (any case), or whose ticker, CIK (any zero padding), DART corp code
    or company id equals it; ordered by name. Returns (page, total matches)."""
    statement = sa.select(*[companies.c[name] for name in _COMPANY_COLUMNS])
    if q:
        text = q.strip()
        matches = [
            sa.func.lower(companies.c.name).like(_like_pattern(text), escape="\\"),
            sa.func.upper(companies.c.ticker) == text.upper(),
            companies.c.dart_corp_code == text,
            companies.c.company_id == text.lower(),
        ]
        if text.isdigit() and len(text) <= 10:
            matches.append(companies.c.cik == text.zfill(10))
        statement = statement.where(sa.or_(*matches))
    if sector:
        statement = statement.where(companies.c.sector == sector)
    if country:
        statement = statement.where(companies.c.country == country.upper())
    total = _count(warehouse, statement)
    page = statement.order_by(companies.c.name, companies.c.company_id).limit(limit).offset(offset)
    return _rows(warehouse, page), total


def get_company(warehouse: Warehouse, company_id: str) -> dict[str, Any] | None:
    statement = sa.select(*[companies.c[name] for name in _COMPANY_COLUMNS]).where(
        companies.c.company_id == company_id
    )
    return _first(warehouse, statement)


def company_exists(warehouse: Warehouse, company_id: str) -> bool:
    statement = sa.select(companies.c.company_id).where(companies.c.company_id == company_id)
    return _first(warehouse, statement) is not None


def _profile_statement() -> sa.Select:
    """One round trip: the company, its newest snapshot, that snapshot's feature row, its watchlist entry."""
    company_id = sa.bindparam("company_id")
    latest = (
        sa.select(*[risk_scores.c[name] for name in _SCORE_COLUMNS], risk_scores.c.drivers)
        .where(risk_scores.c.company_id == company_id, risk_scores.c.kind == "current")
        .order_by(risk_scores.c.as_of.desc(), risk_scores.c.scored_at.desc())
        .limit(1)
        .subquery("latest")
    )
    return (
        sa.select(
            *[companies.c[name] for name in _COMPANY_COLUMNS],
            *[latest.c[name].label(f"s_{name}") for name in (*_SCORE_COLUMNS, "drivers")],
            *[features.c[name].label(f"f_{name}") for name in _FEATURE_COLUMNS],
            watchlist.c.company_id.label("watched"),
        )
        .select_from(companies)
        .outerjoin(latest, latest.c.company_id == companies.c.company_id)
        .outerjoin(
            features,
            sa.and_(
                features.c.company_id == latest.c.company_id,
                features.c.period_end == latest.c.period_end,
                features.c.accession == latest.c.accession,
            ),
        )
        .outerjoin(watchlist, watchlist.c.company_id == companies.c.company_id)
        .where(companies.c.company_id == company_id)
    )


# Built once (constructing a statement costs more than running it on SQLite): the API's most frequent lookup.
_PROFILE = _profile_statement()


def company_profile(warehouse: Warehouse, company_id: str) -> dict[str, Any] | None:
    """A company with its newest snapshot score, the feature row that score used and its watchlist status."""
    with warehouse.engine.connect() as conn:
        row = conn.execute(_PROFILE, {"company_id": company_id}).mappings().first()
    if row is None:
        return None
    latest = None
    if row["s_company_id"] is not None:
        latest = {name: row[f"s_{name}"] for name in _SCORE_COLUMNS} | {
            "drivers": json.loads(row["s_drivers"])
        }
    feature = None
    if row["f_accession"] is not None:
        feature = _feature_dict({name: row[f"f_{name}"] for name in _FEATURE_COLUMNS})
    return {
        "company": {name: row[name] for name in _COMPANY_COLUMNS},
        "on_watchlist": row["watched"] is not None,
        "latest_score": latest,
        "latest_features": feature,
    }


def statements_for(
    warehouse: Warehouse, company_id: str, *, all_versions: bool = False, limit: int = 20, offset: int = 0
) -> tuple[list[dict[str, Any]], int]:
    """A company's canonical statements, newest period first. By default one version per period (the latest
    filed); ``all_versions`` adds restatements and the comparatives later filings repeated."""
    columns = [statements.c[name] for name in (*STATEMENT_META_COLUMNS, *_STATEMENT_EXTRAS)] + [
        statements.c[item] for item in CANONICAL_ITEMS
    ]
    if all_versions:
        statement = (
            sa.select(*columns)
            .where(statements.c.company_id == company_id)
            .order_by(
                statements.c.period_end.desc(), statements.c.filed_at.desc(), statements.c.accession.desc()
            )
        )
    else:
        rank = (
            sa.func.row_number()
            .over(
                partition_by=[statements.c.period_end, statements.c.period_type],
                order_by=(statements.c.filed_at.desc(), statements.c.accession.desc()),
            )
            .label("version_rank")
        )
        ranked = sa.select(*columns, rank).where(statements.c.company_id == company_id).subquery()
        statement = (
            sa.select(*[ranked.c[c.name] for c in columns])
            .where(ranked.c.version_rank == 1)
            .order_by(ranked.c.period_end.desc())
        )
    total = _count(warehouse, statement)
    rows = _rows(warehouse, statement.limit(limit).offset(offset))
    for row in rows:
        row["items"] = {item: row.pop(item) for item in CANONICAL_ITEMS}
        row["derived_items"] = [name for name in (row["derived_items"] or "").split(",") if name]
    return rows, total


def _feature_dict(row: Mapping[str, Any]) -> dict[str, Any]:
    """A stored feature row as served: its statement columns, its documents and Merton DD."""
    documents = feature_document(row)
    return {
        **{name: row[name] for name in ("period_end", "fiscal_year", "accession", "filed_at", "currency")},
        "ratios": documents["ratios"],
        "classic": documents["classic"],
        "period_type": row["period_type"],
        "fiscal_period": row["fiscal_period"],
        "merton_dd": documents["classic"]["merton_dd"]["value"],
        "market": documents["market"],
        "macro": documents["macro"],
        "warnings": documents["warnings"],
    }


def features_for(
    warehouse: Warehouse, company_id: str, *, limit: int = 20, offset: int = 0
) -> tuple[list[dict[str, Any]], int]:
    """A company's feature rows (model ratios and classic scores), one per statement version, newest first."""
    statement = (
        sa.select(*[features.c[name] for name in _FEATURE_COLUMNS])
        .where(features.c.company_id == company_id)
        .order_by(features.c.period_end.desc(), features.c.filed_at.desc(), features.c.accession.desc())
    )
    total = _count(warehouse, statement)
    with warehouse.engine.connect() as conn:
        rows = [_feature_dict(row) for row in conn.execute(statement.limit(limit).offset(offset)).mappings()]
    return rows, total


# --- scores ----------------------------------------------------------------------------------------------


def scoring_model_version(warehouse: Warehouse) -> str | None:
    """The model version of the newest snapshot: the default for as-of views."""
    statement = (
        sa.select(risk_scores.c.model_version)
        .where(risk_scores.c.kind == "current")
        .order_by(risk_scores.c.scored_at.desc(), risk_scores.c.as_of.desc())
        .limit(1)
    )
    row = _first(warehouse, statement)
    return row["model_version"] if row else None


def _score_view(as_of: dt.date | None, model_version: str | None, extra: Sequence[str] = ()) -> sa.Subquery:
    """One row per company: its newest current snapshot, or (with ``as_of``) its newest score on or before that
    date under ``model_version``. ``extra`` adds columns beyond the list's (the heavy JSON ones, when needed)."""
    if as_of is None:
        order = (risk_scores.c.as_of.desc(), risk_scores.c.scored_at.desc())
        where = [risk_scores.c.kind == "current"]
    else:
        snapshot_first = sa.case((risk_scores.c.kind == "current", 0), else_=1)
        order = (risk_scores.c.as_of.desc(), snapshot_first, risk_scores.c.scored_at.desc())
        where = [risk_scores.c.as_of <= as_of, risk_scores.c.model_version == (model_version or "")]
    rank = sa.func.row_number().over(partition_by=risk_scores.c.company_id, order_by=order).label("rank")
    columns = [risk_scores.c[name] for name in (*_SCORE_COLUMNS, *extra)]
    ranked = sa.select(*columns, rank).where(*where).subquery()
    return sa.select(ranked).where(ranked.c.rank == 1).subquery()


@dataclass(frozen=True)
class ScoreFilter:
    """What a page of scores is filtered and sorted by (GET /v1/scores, the CLI's `top`)."""

    grades: Sequence[str] = ()
    sector: str | None = None
    pd_min: float | None = None
    pd_max: float | None = None
    as_of: dt.date | None = None
    model_version: str | None = None
    sort: str = "-pd"


def _score_page_statement(chosen: ScoreFilter) -> sa.Select:
    view = _score_view(chosen.as_of, chosen.model_version)
    statement = sa.select(
        *[view.c[name] for name in _SCORE_COLUMNS],
        companies.c.name,
        companies.c.ticker,
        companies.c.sector,
        companies.c.country,
    ).join(companies, companies.c.company_id == view.c.company_id)
    if chosen.grades:
        statement = statement.where(view.c.grade.in_(list(chosen.grades)))
    if chosen.sector:
        statement = statement.where(companies.c.sector == chosen.sector)
    if chosen.pd_min is not None:
        statement = statement.where(view.c.pd >= chosen.pd_min)
    if chosen.pd_max is not None:
        statement = statement.where(view.c.pd <= chosen.pd_max)
    if chosen.sort not in SCORE_SORTS:
        raise ValueError(f"sort must be one of {SCORE_SORTS}")
    column = {
        "pd": view.c.pd,
        "name": companies.c.name,
        "company_id": view.c.company_id,
        "as_of": view.c.as_of,
    }[chosen.sort.lstrip("-")]
    primary = column.desc() if chosen.sort.startswith("-") else column.asc()
    return statement.order_by(primary, view.c.company_id)


def score_page(
    warehouse: Warehouse, chosen: ScoreFilter = ScoreFilter(), *, limit: int = 50, offset: int = 0
) -> tuple[list[dict[str, Any]], int, str | None]:
    """Latest (or as-of) scores with filters, sorted and paged: (page, total, model version of an as-of view)."""
    if chosen.as_of is not None and chosen.model_version is None:
        chosen = replace(chosen, model_version=scoring_model_version(warehouse))
    statement = _score_page_statement(chosen)
    total = _count(warehouse, statement)
    return _rows(warehouse, statement.limit(limit).offset(offset)), total, chosen.model_version


def latest_scores(
    warehouse: Warehouse, *, grade: str | None = None, limit: int = 50, offset: int = 0
) -> pd.DataFrame:
    """Latest snapshot per company, riskiest first, with the company's name and sector (the CLI's table)."""
    statement = (
        _score_page_statement(ScoreFilter(grades=[grade] if grade else ())).limit(limit).offset(offset)
    )
    return warehouse.query(statement)


def peer_population(warehouse: Warehouse) -> list[dict[str, Any]]:
    """Every company's newest current snapshot with its sector and the feature values the model scored (decoded):
    the population peer comparisons rank within (``core.peers``)."""
    view = _score_view(None, None, extra=("feature_values",))
    statement = (
        sa.select(
            view.c.company_id,
            view.c.pd,
            view.c.status,
            view.c.segment,
            companies.c.name,
            companies.c.sector,
            companies.c.country,
            view.c.feature_values,
        )
        .join(companies, companies.c.company_id == view.c.company_id)
        .order_by(view.c.company_id)
    )
    rows = _rows(warehouse, statement)
    for row in rows:
        row["feature_values"] = json.loads(row["feature_values"] or "{}")
    return rows


def _usable(pd: float | None, status: str | None) -> float | None:
    return None if status == "insufficient_data" else pd


def pd_changes(warehouse: Warehouse) -> list[dict]:
    """Each company's current snapshot beside the newest filing score filed before the snapshot's statement, under
    the snapshot's model version (a change across model versions would mix two scales)."""
    snapshot = _score_view(None, None)
    prior = risk_scores.alias("prior")
    prior_rank = (
        sa.func.row_number()
        .over(partition_by=prior.c.company_id, order_by=(prior.c.filed_at.desc(), prior.c.as_of.desc()))
        .label("rank")
    )
    earlier = (
        sa.select(prior.c.company_id, prior.c.filed_at, prior.c.pd, prior.c.grade, prior.c.status, prior_rank)
        .join(
            snapshot,
            sa.and_(
                snapshot.c.company_id == prior.c.company_id, snapshot.c.model_version == prior.c.model_version
            ),
        )
        .where(prior.c.kind == "period", prior.c.filed_at < snapshot.c.filed_at)
        .subquery()
    )
    previous = sa.select(earlier).where(earlier.c.rank == 1).subquery()
    statement = (
        sa.select(
            snapshot.c.company_id,
            snapshot.c.as_of,
            snapshot.c.model_version,
            snapshot.c.pd,
            snapshot.c.grade,
            snapshot.c.filed_at,
            snapshot.c.status,
            previous.c.filed_at.label("previous_filed_at"),
            previous.c.pd.label("previous_pd"),
            previous.c.grade.label("previous_grade"),
            previous.c.status.label("previous_status"),
        )
        .select_from(snapshot.outerjoin(previous, previous.c.company_id == snapshot.c.company_id))
        .order_by(snapshot.c.company_id)
    )
    with warehouse.engine.connect() as conn:
        rows = [dict(row) for row in conn.execute(statement).mappings()]
    out = []
    for row in rows:
        current = _usable(row["pd"], row["status"])
        before = _usable(row["previous_pd"], row["previous_status"])
        out.append(
            {
                "company_id": row["company_id"],
                "as_of": row["as_of"],
                "model_version": row["model_version"],
                "pd": current,
                "grade": row["grade"] if current is not None else None,
                "filed_at": row["filed_at"],
                "previous_filed_at": row["previous_filed_at"],
                "previous_pd": before,
                "previous_grade": row["previous_grade"] if before is not None else None,
                "pd_change": current - before if current is not None and before is not None else None,
            }
        )
    return out


def company_history(
    warehouse: Warehouse, company_id: str, *, model_version: str | None = None, kind: str = "period"
) -> list[dict[str, Any]]:
    """A company's scores of one kind (all model versions unless one is given), oldest first."""
    statement = (
        sa.select(*[risk_scores.c[name] for name in _SCORE_COLUMNS])
        .where(risk_scores.c.company_id == company_id, risk_scores.c.kind == kind)
        .order_by(risk_scores.c.as_of, risk_scores.c.model_version)
    )
    if model_version is not None:
        statement = statement.where(risk_scores.c.model_version == model_version)
    return _rows(warehouse, statement)


def score_detail(
    warehouse: Warehouse,
    company_id: str,
    as_of: dt.date,
    *,
    model_version: str | None = None,
    kind: str | None = None,
) -> dict[str, Any] | None:
    """One score with its drivers and feature values. Without ``model_version``/``kind``: the most recently
    scored row for that date, a filing score before a snapshot. ``feature_values`` is None for an older filing
    score, which keeps only their ``feature_digest`` (filing_feature_values reads them)."""
    statement = (
        sa.select(
            *[risk_scores.c[name] for name in _SCORE_COLUMNS],
            risk_scores.c.log_odds,
            risk_scores.c.model_pd,
            risk_scores.c.drivers,
            risk_scores.c.feature_values,
            risk_scores.c.feature_digest,
            risk_scores.c.code_version,
        )
        .where(risk_scores.c.company_id == company_id, risk_scores.c.as_of == as_of)
        .order_by(sa.case((risk_scores.c.kind == "period", 0), else_=1), risk_scores.c.scored_at.desc())
        .limit(1)
    )
    if model_version is not None:
        statement = statement.where(risk_scores.c.model_version == model_version)
    if kind is not None:
        statement = statement.where(risk_scores.c.kind == kind)
    row = _first(warehouse, statement)
    if row is None:
        return None
    row["drivers"] = json.loads(row["drivers"])
    if row["feature_values"] is not None:
        row["feature_values"] = json.loads(row["feature_values"])
    return row


def filing_feature_values(
    warehouse: Warehouse, company_id: str, period_end: dt.date, accession: str, names: Sequence[str]
) -> dict[str, float | None] | None:
    """The values of ``names`` in a filing's features row (None where unknown), or None when the row is gone:
    what an older filing score was predicted from, if its digest still matches (core.fingerprint.value_digests)."""
    available = [features.c[name] for name in names if name in features.c]
    statement = sa.select(*available).where(
        features.c.company_id == company_id,
        features.c.period_end == period_end,
        features.c.accession == accession,
    )
    row = _first(warehouse, statement)
    if row is None:
        return None
    return {name: None if (value := row.get(name)) is None else float(value) for name in names}


def _grades_at(warehouse: Warehouse, as_of: dt.date, model_version: str) -> dict[str, str]:
    view = _score_view(as_of, model_version)
    return {
        row["company_id"]: row["grade"]
        for row in _rows(warehouse, sa.select(view.c.company_id, view.c.grade))
    }


def grade_migration(
    warehouse: Warehouse, from_date: dt.date, to_date: dt.date, *, model_version: str | None = None
) -> dict[str, Any]:
    """Counts of companies by (grade as of ``from_date``, grade as of ``to_date``) under one model version.
    ``matrix[i][j]`` counts moves from GRADE_LABELS[i] to GRADE_LABELS[j]."""
    version = model_version or scoring_model_version(warehouse)
    before = _grades_at(warehouse, from_date, version or "")
    after = _grades_at(warehouse, to_date, version or "")
    index = {label: i for i, label in enumerate(GRADE_LABELS)}
    matrix = [[0] * len(GRADE_LABELS) for _ in GRADE_LABELS]
    for company_id, grade in before.items():
        if company_id in after:
            matrix[index[grade]][index[after[company_id]]] += 1
    both = set(before) & set(after)
    return {
        "model_version": version,
        "grades": list(GRADE_LABELS),
        "matrix": matrix,
        "companies": len(both),
        "upgrades": sum(1 for c in both if index[after[c]] < index[before[c]]),
        "downgrades": sum(1 for c in both if index[after[c]] > index[before[c]]),
        "unchanged": sum(1 for c in both if after[c] == before[c]),
        "only_at_from": len(set(before) - set(after)),
        "only_at_to": len(set(after) - set(before)),
    }


def portfolio_summary(
    warehouse: Warehouse, *, as_of: dt.date | None = None, model_version: str | None = None
) -> dict[str, Any]:
    """Count and mean PD of the latest (or as-of) scores, overall, by grade and by sector."""
    if as_of is not None and model_version is None:
        model_version = scoring_model_version(warehouse)
    view = _score_view(as_of, model_version)
    statement = sa.select(view.c.pd, view.c.grade, view.c.model_version, companies.c.sector).join(
        companies, companies.c.company_id == view.c.company_id
    )
    rows = _rows(warehouse, statement)

    def group(key: str, order: Sequence[str] | None = None) -> list[dict[str, Any]]:
        buckets: dict[str, list[float]] = {}
        for row in rows:
            buckets.setdefault(row[key] or "Unknown", []).append(float(row["pd"]))
        names = [name for name in order if name in buckets] if order else sorted(buckets)
        return [
            {key: name, "count": len(buckets[name]), "mean_pd": sum(buckets[name]) / len(buckets[name])}
            for name in names
        ]

    return {
        "as_of": as_of,
        "model_versions": sorted({row["model_version"] for row in rows}),
        "count": len(rows),
        "mean_pd": sum(float(r["pd"]) for r in rows) / len(rows) if rows else None,
        "by_grade": group("grade", GRADE_LABELS),
        "by_sector": group("sector"),
    }


# --- alerts ----------------------------------------------------------------------------------------------


def list_alerts(
    warehouse: Warehouse,
    *,
    since: dt.date | None = None,
    kind: AlertKind | None = None,
    acknowledged: bool | None = None,
    company_id: str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> tuple[list[dict[str, Any]], int]:
    """Alerts with as_of on or after ``since``, newest first."""
    statement = sa.select(risk_alerts, companies.c.name).join(
        companies, companies.c.company_id == risk_alerts.c.company_id
    )
    if since is not None:
        statement = statement.where(risk_alerts.c.as_of >= since)
    if kind == "downgrade":
        statement = statement.where(risk_alerts.c.reasons.like("%downgrade%"))
    elif kind == "pd_jump":
        statement = statement.where(risk_alerts.c.reasons.like("%pd\\_jump%", escape="\\"))
    if acknowledged is not None:
        is_acknowledged = risk_alerts.c.acknowledged_at.is_not(None)
        statement = statement.where(is_acknowledged if acknowledged else sa.not_(is_acknowledged))
    if company_id is not None:
        statement = statement.where(risk_alerts.c.company_id == company_id)
    statement = statement.order_by(
        risk_alerts.c.as_of.desc(), risk_alerts.c.company_id, risk_alerts.c.model_version
    )
    total = _count(warehouse, statement)
    return _rows(warehouse, statement.limit(limit).offset(offset)), total


def _alert_key(company_id: str, as_of: dt.date, model_version: str) -> list[Any]:
    return [
        risk_alerts.c.company_id == company_id,
        risk_alerts.c.as_of == as_of,
        risk_alerts.c.model_version == model_version,
    ]


def get_alert(
    warehouse: Warehouse, company_id: str, as_of: dt.date, model_version: str
) -> dict[str, Any] | None:
    statement = (
        sa.select(risk_alerts, companies.c.name)
        .join(companies, companies.c.company_id == risk_alerts.c.company_id)
        .where(*_alert_key(company_id, as_of, model_version))
    )
    return _first(warehouse, statement)


def acknowledge_alert(
    warehouse: Warehouse,
    company_id: str,
    as_of: dt.date,
    model_version: str,
    *,
    by: str,
    note: str | None = None,
) -> Literal["acknowledged", "already", "missing"]:
    """Mark an alert acknowledged by ``by`` and write the audit row, in one transaction. Only the first
    acknowledgement counts: a second one changes nothing and returns "already"."""
    now = utc_now()
    with warehouse.transaction() as conn:
        result = conn.execute(
            sa.update(risk_alerts)
            .where(*_alert_key(company_id, as_of, model_version), risk_alerts.c.acknowledged_at.is_(None))
            .values(acknowledged_at=now, acknowledged_by=by[:80])
        )
        if result.rowcount == 0:
            return "already" if _alert_exists(conn, company_id, as_of, model_version) else "missing"
        record_audit(
            conn,
            actor=by,
            action="acknowledge_alert",
            target=f"{company_id}/{as_of.isoformat()}/{model_version}",
            detail=note,
        )
    return "acknowledged"


def _alert_exists(conn: Connection, company_id: str, as_of: dt.date, model_version: str) -> bool:
    found = conn.execute(
        sa.select(risk_alerts.c.company_id).where(*_alert_key(company_id, as_of, model_version))
    )
    return found.first() is not None
