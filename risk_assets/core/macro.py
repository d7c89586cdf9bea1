"""Macro indicators: which series feed which feature, and their values as known at a date.

Every stored observation carries ``released_at``: the day it became public (FRED/ALFRED first release,
``output_type=4``), or the observation date plus a configured publication lag where the source gives no
release date (a default FRED request stamps everything with today's ``realtime_start``; ECOS has none). A
value is visible at t only when ``released_at <= t``: the GDP of 2024-04-01 (first released 2024-07-25) is
invisible on 2024-07-24.

Roles (one feature each, per country): ``policy_rate``, ``govt_10y`` (10-year government yield),
``credit_spread``, ``gdp_growth`` and ``cpi_inflation``, in percent. ``transform`` "level" takes the latest
visible value; "yoy" the percent change against the observation a year earlier (both visible at t);
``minus`` subtracts a second series of the same source observed on the same date (a spread).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

ROLES: tuple[str, ...] = ("policy_rate", "govt_10y", "credit_spread", "gdp_growth", "cpi_inflation")
#: What MacroBook.value_as_of tells about a role's value, each a column of MacroBook.feature_frame.
MACRO_FIELDS: tuple[str, ...] = ("value", "series", "observation_date", "released_at")
FIRST_RELEASE = "first_release"
#: A value is too stale to stand for "now" when its observation date is more than the series' usual spacing
#: (a quarter for GDP, a week for WGS10YR) plus this many days before t: a feed that stopped is not "now".
STALE_AFTER_DAYS = 120


@dataclass(frozen=True)
class MacroSeries:
    """One configured series. ``publication_lag_days`` None = FRED first releases (ALFRED vintages)."""

    country: str  # "US" | "KR"
    role: str
    source: str  # "fred" | "ecos"
    series_id: str  # FRED id, or ECOS "STAT_CODE/ITEM_CODE1"
    transform: str = "level"  # "level" | "yoy"
    publication_lag_days: int | None = None
    cycle: str = ""  # ECOS cycle: D, M, Q, A
    minus: str = ""  # a second series id of the same source, subtracted (spreads)
    note: str = ""

    def __post_init__(self) -> None:
        if self.role not in ROLES:
            raise ValueError(f"unknown macro role {self.role!r}; one of {ROLES}")
        if self.transform not in ("level", "yoy"):
            raise ValueError(f"transform must be 'level' or 'yoy', got {self.transform!r}")
        if self.source not in ("fred", "ecos"):
            raise ValueError(f"source must be 'fred' or 'ecos', got {self.source!r}")
        if self.source == "ecos" and (self.publication_lag_days is None or not self.cycle):
            raise ValueError(f"ECOS {self.series_id}: needs a cycle and a publication lag (no release dates)")

    @property
    def series_ids(self) -> tuple[str, ...]:
        return (self.series_id, self.minus) if self.minus else (self.series_id,)


#: The default list (override with the `macro_series` resource). FRED rates get a publication lag (they are
#: not revised); GDP uses first releases. ECOS codes are from client libraries and OpenDART-style notes,
#: **unverified here** (no ECOS recording exists): check them against ECOS's StatisticItemList before relying
#: on the KR features.
DEFAULT_SERIES: tuple[MacroSeries, ...] = (
    MacroSeries("US", "policy_rate", "fred", "FEDFUNDS", "level", 35, note="effective fed funds, monthly"),
    MacroSeries("US", "govt_10y", "fred", "WGS10YR", "level", 7, note="10-year Treasury, weekly (Friday)"),
    MacroSeries("US", "credit_spread", "fred", "BAA10Y", "level", 1, note="Moody's Baa - 10-year Treasury"),
    MacroSeries("US", "gdp_growth", "fred", "GDP", "yoy", None, note="nominal GDP, first releases"),
    MacroSeries("US", "cpi_inflation", "fred", "CPILFESL", "yoy", 45, note="core CPI, monthly"),
    MacroSeries("KR", "policy_rate", "ecos", "722Y001/0101000", "level", 31, cycle="M", note="BOK base rate"),
    MacroSeries("KR", "govt_10y", "ecos", "817Y002/010210000", "level", 1, cycle="D", note="KTB 10y"),
    MacroSeries(
        "KR",
        "credit_spread",
        "ecos",
        "817Y002/010300000",
        "level",
        1,
        cycle="D",
        minus="817Y002/010200000",
        note="corporate AA- 3y - KTB 3y",
    ),
    MacroSeries("KR", "cpi_inflation", "ecos", "901Y009/0", "yoy", 35, cycle="M", note="CPI, all items"),
)


def parse_series_spec(text: str) -> MacroSeries:
    """``COUNTRY:role:source:series_id:transform:lag[:cycle[:minus]]``; lag ``first_release`` or days."""
    parts = [p.strip() for p in text.split(":")]
    if len(parts) < 6:
        raise ValueError(f"macro series spec {text!r}: need COUNTRY:role:source:series_id:transform:lag")
    country, role, source, series_id, transform, lag = parts[:6]
    cycle = parts[6] if len(parts) > 6 else ""
    minus = parts[7] if len(parts) > 7 else ""
    return MacroSeries(
        country.upper(),
        role,
        source,
        series_id,
        transform,
        None if lag == FIRST_RELEASE else int(lag),
        cycle,
        minus,
    )


class _Series:
    """One series' observations as arrays sorted by (observation date, release date): fast as-of lookups."""

    def __init__(self, rows: pd.DataFrame):
        rows = rows[rows["value"].notna() & rows["released_at"].notna()]
        obs = pd.to_datetime(rows["observation_date"]).to_numpy(dtype="datetime64[D]")
        rel = pd.to_datetime(rows["released_at"]).to_numpy(dtype="datetime64[D]")
        order = np.lexsort((rel, obs))
        self.obs, self.rel = obs[order], rel[order]
        self.val = pd.to_numeric(rows["value"]).to_numpy(dtype=float)[order]
        unique = np.unique(self.obs)
        self.spacing_days = int(np.median(np.diff(unique).astype(int))) if unique.size > 1 else 31

    def known(self, as_of: dt.date) -> np.ndarray:
        """Indices of the latest vintage of each observation visible at ``as_of``, by observation date."""
        cutoff = np.datetime64(as_of, "D")
        idx = np.flatnonzero((self.rel <= cutoff) & (self.obs <= cutoff))
        if idx.size == 0:
            return idx
        obs = self.obs[idx]
        last_of_date = np.append(obs[1:] != obs[:-1], True)
        return idx[last_of_date]


class MacroBook:
    """The indicators table, indexed for point-in-time lookups of configured series."""

    def __init__(self, indicators: pd.DataFrame):
        self._series: dict[tuple[str, str], _Series] = {}
        # features() per (specs, country, date): filings cluster on a few thousand dates, rows number millions
        self._known: dict[tuple, dict[str, dict[str, Any] | None]] = {}
        if not indicators.empty:
            for (source, series_id), rows in indicators.groupby(["source", "series_id"]):
                self._series[(str(source), str(series_id))] = _Series(rows)

    def value_as_of(self, spec: MacroSeries, as_of: dt.date) -> dict[str, Any] | None:
        """{value, series, observation_date, released_at} of one configured series as known at ``as_of``."""
        main = self._series.get((spec.source, spec.series_id))
        if main is None:
            return None
        known = main.known(as_of)
        if known.size == 0:
            return None
        last = known[-1]
        observed, released = main.obs[last], main.rel[last]
        if spec.minus:
            other = self._series.get((spec.source, spec.minus))
            if other is None:
                return None
            other_known = other.known(as_of)
            common = np.intersect1d(main.obs[known], other.obs[other_known])
            if common.size == 0:
                return None
            observed = common[-1]
            i = known[np.searchsorted(main.obs[known], observed)]
            j = other_known[np.searchsorted(other.obs[other_known], observed)]
            value = float(main.val[i] - other.val[j])
            released = max(main.rel[i], other.rel[j])
        elif spec.transform == "yoy":
            target = (pd.Timestamp(observed) - pd.DateOffset(years=1)).to_datetime64().astype("datetime64[D]")
            dates = main.obs[known]
            position = int(np.argmin(np.abs((dates - target).astype(int))))
            base = known[position]
            if abs(int((dates[position] - target).astype(int))) > 3 or main.val[base] == 0:
                return None
            value = (float(main.val[last]) / float(main.val[base]) - 1.0) * 100.0
            released = max(main.rel[last], main.rel[base])
        else:
            value = float(main.val[last])
        observed_date = pd.Timestamp(observed).date()
        if (as_of - observed_date).days > main.spacing_days + STALE_AFTER_DAYS:
            return None
        name = f"{spec.source}:{spec.series_id}" + (f"-{spec.minus}" if spec.minus else "")
        return {
            "value": value,
            "series": name,
            "observation_date": observed_date.isoformat(),
            "released_at": pd.Timestamp(released).date().isoformat(),
        }

    def features(
        self, specs: Iterable[MacroSeries], country: str, as_of: dt.date
    ) -> dict[str, dict[str, Any] | None]:
        """Every role's value for a company of ``country`` as known at ``as_of`` (None where unknown).

        Answers are remembered per (specs, country, as_of); each call returns its own copy of the mapping."""
        specs = tuple(specs)
        key = (specs, country, as_of)
        out = self._known.get(key)
        if out is None:
            out = {role: None for role in ROLES}
            for spec in specs:
                if spec.country == country and out.get(spec.role) is None:
                    out[spec.role] = self.value_as_of(spec, as_of)
            self._known[key] = out
        return {role: None if value is None else dict(value) for role, value in out.items()}

    def feature_frame(
        self, specs: Iterable[MacroSeries], countries: Sequence[str], as_of: Sequence[dt.date]
    ) -> pd.DataFrame:
        """features() for many (country, as_of) pairs, one lookup per distinct pair (filings cluster on a few
        thousand dates): a column per role and field of MACRO_FIELDS (``macro_column``), in the pairs' order.
        Values are floats (NaN where unknown), dates are ``datetime.date`` (None where unknown)."""
        specs = tuple(specs)
        if len(countries) != len(as_of):
            raise ValueError(f"feature_frame: {len(countries)} countries for {len(as_of)} dates")
        by_country, country_of = pd.factorize(np.asarray(countries, dtype=object), use_na_sentinel=False)
        by_day, day_of = pd.factorize(np.asarray(as_of, dtype=object), use_na_sentinel=False)
        pair, codes = np.unique(by_country * len(day_of) + by_day, return_inverse=True)
        distinct = [(country_of[p // len(day_of)], day_of[p % len(day_of)]) for p in pair.tolist()]
        answers = [self.features(specs, country, day) for country, day in distinct]
        columns: dict[str, np.ndarray] = {}
        for role in ROLES:
            found = [answer[role] or {} for answer in answers]
            columns[macro_column(role, "value")] = np.array(
                [f.get("value", np.nan) for f in found], dtype=float
            )[codes]
            columns[macro_column(role, "series")] = np.array([f.get("series") for f in found], dtype=object)[
                codes
            ]
            for field in ("observation_date", "released_at"):
                days = [dt.date.fromisoformat(f[field]) if f.get(field) else None for f in found]
                columns[macro_column(role, field)] = np.array(days, dtype=object)[codes]
        return pd.DataFrame(columns)


def macro_column(role: str, field: str) -> str:
    """The column of a role's field in feature_frame (and in the warehouse's features table)."""
    if role not in ROLES or field not in MACRO_FIELDS:
        raise ValueError(f"no macro column for role {role!r}, field {field!r}")
    suffix = {"value": "", "series": "_series", "observation_date": "_observed", "released_at": "_released"}
    return f"macro_{role}{suffix[field]}"


def risk_free_rate(features: Mapping[str, Mapping[str, Any] | None]) -> Mapping[str, Any] | None:
    """The risk-free rate for Merton: the policy rate, else the 10-year government yield (percent)."""
    return features.get("policy_rate") or features.get("govt_10y")
