"""Quarterly filings -> trailing-twelve-month (TTM) statement rows.

Why: the model scores annual figures (ratios over a year of flows), but a 10-Q or a DART quarterly report is
news a risk desk wants scored. Flows in those filings are year-to-date (YTD) or 3-month figures, so they are
turned into twelve-month figures before any ratio:

    TTM flow at quarter end q = FY flow of the prior fiscal year + YTD flow to q - YTD flow to the same
    quarter one year earlier (the comparative reported in the same quarterly filing).

Balance-sheet items are the quarterly filing's own instants at q. A TTM row is one version per quarterly
filing (key: company, quarter end, the filing's own accession / rcept_no), dated by that filing
(``filed_at``), and uses the prior fiscal year **as known on that date** (the latest annual version filed on
or before it: Apple's Q1 FY2010 10-Q, filed 2010-01-25, uses the FY2009 10-K/A of the same day). Without a
known prior year there is no TTM row: nothing is guessed.

Sources:
- SEC companyfacts: facts of 10-Q / 10-Q/A filings. The filing's quarter end is the latest ``end`` of its
  duration facts; YTD facts run from the fiscal-year start to it (Q1: the 3-month figure is the YTD one);
  the prior-year YTD is the comparative of the same length ending about a year earlier.
- OpenDART fnlttSinglAcntAll with reprt_code 11013 (Q1), 11012 (half year), 11014 (Q3): income-statement
  rows (IS/CIS) carry ``thstrm_amount`` = 3-month and ``thstrm_add_amount`` = YTD, ``frmtrm_add_amount`` =
  prior-year YTD and ``frmtrm_q_amount`` = prior-year same quarter (OpenDART's field descriptions);
  cash-flow rows (CF) are cumulative in Korean quarterly reports, so their ``thstrm_amount`` /
  ``frmtrm_amount`` are the YTD figures. No recorded quarterly response exists (see API_NOTES.md): this
  reading follows the documented fields.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import pandas as pd

from risk_assets.core.canonical import BALANCE_SHEET_ITEMS, FLOW_ITEMS, ISSUES_COLUMN
from risk_assets.core.concepts import DART_CONCEPTS, DART_HELPER_CONCEPTS, SEC_HELPER_CONCEPTS, resolve_items
from risk_assets.core.sec_statements import (
    SEC_SHARE_ITEMS,
    _all_concepts,
    _concept_facts,
    _number,
    _parse_date,
    _reporting_currency,
    apply_derivations,
    fiscal_year_of,
    to_statement_frame,
)

#: Quarterly report forms on EDGAR whose facts make TTM rows.
SEC_QUARTERLY_FORMS: frozenset[str] = frozenset({"10-Q", "10-Q/A"})
#: DART report code -> fiscal period (and months from the fiscal-year start to its end).
DART_QUARTERLY_REPORTS: dict[str, tuple[str, int]] = {
    "11013": ("Q1", 3),
    "11012": ("Q2", 6),
    "11014": ("Q3", 9),
}
#: Extra columns of statement rows beside STATEMENT_META_COLUMNS: the period type and the fiscal period.
PERIOD_COLUMNS: tuple[str, ...] = ("period_type", "fiscal_period")
PERIOD_TYPE_ANNUAL, PERIOD_TYPE_TTM = "FY", "TTM"

#: A prior fiscal year must end within this many days of the day before the quarterly YTD starts.
_FY_END_TOLERANCE_DAYS = 7
#: Instants and helper items that describe the balance sheet at the quarter end.
_BALANCE_ITEMS = frozenset(BALANCE_SHEET_ITEMS) | frozenset(SEC_HELPER_CONCEPTS)
_YEAR_TO_DATE_MAX_DAYS = 300


@dataclass(frozen=True)
class InterimReport:
    """What one quarterly filing says: YTD flows, the prior-year YTD comparatives and the balance sheet."""

    company_id: str
    accession: str
    form: str
    filed_at: dt.date
    source: str
    currency: str | None
    fiscal_period: str  # Q1 | Q2 | Q3
    year_start: dt.date  # first day of the fiscal year (the YTD start)
    period_end: dt.date  # the quarter end
    prior_period_end: dt.date  # the same quarter end one year earlier
    ytd: dict[str, float | None]
    prior_ytd: dict[str, float | None]
    balance: dict[str, float | None]
    derived: frozenset[str] = field(default_factory=frozenset)
    issues: str = ""

    @property
    def fiscal_year(self) -> int:
        """The fiscal year the quarter belongs to, labelled like annual rows (by the year's end)."""
        return fiscal_year_of(self.year_start + dt.timedelta(days=364))


def fiscal_period_for(ytd_days: int) -> str | None:
    """Q1/Q2/Q3 from the length of a year-to-date window (13/26/39 weeks or 3/6/9 months)."""
    quarters = round(ytd_days / 91.3)
    return {1: "Q1", 2: "Q2", 3: "Q3"}.get(quarters)


# --------------------------------------------------------------------------------------------------- SEC


@dataclass(frozen=True)
class _Fact:
    start: dt.date | None
    end: dt.date
    value: float
    tag: str


def _quarterly_facts(companyfacts: dict, currency: str | None) -> tuple[dict, dict]:
    """{accession: [facts of mapped tags]} of quarterly forms, and {accession: (form, filed, reasons)}."""
    by_filing: dict[str, list[_Fact]] = defaultdict(list)
    meta: dict[str, tuple[str, dt.date, list[str]]] = {}
    for item, concept in _all_concepts().items():
        unit_wanted = "shares" if item in SEC_SHARE_ITEMS else currency
        if not unit_wanted:
            continue
        for tag in concept.all_sources():
            for raw in _concept_facts(companyfacts, tag).get(unit_wanted, []):
                if raw.get("form") not in SEC_QUARTERLY_FORMS or raw.get("val") is None:
                    continue
                accn = raw["accn"]
                form, filed, reasons = meta.setdefault(accn, (raw["form"], _parse_date(raw["filed"]), []))
                value = _number(raw["val"])
                if value is None:
                    reasons.append(f"{tag} = {str(raw['val'])[:40]!r} is not a number")
                    continue
                by_filing[accn].append(
                    _Fact(_parse_date(raw.get("start")), _parse_date(raw["end"]), value, tag)
                )
    return by_filing, meta


def _lookup(facts: Iterable[_Fact]) -> Callable[[str], tuple[float, int] | None]:
    """Concept lookup over one filing's facts (one filing: every value equally recent; first one wins)."""
    first: dict[str, float] = {}
    for fact in facts:
        first.setdefault(fact.tag, fact.value)

    def lookup(tag: str) -> tuple[float, int] | None:
        return (first[tag], 0) if tag in first else None

    return lookup


def _resolve_items(items: Iterable[str], facts: list[_Fact]) -> tuple[dict[str, float | None], set[str]]:
    lookup = _lookup(facts)
    return resolve_items(items, _all_concepts(), lambda _item: lookup)


def _interim_from_filing(
    company_id: str,
    accn: str,
    form: str,
    filed: dt.date,
    facts: list[_Fact],
    currency: str | None,
    issues: str,
) -> InterimReport | None:
    durations = [
        f for f in facts if f.start is not None and 0 < (f.end - f.start).days <= _YEAR_TO_DATE_MAX_DAYS
    ]
    if not durations:
        return None
    period_end = max(f.end for f in durations)
    current = [f for f in durations if f.end == period_end]
    year_start = min(f.start for f in current)  # type: ignore[type-var]
    ytd_days = (period_end - year_start).days
    fiscal_period = fiscal_period_for(ytd_days)
    if fiscal_period is None:
        return None
    ytd = [f for f in current if f.start == year_start]
    # The comparative: same length (+-10 days: 52/53-week years), ending 350-380 days earlier.
    prior = [
        f
        for f in durations
        if 350 <= (period_end - f.end).days <= 380 and abs((f.end - f.start).days - ytd_days) <= 10
    ]
    prior_end = (
        Counter(f.end for f in prior).most_common(1)[0][0] if prior else period_end - dt.timedelta(days=364)
    )
    prior = [f for f in prior if f.end == prior_end]
    balance = [f for f in facts if f.start is None and f.end == period_end]
    ytd_values, ytd_derived = _resolve_items(FLOW_ITEMS, ytd)
    prior_values, _ = _resolve_items(FLOW_ITEMS, prior)
    balance_values, balance_derived = _resolve_items(sorted(_BALANCE_ITEMS), balance)
    return InterimReport(
        company_id=company_id,
        accession=accn,
        form=form,
        filed_at=filed,
        source="sec_companyfacts",
        currency=currency,
        fiscal_period=fiscal_period,
        year_start=year_start,
        period_end=period_end,
        prior_period_end=prior_end,
        ytd=ytd_values,
        prior_ytd=prior_values,
        balance=balance_values,
        derived=frozenset(ytd_derived | balance_derived),
        issues=issues,
    )


def sec_interim_reports(companyfacts: dict, company_id: str) -> list[InterimReport]:
    """One InterimReport per 10-Q / 10-Q/A accession of a companyfacts document, oldest filing first."""
    tags = {tag for concept in _all_concepts().values() for tag in concept.all_sources()}
    currency = _reporting_currency(companyfacts, tags)
    by_filing, meta = _quarterly_facts(companyfacts, currency)
    reports = []
    for accn, (form, filed, reasons) in meta.items():
        report = _interim_from_filing(
            company_id, accn, form, filed, by_filing.get(accn, []), currency, "; ".join(reasons)
        )
        if report is not None:
            reports.append(report)
    return sorted(reports, key=lambda r: (r.filed_at, r.accession))


# ------------------------------------------------------------------------------------------------- DART


def is_dart_interim(payload: dict) -> bool:
    """True for a fnlttSinglAcntAll response of a quarterly or half-year report."""
    rows = payload.get("list") or []
    return bool(rows) and str(rows[0].get("reprt_code") or "") in DART_QUARTERLY_REPORTS


def _present(value: object) -> bool:
    return value is not None and not (isinstance(value, str) and not value.strip())


def _dart_ytd_field(fiscal_period: str, prior: bool) -> Callable[[dict], object]:
    """The amount field holding a row's year-to-date figure (current or prior year), by statement."""

    def field_for(row: dict) -> object:
        statement = str(row.get("sj_div") or "")
        if statement == "CF":  # cumulative in quarterly reports
            return row.get("frmtrm_amount" if prior else "thstrm_amount")
        if statement in ("IS", "CIS"):
            cumulative = row.get("frmtrm_add_amount" if prior else "thstrm_add_amount")
            if _present(cumulative):
                return cumulative
            if fiscal_period == "Q1":  # the 3-month figure is the year to date
                return row.get("frmtrm_q_amount" if prior else "thstrm_amount")
            return None
        return row.get("thstrm_amount")

    return field_for


def dart_interim_report(payload: dict, company_id: str, fiscal_year_end_month: int = 12) -> InterimReport:
    """The InterimReport of one quarterly fnlttSinglAcntAll response (raises ValueError for other reports)."""
    from risk_assets.core.dart_statements import _first, _period_end, _Statement, _unusable_amounts

    rows = payload.get("list") or []
    report_code = _first(rows, "reprt_code") if rows else None
    if report_code not in DART_QUARTERLY_REPORTS:
        raise ValueError(
            f"reprt_code {report_code!r} is not a quarterly report {sorted(DART_QUARTERLY_REPORTS)}"
        )
    fiscal_period, months = DART_QUARTERLY_REPORTS[report_code]
    rcept_no = _first(rows, "rcept_no")
    if not rcept_no or len(rcept_no) < 8:
        raise ValueError(f"rcept_no missing or malformed: {rcept_no!r}")
    bsns_year = int(_first(rows, "bsns_year"))
    # The fiscal year bsns_year ends in fiscal_year_end_month of bsns_year (December: Jan-Dec).
    year_end = _period_end(bsns_year, fiscal_year_end_month)
    year_start = _period_end(bsns_year - 1, fiscal_year_end_month) + dt.timedelta(days=1)
    end_month = (year_start.month - 1 + months - 1) % 12 + 1
    end_year = year_start.year + (year_start.month - 1 + months - 1) // 12
    period_end = _period_end(end_year, end_month)
    if period_end >= year_end:
        raise ValueError(f"{report_code}: quarter end {period_end} is not inside fiscal year {bsns_year}")
    statement = _Statement(rows)
    concepts = {**DART_CONCEPTS, **DART_HELPER_CONCEPTS}

    def resolve_with(amount: str | Callable[[dict], object], items: Iterable[str]):
        return resolve_items(
            items,
            {item: c.concept for item, c in concepts.items()},
            lambda item: statement.lookup(concepts[item], amount),
        )

    ytd, ytd_derived = resolve_with(_dart_ytd_field(fiscal_period, prior=False), FLOW_ITEMS)
    prior_ytd, _ = resolve_with(_dart_ytd_field(fiscal_period, prior=True), FLOW_ITEMS)
    balance_items = [i for i in concepts if i in BALANCE_SHEET_ITEMS or i in DART_HELPER_CONCEPTS]
    balance, balance_derived = resolve_with("thstrm_amount", balance_items)
    return InterimReport(
        company_id=company_id,
        accession=rcept_no,
        form=report_code,
        filed_at=dt.datetime.strptime(rcept_no[:8], "%Y%m%d").date(),
        source="dart_fnltt",
        currency=_first(rows, "currency"),
        fiscal_period=fiscal_period,
        year_start=year_start,
        period_end=period_end,
        prior_period_end=_period_end(end_year - 1, end_month),
        ytd=ytd,
        prior_ytd=prior_ytd,
        balance=balance,
        derived=frozenset(ytd_derived | balance_derived),
        issues="; ".join(_unusable_amounts(rows)),
    )


# -------------------------------------------------------------------------------------------- combining


class _AnnualVersions:
    """The annual versions of ``trailing_twelve_months`` read once, so each report's prior year is a scan of plain
    values rather than a new filter and sort of the frame (which took most of a company's normalisation)."""

    def __init__(self, annual: pd.DataFrame):
        self.annual = annual
        ends = pd.to_datetime(annual["period_end"])
        filed = pd.to_datetime(annual["filed_at"])
        is_annual = (
            annual["period_type"].fillna(PERIOD_TYPE_ANNUAL) == PERIOD_TYPE_ANNUAL
            if "period_type" in annual.columns
            else pd.Series(True, index=annual.index)
        )
        self.rows = [
            (position, company_id, end, filed_at, accession)
            for position, (company_id, end, filed_at, accession, annual_row) in enumerate(
                zip(annual["company_id"], ends, filed, annual["accession"], is_annual, strict=True)
            )
            if annual_row
        ]

    def prior_year(self, report: InterimReport) -> pd.Series | None:
        """The annual version of the fiscal year before the report's, latest filed on or before its filed_at
        (ties in filing date: the greatest accession, then the later row; a missing accession sorts last)."""
        target = pd.Timestamp(report.year_start - dt.timedelta(days=1))
        filed_by = pd.Timestamp(report.filed_at)
        tolerance = pd.Timedelta(days=_FY_END_TOLERANCE_DAYS)
        best, best_key = None, None
        for position, company_id, end, filed_at, accession in self.rows:
            if (
                company_id != report.company_id
                or not abs(end - target) <= tolerance
                or not filed_at <= filed_by
            ):
                continue
            missing = not isinstance(accession, str)
            key = (filed_at, missing, "" if missing else accession, position)
            if best_key is None or key > best_key:
                best, best_key = position, key
        return None if best is None else self.annual.iloc[best]


def _number_or_none(value: object) -> float | None:
    if value is None:
        return None
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return None if number != number else number  # NaN -> None


def ttm_row(report: InterimReport, prior_year: pd.Series) -> dict:
    """One TTM statement row from a quarterly report and the prior fiscal year's annual version."""
    prior_derived = {d for d in str(prior_year.get("derived_items") or "").split(",") if d}
    values: dict[str, float | None] = {}
    derived = {d for d in report.derived if d in report.balance}
    for item in FLOW_ITEMS:
        parts = (_number_or_none(prior_year.get(item)), report.ytd.get(item), report.prior_ytd.get(item))
        values[item] = None if any(p is None for p in parts) else parts[0] + parts[1] - parts[2]
        if values[item] is not None and (item in prior_derived or item in report.derived):
            derived.add(item)
    values.update({item: report.balance.get(item) for item in report.balance})
    apply_derivations(values, derived)
    helpers = set(SEC_HELPER_CONCEPTS) | set(DART_HELPER_CONCEPTS)
    for helper in helpers:
        values.pop(helper, None)
        derived.discard(helper)
    return {
        "company_id": report.company_id,
        "fiscal_year": report.fiscal_year,
        "period_start": report.prior_period_end + dt.timedelta(days=1),
        "period_end": report.period_end,
        "filed_at": report.filed_at,
        "accession": report.accession,
        "form": report.form,
        "currency": report.currency or prior_year.get("currency"),
        "source": report.source,
        "derived_items": ",".join(sorted(derived)),
        ISSUES_COLUMN: report.issues,
        "period_type": PERIOD_TYPE_TTM,
        "fiscal_period": report.fiscal_period,
        **values,
    }


def trailing_twelve_months(annual: pd.DataFrame, reports: Iterable[InterimReport]) -> pd.DataFrame:
    """TTM statement rows (statement columns + PERIOD_COLUMNS) for the reports whose prior year was known.

    ``annual``: annual statement versions (normalize_companyfacts / normalize_fnltt rows) of the companies.
    """
    rows = []
    versions = None if annual.empty else _AnnualVersions(annual)
    for report in reports:
        prior = None if versions is None else versions.prior_year(report)
        if prior is not None:
            rows.append(ttm_row(report, prior))
    frame = to_statement_frame(rows)
    frame["period_type"] = [row["period_type"] for row in rows]
    frame["fiscal_period"] = [row["fiscal_period"] for row in rows]
    return frame


def with_period_columns(frame: pd.DataFrame) -> pd.DataFrame:
    """Annual rows get period_type FY and fiscal_period FY (columns added when absent)."""
    out = frame.copy()
    for column in PERIOD_COLUMNS:
        if column not in out.columns:
            out[column] = PERIOD_TYPE_ANNUAL
        out[column] = out[column].fillna(PERIOD_TYPE_ANNUAL)
    return out
