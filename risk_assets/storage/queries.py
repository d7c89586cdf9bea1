"""Read queries shared by the API and the CLI (parameterised SQLAlchemy Core, never string-built SQL)."""

from __future__ import annotations

import pandas as pd
import sqlalchemy as sa

from risk_assets.storage.schema import companies, risk_scores
from risk_assets.storage.warehouse import Warehouse


def _latest_current_subquery() -> sa.Subquery:
    """One row per company: its most recent current snapshot (latest as_of, then latest scoring)."""
    rank = (
        sa.func.row_number()
        .over(
            partition_by=risk_scores.c.company_id,
            order_by=(risk_scores.c.as_of.desc(), risk_scores.c.scored_at.desc()),
        )
        .label("rank")
    )
    ranked = sa.select(risk_scores, rank).where(risk_scores.c.kind == "current").subquery()
    return sa.select(ranked).where(ranked.c.rank == 1).subquery()


def latest_scores(
    warehouse: Warehouse,
    *,
    grade: str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> pd.DataFrame:
    """Latest snapshot per company, riskiest first, joined with the company's name and sector."""
    latest = _latest_current_subquery()
    statement = (
        sa.select(latest, companies.c.name, companies.c.ticker, companies.c.sector, companies.c.country)
        .join(companies, companies.c.company_id == latest.c.company_id)
        .order_by(latest.c.pd.desc(), latest.c.company_id)
        .limit(limit)
        .offset(offset)
    )
    if grade is not None:
        statement = statement.where(latest.c.grade == grade)
    return warehouse.query(statement)


def company_history(warehouse: Warehouse, company_id: str) -> pd.DataFrame:
    """Every filing score of a company (all model versions), oldest first."""
    statement = (
        sa.select(risk_scores)
        .where(risk_scores.c.company_id == company_id, risk_scores.c.kind == "period")
        .order_by(risk_scores.c.as_of, risk_scores.c.model_version)
    )
    return warehouse.query(statement)


def list_companies(warehouse: Warehouse, *, limit: int = 100, offset: int = 0) -> pd.DataFrame:
    statement = sa.select(companies).order_by(companies.c.company_id).limit(limit).offset(offset)
    return warehouse.query(statement)


def get_company(warehouse: Warehouse, company_id: str) -> dict | None:
    frame = warehouse.query(sa.select(companies).where(companies.c.company_id == company_id))
    return None if frame.empty else frame.iloc[0].to_dict()
