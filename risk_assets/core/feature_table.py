"""The warehouse's features table, column by column. The names and types are set here once: the schema
(storage/schema.py) declares them, build_features writes them, and the readers (the scoring asset, the API's
queries, bench/scale.py) read them and, where a client expects the documents the table used to hold as JSON,
rebuild those documents with ``feature_document``.

A feature row is typed columns, not a JSON text per row (issue 11): a whole market is written and read as
numbers, the models read their features by name, and SQL can filter on any of them.

- Ratios: one float column per MODEL_RATIOS and FIELD_FEATURES name, named as the feature. ``equity_volatility``
  and ``merton_dd`` are also the market inputs of that name (build_features gives both the same value).
- Classic scores (core.classic.CLASSIC_SCORES): a float column per score, ``<score>_reason`` (why it is null)
  and, for Altman's two, ``<score>_zone``. A probability is null for the reason of its score, so it has no
  reason column of its own. Merton DD: ``merton_dd`` and ``merton_dd_reason``.
- Market inputs at the balance-sheet date (MARKET_FIELDS of market_features, then where the market value came
  from): ``market_<field>``, or the field's own name when it already says market (``market_value_equity``,
  ``market_value_source``) or is a feature (``equity_volatility``, ``merton_dd``).
- Macro values: four columns per role of core.macro.ROLES (value, series, observation and release dates; see
  core.macro.macro_column). The roles are fixed in code while the series behind them are deployment-configured
  (the MacroSeriesResource specs): a row holds at most one value per role (MacroBook.features takes the first
  configured series of the company's country that has one) and names that series beside it, so one set of
  columns per role fits every configuration, and a new series needs no schema change. A narrow table (row,
  series, value) would only be needed to keep several series per role, which no feature does.
- Warning flags (core.early_warning.WARNING_FLAGS), named as the flag: integer counts and 0/1 flags (integers,
  not booleans, so the documents keep the 0/1 they always had; null where the flag is unknown) and the date of
  the newest signal.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pandas as pd

from risk_assets.core.classic import CLASSIC_SCORES, ZONED_SCORES
from risk_assets.core.early_warning import WARNING_FLAGS
from risk_assets.core.field_features import FIELD_FEATURES
from risk_assets.core.macro import MACRO_FIELDS, ROLES, macro_column
from risk_assets.core.ratios import MODEL_RATIOS

#: Longest reason text: the scores' own reasons name at most every input (~150 characters); Merton DD's is the
#: market_features reason (at most 400).
REASON_LENGTH = 400


@dataclass(frozen=True)
class FeatureColumn:
    """One column: ``kind`` is "float", "int", "date" or "text" (then ``length`` characters at most)."""

    name: str
    kind: str
    length: int = 0


#: The model's features, in the order the documents list them (the Polish ratios, then the field's).
RATIO_COLUMNS: tuple[str, ...] = tuple(dict.fromkeys((*MODEL_RATIOS, *FIELD_FEATURES)))

#: The classic scores of a feature row: the statement-based ones, then Merton DD (from prices).
CLASSIC_NAMES: tuple[str, ...] = (*CLASSIC_SCORES, "merton_dd")
#: Score -> the column of its reason (a probability shares its score's).
CLASSIC_REASON: dict[str, str] = {
    "altman_z": "altman_z_reason",
    "altman_z_double_prime": "altman_z_double_prime_reason",
    "ohlson_o": "ohlson_o_reason",
    "ohlson_probability": "ohlson_o_reason",
    "zmijewski": "zmijewski_reason",
    "zmijewski_probability": "zmijewski_reason",
    "merton_dd": "merton_dd_reason",
}
CLASSIC_ZONE: dict[str, str] = {name: f"{name}_zone" for name in ZONED_SCORES}

#: market_features fields a feature row carries, with their column and kind.
MARKET_COLUMNS: dict[str, FeatureColumn] = {
    "symbol": FeatureColumn("market_symbol", "text", 24),
    "price_date": FeatureColumn("market_price_date", "date"),
    "close": FeatureColumn("market_close", "float"),
    "shares_outstanding": FeatureColumn("market_shares_outstanding", "float"),
    "market_value_equity": FeatureColumn("market_value_equity", "float"),
    "equity_volatility": FeatureColumn("equity_volatility", "float"),
    "n_returns": FeatureColumn("market_n_returns", "int"),
    "debt_face": FeatureColumn("market_debt_face", "float"),
    "risk_free_rate": FeatureColumn("market_risk_free_rate", "float"),
    "risk_free_series": FeatureColumn("market_risk_free_series", "text", 64),
    "risk_free_released_at": FeatureColumn("market_risk_free_released_at", "date"),
    "merton_dd": FeatureColumn("merton_dd", "float"),
    "merton_pd": FeatureColumn("market_merton_pd", "float"),
    "merton_method": FeatureColumn("market_merton_method", "text", 32),
    "reason": FeatureColumn("market_reason", "text", REASON_LENGTH),
    "market_value_source": FeatureColumn("market_value_source", "text", 200),
}
#: The market_features columns among them (the last field is the feature row's own).
MARKET_FIELDS: tuple[str, ...] = tuple(field for field in MARKET_COLUMNS if field != "market_value_source")

#: Macro role field -> kind (the series name is source:id, or source:id-id for a spread).
_MACRO_KINDS = {
    "value": ("float", 0),
    "series": ("text", 160),
    "observation_date": ("date", 0),
    "released_at": ("date", 0),
}
MACRO_COLUMNS: dict[tuple[str, str], FeatureColumn] = {
    (role, field): FeatureColumn(macro_column(role, field), *_MACRO_KINDS[field])
    for role in ROLES
    for field in MACRO_FIELDS
}

WARNING_COLUMNS: dict[str, FeatureColumn] = {
    flag: FeatureColumn(flag, "date" if flag == "latest_signal_date" else "int") for flag in WARNING_FLAGS
}


def _columns() -> tuple[FeatureColumn, ...]:
    out = [FeatureColumn(name, "float") for name in RATIO_COLUMNS]
    for name in CLASSIC_NAMES:
        out.append(FeatureColumn(name, "float"))
        if CLASSIC_REASON[name] == f"{name}_reason":
            out.append(FeatureColumn(CLASSIC_REASON[name], "text", REASON_LENGTH))
        if name in CLASSIC_ZONE:
            out.append(FeatureColumn(CLASSIC_ZONE[name], "text", 8))
    out += [*MARKET_COLUMNS.values(), *MACRO_COLUMNS.values(), *WARNING_COLUMNS.values()]
    unique: dict[str, FeatureColumn] = {}
    for column in out:
        if unique.setdefault(column.name, column) != column:
            raise ValueError(f"features column {column.name} is declared twice with different types")
    return tuple(unique.values())


#: Every typed column of the features table beside its key and statement columns, each once.
FEATURE_COLUMNS: tuple[FeatureColumn, ...] = _columns()
FEATURE_COLUMN_NAMES: tuple[str, ...] = tuple(column.name for column in FEATURE_COLUMNS)


# --- reading --------------------------------------------------------------------------------------------------


def _number(value: Any) -> float | None:
    if value is None or value is pd.NA:
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def _integer(value: Any) -> int | None:
    return (
        None
        if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value))
        else int(value)
    )


def _iso(value: Any) -> str | None:
    """A stored date as ISO text (SQLite and MySQL give dates; a frame may hold Timestamps or text)."""
    if value is None or value is pd.NA or value is pd.NaT or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, dt.datetime):
        return value.date().isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)[:10]


def _text(value: Any) -> str | None:
    return (
        None if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)) else value
    )


_READ = {"float": _number, "int": _integer, "date": _iso, "text": _text}


def _value(row: Mapping[str, Any], column: FeatureColumn) -> Any:
    return _READ[column.kind](row.get(column.name))


def warning_flags_of(row: Mapping[str, Any]) -> dict[str, Any]:
    """The warning flags of one stored row as core.early_warning.warning_flags gives them."""
    return {flag: _value(row, column) for flag, column in WARNING_COLUMNS.items()}


def feature_document(row: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """The documents of one stored feature row (column -> value): ``ratios`` (feature -> number), ``classic``
    (score -> value, reason, zone), ``market`` (field -> value, dates as ISO text), ``macro`` (role -> value,
    series, observation_date, released_at, or None) and ``warnings`` (flag -> value): what the table held as JSON
    before its columns were typed, and what the API serves."""
    classic = {
        name: {
            "value": _number(row.get(name)),
            "reason": _text(row.get(CLASSIC_REASON[name])),
            "zone": _text(row.get(CLASSIC_ZONE[name])) if name in CLASSIC_ZONE else None,
        }
        for name in CLASSIC_NAMES
    }
    macro = {}
    for role in ROLES:
        series = _value(row, MACRO_COLUMNS[(role, "series")])
        macro[role] = (
            None
            if series is None
            else {field: _value(row, MACRO_COLUMNS[(role, field)]) for field in MACRO_FIELDS}
        )
    return {
        "ratios": {name: _number(row.get(name)) for name in RATIO_COLUMNS},
        "classic": classic,
        "market": {field: _value(row, column) for field, column in MARKET_COLUMNS.items()},
        "macro": macro,
        "warnings": warning_flags_of(row),
    }


def ratio_frame(features: pd.DataFrame) -> pd.DataFrame:
    """The model features of stored feature rows as floats (NaN where unknown), one column per RATIO_COLUMNS name."""
    return features.reindex(columns=list(RATIO_COLUMNS)).astype(float)


def warning_flag_records(features: pd.DataFrame) -> list[dict[str, Any]]:
    """warning_flags_of for each stored feature row (empty mappings when the frame has no warning columns)."""
    names = [column.name for column in WARNING_COLUMNS.values()]
    if not set(names) <= set(features.columns):
        return [{} for _ in range(len(features))]
    return [warning_flags_of(row) for row in features[names].to_dict("records")]
