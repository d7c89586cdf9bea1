"""Converting filing currencies to US dollars for the one feature that needs a common unit: size.

Ratios are unit-free; size (log real total assets, log real market value) is not, and a KRW filer's assets are a
thousand times its USD amount. Only size uses these rates, where a 1% error in the rate moves log size by 0.01.

``KRW_PER_USD``: annual averages of the Korean won per US dollar (FRED series AEXKOUS, the Federal Reserve's
H.10 rate, annual average of daily figures), rounded to the won. Transcribed for the bundled years; a year after
the table carries the last value forward, and the note says so.
"""

from __future__ import annotations

import numpy as np

KRW_PER_USD: dict[int, float] = {
    1999: 1190,
    2000: 1131,
    2001: 1292,
    2002: 1250,
    2003: 1192,
    2004: 1145,
    2005: 1024,
    2006: 954,
    2007: 928,
    2008: 1099,
    2009: 1275,
    2010: 1156,
    2011: 1107,
    2012: 1126,
    2013: 1095,
    2014: 1052,
    2015: 1131,
    2016: 1159,
    2017: 1129,
    2018: 1099,
    2019: 1165,
    2020: 1179,
    2021: 1144,
    2022: 1291,
    2023: 1305,
    2024: 1363,
}


def usd_per_unit(currency: str | None, year: int) -> float | None:
    """US dollars per unit of ``currency`` in ``year``; None for a currency without a bundled rate."""
    if currency == "USD":
        return 1.0
    if currency == "KRW":
        known = max(y for y in KRW_PER_USD if y <= year) if year >= min(KRW_PER_USD) else min(KRW_PER_USD)
        return 1.0 / KRW_PER_USD[known]
    return None


def usd_per_unit_column(currencies: np.ndarray, years: np.ndarray) -> np.ndarray:
    """``usd_per_unit`` over columns of currencies and fiscal years, vectorised (NaN where unknown)."""
    currencies = np.asarray(currencies, dtype=object)
    years = np.asarray(years, dtype=float)
    out = np.where(currencies == "USD", 1.0, np.nan)
    table_years = np.array(sorted(KRW_PER_USD), dtype=float)
    rates = np.array([KRW_PER_USD[int(y)] for y in table_years])
    krw = (currencies == "KRW") & ~np.isnan(years)
    position = np.clip(np.searchsorted(table_years, years[krw], side="right") - 1, 0, len(table_years) - 1)
    out[krw] = 1.0 / rates[position]
    return out
