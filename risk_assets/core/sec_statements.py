"""SEC companyfacts -> annual canonical statement versions (one row per fiscal period x filing).

Why it is built this way:

- Periods come from the facts' own ``start``/``end``. ``fy``/``fp`` describe the filing that reported a
  value (a 10-K repeats last year's balance sheet with this year's ``fy``), so they are never used.
- A fiscal period is the ``end`` of a full-year duration (350-380 days: 52/53-week years included) of a
  mapped income-statement or cash-flow tag in an annual form; its balance sheet is the instants at that
  ``end``. Only facts of annual forms (10-K, 20-F, 40-F and their amendments) are read, so quarterly
  figures and 8-K earnings exhibits never leak in.
- Every filing that reported something about a period is a candidate version, evaluated as of its own
  ``filed`` date with everything filed up to then (later comparatives can restate). A candidate becomes a
  row only if it changes at least one item, so unchanged comparatives add nothing. Apple's FY2009 has a
  10-K version (net income 5,704m, filed 2009-10-27) and a 10-K/A version (8,235m, filed 2010-01-25).
- Items are resolved per period with the ordered fallbacks in ``concepts.SEC_CONCEPTS`` (see there).
- Unknown stays NaN. Derived values (identities, sums of components, proxies) are listed in
  ``derived_items``.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import Counter, defaultdict
from dataclasses import dataclass

import pandas as pd

from risk_assets.core.canonical import (
    BALANCE_SHEET_ITEMS,
    CANONICAL_ITEMS,
    ISSUES_COLUMN,
    STATEMENT_META_COLUMNS,
)
from risk_assets.core.concepts import (
    SEC_CONCEPTS,
    SEC_HELPER_CONCEPTS,
    SEC_SHARE_ITEMS,
    Concept,
    resolve_items,
)

SOURCE = "sec_companyfacts"

#: Forms whose full-year figures define a fiscal period (annual reports and their amendments).
ANNUAL_FORMS: frozenset[str] = frozenset(
    {"10-K", "10-K/A", "10-K405", "10-KT", "10-KT/A", "20-F", "20-F/A", "40-F", "40-F/A"}
)

#: A full fiscal year, in days: 52/53-week years are 364/371 days.
FULL_YEAR_DAYS = (350, 380)

_INSTANT_ITEMS = frozenset(BALANCE_SHEET_ITEMS) | frozenset(SEC_HELPER_CONCEPTS)


@dataclass(frozen=True)
class _Fact:
    start: dt.date | None
    end: dt.date
    value: float
    accn: str
    form: str
    filed: dt.date

    @property
    def recency(self) -> tuple[dt.date, str]:
        return (self.filed, self.accn)


def fiscal_year_of(period_end: dt.date) -> int:
    """The period end's year, except that an end in Jan 1-7 (52/53-week years) belongs to the year before."""
    if period_end.month == 1 and period_end.day <= 7:
        return period_end.year - 1
    return period_end.year


def _is_full_year(start: dt.date, end: dt.date) -> bool:
    return FULL_YEAR_DAYS[0] <= (end - start).days <= FULL_YEAR_DAYS[1]


def _all_concepts() -> dict[str, Concept]:
    return {**SEC_CONCEPTS, **SEC_HELPER_CONCEPTS}


def _concept_facts(companyfacts: dict, tag: str) -> dict[str, list[dict]]:
    taxonomy, _, name = tag.partition(":")
    concept = (companyfacts.get("facts") or {}).get(taxonomy, {}).get(name)
    return (concept or {}).get("units") or {}


def _is_currency_unit(unit: str) -> bool:
    return len(unit) == 3 and unit.isalpha() and unit.isupper()


def _reporting_currency(companyfacts: dict, tags: set[str]) -> str | None:
    """The currency most of the mapped annual facts are in (facts in other currencies are ignored)."""
    counts: Counter[str] = Counter()
    for tag in tags:
        for unit, facts in _concept_facts(companyfacts, tag).items():
            if _is_currency_unit(unit):
                counts[unit] += sum(1 for f in facts if f.get("form") in ANNUAL_FORMS)
    return counts.most_common(1)[0][0] if counts else None


def _parse_date(text: str | None) -> dt.date | None:
    return dt.date.fromisoformat(text) if text else None


def _number(value: object) -> float | None:
    """A fact's value as a finite float, or None when it is text or not finite."""
    if isinstance(value, bool):
        return None
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _collect(companyfacts: dict, currency: str | None) -> tuple[dict, dict, dict]:
    """Annual-form facts of mapped tags: (instants[tag] list, durations[tag] list) of full-year facts, and
    the unusable facts per accession ({accn: [(end, filed, form, reason)]}), which are left out."""
    instants: dict[str, list[_Fact]] = defaultdict(list)
    durations: dict[str, list[_Fact]] = defaultdict(list)
    unusable: dict[str, list[tuple]] = defaultdict(list)
    for item, concept in _all_concepts().items():
        unit_wanted = "shares" if item in SEC_SHARE_ITEMS else currency
        want_instant = item in _INSTANT_ITEMS
        for tag in concept.all_sources():
            if tag in instants or tag in durations:
                continue
            for raw in _concept_facts(companyfacts, tag).get(unit_wanted, []) if unit_wanted else []:
                if raw.get("form") not in ANNUAL_FORMS or raw.get("val") is None:
                    continue
                start, end = _parse_date(raw.get("start")), _parse_date(raw["end"])
                if want_instant != (start is None):
                    continue
                if start is not None and not _is_full_year(start, end):
                    continue
                value = _number(raw["val"])
                if value is None:
                    reason = f"{tag} = {str(raw['val'])[:40]!r} is not a number"
                    unusable[raw["accn"]].append((end, _parse_date(raw["filed"]), raw["form"], reason))
                    continue
                fact = _Fact(start, end, value, raw["accn"], raw["form"], _parse_date(raw["filed"]))
                (instants if start is None else durations)[tag].append(fact)
    return instants, durations, unusable


def _fiscal_periods(durations: dict[str, list[_Fact]]) -> dict[dt.date, dt.date]:
    """period_end -> period_start (the most frequent start among full-year facts ending there)."""
    starts: dict[dt.date, Counter[dt.date]] = defaultdict(Counter)
    for facts in durations.values():
        for fact in facts:
            starts[fact.end][fact.start] += 1
    return {end: max(counter, key=lambda s: (counter[s], s)) for end, counter in starts.items()}


class _PeriodFacts:
    """The facts about one fiscal period, with 'latest value of a tag filed up to a date' lookups."""

    def __init__(self, start: dt.date, by_tag: dict[str, list[_Fact]]):
        # One fact per (tag, filing): prefer the duration starting at the period start.
        self._by_tag: dict[str, list[_Fact]] = {}
        for tag, facts in by_tag.items():
            per_filing: dict[str, _Fact] = {}
            for fact in facts:
                kept = per_filing.get(fact.accn)
                if kept is None or (kept.start != start and fact.start == start):
                    per_filing[fact.accn] = fact
            self._by_tag[tag] = sorted(per_filing.values(), key=lambda f: f.recency)

    def filings(self) -> list[tuple[dt.date, str, str]]:
        seen = {(f.filed, f.accn, f.form) for facts in self._by_tag.values() for f in facts}
        return sorted(seen)

    def lookup_as_of(self, as_of: tuple[dt.date, str]):
        def lookup(tag: str) -> tuple[float, tuple[dt.date, str]] | None:
            latest = None
            for fact in self._by_tag.get(tag, ()):
                if fact.recency > as_of:
                    break
                latest = fact
            return None if latest is None else (latest.value, latest.recency)

        return lookup


def _resolve_state(facts_bs: _PeriodFacts, facts_pl: _PeriodFacts, as_of) -> tuple[dict, set[str]]:
    """Canonical items (None = unknown) and the names of derived items, as of one filing."""
    lookup_bs, lookup_pl = facts_bs.lookup_as_of(as_of), facts_pl.lookup_as_of(as_of)
    concepts = _all_concepts()
    values, derived = resolve_items(
        concepts, concepts, lambda item: lookup_bs if item in _INSTANT_ITEMS else lookup_pl
    )
    apply_derivations(values, derived)
    for helper in SEC_HELPER_CONCEPTS:
        values.pop(helper, None)
        derived.discard(helper)
    return values, derived


def apply_derivations(values: dict[str, float | None], derived: set[str]) -> None:
    """Fill items from accounting identities, in place, flagging each one filled.

    Never total_assets (a wrong equity or liabilities figure would then corrupt the size of the firm).
    total_liabilities = total_assets - equity including NCI - temporary (mezzanine) equity: mezzanine is
    neither liability nor equity under US GAAP, so this equals what a reported Liabilities would be.
    """

    def known(*names: str) -> bool:
        return all(values.get(n) is not None for n in names)

    def fill(name: str, value: float) -> None:
        values[name] = value
        derived.add(name)

    if values.get("revenue") is None and known("gross_profit", "cost_of_goods_sold"):
        fill("revenue", values["gross_profit"] + values["cost_of_goods_sold"])
    if values.get("gross_profit") is None and known("revenue", "cost_of_goods_sold"):
        fill("gross_profit", values["revenue"] - values["cost_of_goods_sold"])
    if values.get("cost_of_goods_sold") is None and known("revenue", "gross_profit"):
        fill("cost_of_goods_sold", values["revenue"] - values["gross_profit"])
    if values.get("ebitda") is None and known("ebit", "depreciation_amortization"):
        fill("ebitda", values["ebit"] + values["depreciation_amortization"])
    if values.get("total_liabilities") is None and known("total_assets", "equity_including_nci"):
        temporary = values.get("temporary_equity") or 0.0
        fill("total_liabilities", values["total_assets"] - values["equity_including_nci"] - temporary)
    if values.get("shares_outstanding") is None and known("shares_issued", "treasury_shares"):
        fill("shares_outstanding", values["shares_issued"] - values["treasury_shares"])


def _rounding_unit(value: float) -> float:
    """10**(trailing zeros of the integer value), capped at a million: the precision it was reported to."""
    number, unit = abs(round(value)), 1
    while number and number % 10 == 0 and unit < 1_000_000:
        number //= 10
        unit *= 10
    return float(unit)


def _same_value(a: object, b: object) -> bool:
    """Equal, or equal up to the coarser rounding of the two (and within 1%).

    Later filings often round what an earlier one gave more precisely (McDonald's 56,146.8m -> 56,147m,
    Marvell thousands -> hundred thousands); that is no new fact and must not make a new version.
    """
    if isinstance(a, float) and isinstance(b, float):
        diff = abs(a - b)
        return diff <= min(max(_rounding_unit(a), _rounding_unit(b)), 0.01 * max(abs(a), abs(b)))
    return a == b


def _same(a: dict, b: dict) -> bool:
    return all(_same_value(a.get(k), b.get(k)) for k in set(a) | set(b))


#: How far before its fiscal year end a 10-K's public-float date may lie (it is the last business day of the
#: second fiscal quarter, about six months before; a transition period can stretch it).
PUBLIC_FLOAT_MAX_DAYS_BEFORE_END = 400


def public_floats(companyfacts: dict, currency: str | None) -> dict[str, tuple[dt.date, float]]:
    """Per accession, the cover page's aggregate market value of common equity held by non-affiliates
    (dei:EntityPublicFloat): the market value every 10-K reports, known at its filing date.

    It stands in for ``market_value_equity`` where no price series gives shares x price at the balance-sheet
    date (core/market.py takes precedence): it leaves out insiders' holdings and is measured about six months
    before the year end, so it understates a closely held company's market value (the model card says so).
    """
    floats: dict[str, tuple[dt.date, float]] = {}
    units = companyfacts.get("facts", {}).get("dei", {}).get("EntityPublicFloat", {}).get("units", {})
    for unit, facts in units.items():
        if currency is not None and unit != currency:
            continue
        for raw in facts:
            end, value = _parse_date(raw.get("end")), _number(raw.get("val"))
            if end is None or value is None or value <= 0 or not raw.get("accn"):
                continue
            floats[raw["accn"]] = (end, value)
    return floats


def normalize_companyfacts(companyfacts: dict, company_id: str) -> pd.DataFrame:
    """Annual statement versions of one SEC filer: one row per (period_end, accession) that changed
    something. Columns: STATEMENT_META_COLUMNS + CANONICAL_ITEMS."""
    tags = {tag for concept in _all_concepts().values() for tag in concept.all_sources()}
    currency = _reporting_currency(companyfacts, tags)
    instants, durations, unusable = _collect(companyfacts, currency)
    periods = _fiscal_periods(durations)
    floats = public_floats(companyfacts, currency)

    def filing_row(end, filed, accn: str, form: str, problems) -> dict:
        """The row of one filing of a period without its items: who, when, which filing and its problems."""
        return {
            "company_id": company_id,
            "fiscal_year": fiscal_year_of(end),
            "period_end": end,
            "filed_at": filed,
            "accession": accn,
            "form": form,
            "currency": currency,
            "source": SOURCE,
            "derived_items": "",
            ISSUES_COLUMN: "; ".join(reason for *_, reason in problems),
        }

    rows: list[dict] = []
    for end, start in sorted(periods.items()):
        facts_pl = _PeriodFacts(start, {t: [f for f in fs if f.end == end] for t, fs in durations.items()})
        facts_bs = _PeriodFacts(start, {t: [f for f in fs if f.end == end] for t, fs in instants.items()})
        previous: dict | None = None
        for filed, accn, form in sorted(set(facts_pl.filings()) | set(facts_bs.filings())):
            values, derived = _resolve_state(facts_bs, facts_pl, (filed, accn))
            if all(v is None for v in values.values()):
                continue
            float_end, float_value = floats.get(accn, (None, None))
            if (
                values.get("market_value_equity") is None
                and float_end is not None
                and 0 <= (end - float_end).days <= PUBLIC_FLOAT_MAX_DAYS_BEFORE_END
            ):
                values["market_value_equity"] = float_value
                derived = derived | {"market_value_equity"}
            elif (
                values.get("market_value_equity") is None
                and previous is not None
                and previous.get("market_value_equity") is not None
            ):
                # a later filing repeating this period's items carries no float for it: the last one still holds
                values["market_value_equity"] = previous["market_value_equity"]
                derived = derived | {"market_value_equity"}
            if previous is not None and _same(values, previous):
                continue  # a repeat (or a re-rounding) of what was already known
            previous = values
            rows.append(
                {
                    **filing_row(end, filed, accn, form, unusable.get(accn, ())),
                    "period_start": start,
                    "derived_items": ",".join(sorted(derived)),
                    **values,
                }
            )
    # A filing whose every mapped fact was unusable still gets a row, so its rejection is recorded.
    with_rows = {row["accession"] for row in rows}
    for accn, problems in unusable.items():
        if accn not in with_rows:
            end, filed, form, _ = problems[0]
            rows.append(filing_row(end, filed, accn, form, problems))
    return to_statement_frame(rows)


def to_statement_frame(rows: list[dict]) -> pd.DataFrame:
    """Rows -> the statement frame with fixed columns and dtypes (items float64, NaN = unknown), also
    when there are no rows, so consumers can concatenate frames from any source."""
    columns = list(STATEMENT_META_COLUMNS) + list(CANONICAL_ITEMS) + [ISSUES_COLUMN]
    frame = pd.DataFrame(rows, columns=columns)
    frame[ISSUES_COLUMN] = frame[ISSUES_COLUMN].fillna("")
    for item in CANONICAL_ITEMS:
        frame[item] = pd.to_numeric(frame[item], errors="coerce").astype("float64")
    frame["fiscal_year"] = frame["fiscal_year"].astype("int64")
    frame["derived_items"] = frame["derived_items"].fillna("")
    return frame


def statement_as_of(versions: pd.DataFrame, as_of: dt.date) -> pd.DataFrame:
    """Point in time: per (company_id, period_end), the latest version filed on or before ``as_of``."""
    if versions.empty:
        return versions.copy()
    filed = pd.to_datetime(versions["filed_at"])
    visible = versions.loc[filed <= pd.Timestamp(as_of)].copy()
    visible["_filed"] = pd.to_datetime(visible["filed_at"])
    visible = visible.sort_values(["company_id", "period_end", "_filed", "accession"], kind="stable")
    latest = visible.groupby(["company_id", "period_end"], sort=True).tail(1)
    return latest.drop(columns="_filed").reset_index(drop=True)
