"""OpenDART ``fnlttSinglAcntAll`` -> canonical statement rows (same columns as the SEC normaliser).

One response is one filing (``rcept_no``), so each period it shows is one version known at that filing's
date: the current year (``thstrm_*``), the prior year (``frmtrm_*``) and, in an annual report, the year
before that (``bfefrmtrm_*``, kept only when it has a balance sheet). The response has no filing date:
``filed_at`` is ``rcept_no[:8]``.

Annual reports only (``reprt_code`` 11011). Quarterly and half-year reports give 3-month and cumulative
flows that must become trailing-twelve-month figures first: core/ttm.py reads them (``dart_interim_report``)
and combines them with the prior annual report; here they raise ValueError.

Keys of a row may be absent, null or "" (the recorded Samsung response has all three): all mean unknown.
"""

from __future__ import annotations

import datetime as dt
import re
from calendar import monthrange
from collections.abc import Callable

import pandas as pd

from risk_assets.core.canonical import ISSUES_COLUMN
from risk_assets.core.concepts import (
    DART_CONCEPTS,
    DART_HELPER_CONCEPTS,
    DART_NAME_PREFIX,
    DART_NONSTANDARD_ACCOUNT_ID,
    DartConcept,
    resolve_items,
)
from risk_assets.core.sec_statements import apply_derivations, fiscal_year_of, to_statement_frame

SOURCE = "dart_fnltt"
ANNUAL_REPORT = "11011"
QUARTERLY_REPORTS = {"11013": "Q1", "11012": "half-year", "11014": "Q3"}
#: OpenDART status for "no data": an empty result, not a failure.
STATUS_OK, STATUS_NO_DATA = "000", "013"

#: (amount field prefix, years before bsns_year)
_PERIODS = (("thstrm", 0), ("frmtrm", 1), ("bfefrmtrm", 2))

_NOTE_MARKS = re.compile(r"\([^)]*\)|\[[^\]]*\]|\s+")


def normalize_account_name(name: str) -> str:
    """account_nm without spaces and bracketed notes: "장기차입금 (주27)" and "장기차입금" compare equal."""
    return _NOTE_MARKS.sub("", name or "")


def parse_amount(text: object) -> float | None:
    """A DART amount string ("455905980000000", "-477617000000", "195,936,557,000,000") or None."""
    if text is None:
        return None
    if isinstance(text, int | float):
        return float(text)
    cleaned = str(text).replace(",", "").strip()
    if cleaned in ("", "-"):
        return None
    try:
        return float(cleaned)
    except ValueError:
        return None


def _unusable_amounts(rows: list[dict]) -> list[str]:
    """Amount fields holding text that is not a number (the filing is then rejected, with these reasons)."""
    problems = []
    for row in rows:
        for key, value in row.items():
            unusable = not _blank(value) and str(value).strip() != "-" and parse_amount(value) is None
            if key.endswith("_amount") and unusable:
                problems.append(f"{row.get('account_id')} {key} = {str(value)[:40]!r} is not a number")
    return problems


def _blank(value: object) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _first(rows: list[dict], key: str) -> str | None:
    for row in rows:
        if not _blank(row.get(key)):
            return str(row[key]).strip()
    return None


def _period_end(year: int, month: int) -> dt.date:
    return dt.date(year, month, monthrange(year, month)[1])


class _Statement:
    """Rows of one response, searchable by account_id or (non-standard lines) account name."""

    def __init__(self, rows: list[dict]):
        self._by_statement: dict[str, list[dict]] = {}
        for row in sorted(rows, key=lambda r: int(parse_amount(r.get("ord")) or 0)):
            self._by_statement.setdefault(str(row.get("sj_div") or ""), []).append(row)

    def lookup(self, dart_concept: DartConcept, amount_field: str | Callable[[dict], object]):
        """Concept lookup reading ``amount_field`` of each row (or a function of the row: quarterly reports
        keep year-to-date figures in different fields per statement, see core/ttm.py)."""
        read = amount_field if callable(amount_field) else (lambda row: row.get(amount_field))

        def matches(row: dict, key: str) -> bool:
            if key.startswith(DART_NAME_PREFIX):
                return row.get("account_id") == DART_NONSTANDARD_ACCOUNT_ID and normalize_account_name(
                    row.get("account_nm") or ""
                ) == normalize_account_name(key[len(DART_NAME_PREFIX) :])
            return row.get("account_id") == key

        def lookup(key: str) -> tuple[float, int] | None:
            for statement in dart_concept.statements:
                for row in self._by_statement.get(statement, ()):
                    if matches(row, key):
                        value = parse_amount(read(row))
                        if value is not None:
                            return value, 0  # one filing: every value is equally recent
            return None

        return lookup


def normalize_fnltt(payload: dict, company_id: str, fiscal_year_end_month: int = 12) -> pd.DataFrame:
    """Canonical rows (STATEMENT_META_COLUMNS + CANONICAL_ITEMS) of one fnlttSinglAcntAll response.

    ``fiscal_year_end_month``: the company's fiscal month (company.json ``acc_mt``); a period ends on the
    last day of that month in ``bsns_year`` (December for Samsung). Assumed, not checked, for other months.
    """
    status = str(payload.get("status") or STATUS_OK)
    if status == STATUS_NO_DATA:
        return to_statement_frame([])
    if status != STATUS_OK:
        raise ValueError(f"OpenDART error status {status}: {payload.get('message')}")
    rows = payload.get("list") or []
    if not rows:
        return to_statement_frame([])

    report_code = _first(rows, "reprt_code")
    if report_code in QUARTERLY_REPORTS:
        raise ValueError(
            f"reprt_code {report_code} is a {QUARTERLY_REPORTS[report_code]} report: quarterly flows become "
            "trailing-twelve-month rows through core.ttm.dart_interim_report, not this annual normaliser"
        )
    if report_code != ANNUAL_REPORT:
        raise ValueError(
            f"unknown reprt_code {report_code!r}; only the annual report {ANNUAL_REPORT} is supported"
        )

    rcept_no = _first(rows, "rcept_no")
    bsns_year = int(_first(rows, "bsns_year"))
    if not rcept_no or len(rcept_no) < 8:
        raise ValueError(f"rcept_no missing or malformed: {rcept_no!r}")
    filed_at = dt.datetime.strptime(rcept_no[:8], "%Y%m%d").date()
    currency = _first(rows, "currency")
    statement = _Statement(rows)
    issues = "; ".join(_unusable_amounts(rows))

    out: list[dict] = []
    dart_concepts = {**DART_CONCEPTS, **DART_HELPER_CONCEPTS}
    concepts = {item: dart_concept.concept for item, dart_concept in dart_concepts.items()}
    for prefix, years_back in _PERIODS:
        values, derived = resolve_items(
            concepts,
            concepts,
            lambda item, prefix=prefix: statement.lookup(dart_concepts[item], f"{prefix}_amount"),
        )
        apply_derivations(values, derived)
        for helper in DART_HELPER_CONCEPTS:
            values.pop(helper, None)
            derived.discard(helper)
        if all(v is None for v in values.values()):
            continue
        if prefix == "bfefrmtrm" and values.get("total_assets") is None:
            continue  # the third year is kept only with its balance sheet
        period_end = _period_end(bsns_year - years_back, fiscal_year_end_month)
        out.append(
            {
                "company_id": company_id,
                "fiscal_year": fiscal_year_of(period_end),
                "period_start": _period_end(period_end.year - 1, fiscal_year_end_month)
                + dt.timedelta(days=1),
                "period_end": period_end,
                "filed_at": filed_at,
                "accession": rcept_no,
                "form": report_code,
                "currency": currency,
                "source": SOURCE,
                "derived_items": ",".join(sorted(derived)),
                ISSUES_COLUMN: issues,
                **values,
            }
        )
    return to_statement_frame(out)
