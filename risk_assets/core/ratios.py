"""The Polish attribute map: one set of ratio names for training (Polish data) and scoring (SEC/DART statements).

The bundled model is trained on the Polish companies bankruptcy data (Attr1..Attr64, data/polish/attributes.csv)
and scores companies whose statements are normalised to the canonical items (core/canonical.py). This module
writes each Polish attribute as a formula over canonical items, so ``features`` emits columns with the Polish
names and the same meaning. Reading the Polish terms (docs/modeling.md, "Model families"):

- "gross profit" is the Polish *zysk brutto*, a PRE-TAX profit -> ``pretax_income`` (not revenue - COGS);
- "profit on operating activities" -> ``ebit``; "profit on sales" is best approximated by ``ebit``;
- "financial expenses" ~ ``interest_expense``; "operating expenses" (total operating costs) ~ revenue - ebit;
- "short-term liabilities" = current_liabilities; "long-term liabilities" = total - current liabilities;
- "fixed assets" = total - current assets; "constant capital" = equity + long-term liabilities.

Where the values in ``5year.arff`` contradict the description text, the formula follows the data, because the
model learned the data (each such case says so in its note): Attr7 and Attr14 equal Attr18 in every row,
Attr41 is scaled by 30 rather than 12/365, Attr52 has no x365, and Attr57 is net profit / equity.

``fidelity`` is "exact" when our value has the meaning of what the Polish column holds and "approximate" when an
item is a proxy or a term is missing. Even "exact" is not bit-identical: inside the Polish files themselves
identities between columns hold in only about 55-65% of rows (there are two "sales" figures, Attr9 vs Attr36).
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from importlib import resources

import numpy as np
import pandas as pd

from risk_assets.core.canonical import CANONICAL_ITEMS

DAYS_PER_YEAR = 365.0

Items = Mapping[str, float | None]
Values = float | np.ndarray  # one statement (float) or a column of statements (array)
Current = Callable[[str], Values]  # item name -> values of this fiscal year
Prior = Callable[[int, str], Values]  # (years back, item name) -> values of fiscal year t - k
Expression = Callable[[Current, Prior], Values]


@dataclass(frozen=True)
class RatioSpec:
    """One Polish attribute written over canonical items (the model card prints these)."""

    name: str
    description: str
    inputs: tuple[str, ...]
    fidelity: str
    note: str
    formula: Callable[[Items, Sequence[Items]], float | None]


def _load_descriptions() -> dict[str, str]:
    """Formula text per attribute from the bundled attributes.csv (one source for names and wording)."""
    text = (
        resources.files("risk_assets.data").joinpath("polish", "attributes.csv").read_text(encoding="utf-8")
    )
    return {row["attribute"]: row["description"] for row in csv.DictReader(io.StringIO(text))}


def _div(numerator: Values, denominator: Values) -> Values:
    """Division where a zero denominator, a missing input or an overflow gives NaN (never 0, never inf).

    Works on floats (one statement, kept in plain Python for speed) and on arrays (a frame of statements).
    """
    if isinstance(numerator, float) and isinstance(denominator, float):
        if denominator == 0.0:
            return math.nan
        try:
            out = numerator / denominator
        except (OverflowError, ZeroDivisionError):
            return math.nan
        return out if math.isfinite(out) else math.nan
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        out = np.asarray(numerator, dtype=float) / np.asarray(denominator, dtype=float)
    return np.where(np.isfinite(out), out, np.nan)


# Polish balance-sheet and income terms over canonical items.
def _working_capital(v: Current) -> Values:
    return v("current_assets") - v("current_liabilities")


def _fixed_assets(v: Current) -> Values:
    return v("total_assets") - v("current_assets")


def _long_term_liabilities(v: Current) -> Values:
    return v("total_liabilities") - v("current_liabilities")


def _constant_capital(v: Current) -> Values:
    return v("total_equity") + _long_term_liabilities(v)


def _operating_costs(v: Current) -> Values:
    return v("revenue") - v("ebit")


_PRETAX = "gross profit = Polish pre-tax profit (zysk brutto) -> pretax_income"
_OPEX = "operating expenses (Polish total operating costs) ~ revenue - ebit"
_PROFIT_ON_SALES = "profit on sales (before other operating items) best approximated by ebit"
_COGS = (
    "cost of products sold ~ cost_of_goods_sold; in about half the Polish rows that figure equals total "
    "operating costs (by-nature income statement)"
)
_LONG_TERM = "long-term liabilities = total_liabilities - current_liabilities"

# name -> (fidelity, note, expression)
_TABLE: dict[str, tuple[str, str, Expression]] = {
    "Attr1": ("exact", "net_income / total_assets", lambda v, p: _div(v("net_income"), v("total_assets"))),
    "Attr2": (
        "exact",
        "total_liabilities / total_assets",
        lambda v, p: _div(v("total_liabilities"), v("total_assets")),
    ),
    "Attr3": (
        "exact",
        "working capital = current_assets - current_liabilities",
        lambda v, p: _div(_working_capital(v), v("total_assets")),
    ),
    "Attr4": (
        "exact",
        "short-term liabilities = current_liabilities",
        lambda v, p: _div(v("current_assets"), v("current_liabilities")),
    ),
    "Attr5": (
        "approximate",
        "cash + short-term securities + receivables ~ current_assets - inventory (no securities item); "
        + _OPEX,
        lambda v, p: (
            _div(
                v("current_assets") - v("inventory") - v("current_liabilities"),
                _operating_costs(v) - v("depreciation_amortization"),
            )
            * DAYS_PER_YEAR
        ),
    ),
    "Attr6": (
        "approximate",
        "US GAAP/IFRS retained earnings include the current year's profit; the Polish line is often prior "
        "years' profit only (zero in 38% of 5year rows)",
        lambda v, p: _div(v("retained_earnings"), v("total_assets")),
    ),
    "Attr7": (
        "exact",
        "follows the data: Attr7 equals Attr18 in every row of 5year.arff, so its 'EBIT' is the Polish "
        "pre-tax gross profit, not operating income",
        lambda v, p: _div(v("pretax_income"), v("total_assets")),
    ),
    "Attr8": (
        "exact",
        "book value of equity = total_equity",
        lambda v, p: _div(v("total_equity"), v("total_liabilities")),
    ),
    "Attr9": ("exact", "sales = revenue", lambda v, p: _div(v("revenue"), v("total_assets"))),
    "Attr10": ("exact", "equity = total_equity", lambda v, p: _div(v("total_equity"), v("total_assets"))),
    "Attr11": (
        "approximate",
        "no extraordinary-items line (abolished under IFRS and US GAAP; inside pretax_income); "
        "financial expenses ~ interest_expense",
        lambda v, p: _div(v("pretax_income") + v("interest_expense"), v("total_assets")),
    ),
    "Attr12": ("exact", _PRETAX, lambda v, p: _div(v("pretax_income"), v("current_liabilities"))),
    "Attr13": (
        "exact",
        _PRETAX,
        lambda v, p: _div(v("pretax_income") + v("depreciation_amortization"), v("revenue")),
    ),
    "Attr14": (
        "exact",
        "follows the data: Attr14 equals Attr18 in every row of 5year.arff (no interest term there), so "
        "interest is not added",
        lambda v, p: _div(v("pretax_income"), v("total_assets")),
    ),
    "Attr15": (
        "exact",
        _PRETAX,
        lambda v, p: _div(
            v("total_liabilities") * DAYS_PER_YEAR, v("pretax_income") + v("depreciation_amortization")
        ),
    ),
    "Attr16": (
        "exact",
        _PRETAX,
        lambda v, p: _div(v("pretax_income") + v("depreciation_amortization"), v("total_liabilities")),
    ),
    "Attr17": (
        "exact",
        "total_assets / total_liabilities",
        lambda v, p: _div(v("total_assets"), v("total_liabilities")),
    ),
    "Attr18": ("exact", _PRETAX, lambda v, p: _div(v("pretax_income"), v("total_assets"))),
    "Attr19": ("exact", _PRETAX, lambda v, p: _div(v("pretax_income"), v("revenue"))),
    "Attr20": (
        "exact",
        "inventory days on sales",
        lambda v, p: _div(v("inventory") * DAYS_PER_YEAR, v("revenue")),
    ),
    "Attr21": (
        "exact",
        "needs the prior fiscal year's revenue; NaN without it",
        lambda v, p: _div(v("revenue"), p(1, "revenue")),
    ),
    "Attr22": (
        "exact",
        "profit on operating activities = operating income (ebit)",
        lambda v, p: _div(v("ebit"), v("total_assets")),
    ),
    "Attr23": ("exact", "net_income / revenue", lambda v, p: _div(v("net_income"), v("revenue"))),
    "Attr24": (
        "approximate",
        "read as pre-tax profit summed over this and the two prior fiscal years over current total "
        "assets; NaN unless both prior years are available",
        lambda v, p: _div(
            v("pretax_income") + p(1, "pretax_income") + p(2, "pretax_income"), v("total_assets")
        ),
    ),
    "Attr26": (
        "exact",
        "depreciation = depreciation_amortization",
        lambda v, p: _div(v("net_income") + v("depreciation_amortization"), v("total_liabilities")),
    ),
    "Attr27": (
        "approximate",
        "financial expenses ~ interest_expense (Polish financial expenses also hold FX losses and other "
        "finance costs)",
        lambda v, p: _div(v("ebit"), v("interest_expense")),
    ),
    "Attr28": (
        "exact",
        "fixed assets = total_assets - current_assets",
        lambda v, p: _div(_working_capital(v), _fixed_assets(v)),
    ),
    "Attr30": (
        "exact",
        "(total_liabilities - cash) / revenue",
        lambda v, p: _div(v("total_liabilities") - v("cash"), v("revenue")),
    ),
    "Attr31": (
        "exact",
        _PRETAX + "; interest = interest_expense",
        lambda v, p: _div(v("pretax_income") + v("interest_expense"), v("revenue")),
    ),
    "Attr32": (
        "approximate",
        _COGS,
        lambda v, p: _div(v("current_liabilities") * DAYS_PER_YEAR, v("cost_of_goods_sold")),
    ),
    "Attr33": ("approximate", _OPEX, lambda v, p: _div(_operating_costs(v), v("current_liabilities"))),
    "Attr34": ("approximate", _OPEX, lambda v, p: _div(_operating_costs(v), v("total_liabilities"))),
    "Attr35": ("approximate", _PROFIT_ON_SALES, lambda v, p: _div(v("ebit"), v("total_assets"))),
    "Attr36": (
        "approximate",
        "total sales (with other operating revenue) ~ revenue; in the data it equals Attr9 in 56% of rows",
        lambda v, p: _div(v("revenue"), v("total_assets")),
    ),
    "Attr37": (
        "exact",
        _LONG_TERM,
        lambda v, p: _div(v("current_assets") - v("inventory"), _long_term_liabilities(v)),
    ),
    "Attr38": (
        "exact",
        "constant capital = total_equity + long-term liabilities",
        lambda v, p: _div(_constant_capital(v), v("total_assets")),
    ),
    "Attr39": ("approximate", _PROFIT_ON_SALES, lambda v, p: _div(v("ebit"), v("revenue"))),
    "Attr40": (
        "exact",
        "(current_assets - inventory - receivables) / current_liabilities",
        lambda v, p: _div(v("current_assets") - v("inventory") - v("receivables"), v("current_liabilities")),
    ),
    "Attr41": (
        "exact",
        "follows the data: total_liabilities / ((ebit + depreciation) x 30), which matches 5year.arff "
        "where the description's x 12/365 matches under 1% of rows",
        lambda v, p: _div(v("total_liabilities"), (v("ebit") + v("depreciation_amortization")) * 30.0),
    ),
    "Attr42": ("exact", "profit on operating activities = ebit", lambda v, p: _div(v("ebit"), v("revenue"))),
    "Attr43": (
        "exact",
        "receivable days + inventory days on sales (= Attr44 + Attr20 in every row)",
        lambda v, p: _div((v("receivables") + v("inventory")) * DAYS_PER_YEAR, v("revenue")),
    ),
    "Attr44": (
        "exact",
        "receivable days on sales",
        lambda v, p: _div(v("receivables") * DAYS_PER_YEAR, v("revenue")),
    ),
    "Attr45": ("exact", "net_income / inventory", lambda v, p: _div(v("net_income"), v("inventory"))),
    "Attr46": (
        "exact",
        "(current_assets - inventory) / current_liabilities",
        lambda v, p: _div(v("current_assets") - v("inventory"), v("current_liabilities")),
    ),
    "Attr47": (
        "approximate",
        _COGS,
        lambda v, p: _div(v("inventory") * DAYS_PER_YEAR, v("cost_of_goods_sold")),
    ),
    "Attr48": (
        "exact",
        "ebit MINUS depreciation, as written and as the data holds it, despite the 'EBITDA' label",
        lambda v, p: _div(v("ebit") - v("depreciation_amortization"), v("total_assets")),
    ),
    "Attr49": (
        "exact",
        "ebit MINUS depreciation, as written and as the data holds it, despite the 'EBITDA' label",
        lambda v, p: _div(v("ebit") - v("depreciation_amortization"), v("revenue")),
    ),
    "Attr50": (
        "exact",
        "current_assets / total_liabilities",
        lambda v, p: _div(v("current_assets"), v("total_liabilities")),
    ),
    "Attr51": (
        "exact",
        "current_liabilities / total_assets",
        lambda v, p: _div(v("current_liabilities"), v("total_assets")),
    ),
    "Attr52": (
        "approximate",
        "follows the data: Attr52 = Attr32 / 365 in 92% of rows (no x365 despite the description); " + _COGS,
        lambda v, p: _div(v("current_liabilities"), v("cost_of_goods_sold")),
    ),
    "Attr53": (
        "exact",
        "fixed assets = total_assets - current_assets",
        lambda v, p: _div(v("total_equity"), _fixed_assets(v)),
    ),
    "Attr54": (
        "exact",
        "constant capital = total_equity + long-term liabilities; fixed = total - current assets",
        lambda v, p: _div(_constant_capital(v), _fixed_assets(v)),
    ),
    "Attr56": ("approximate", _COGS, lambda v, p: _div(v("revenue") - v("cost_of_goods_sold"), v("revenue"))),
    "Attr57": (
        "exact",
        "follows the data: Attr57 equals Attr1 / Attr10 (net profit / equity) in 99% of rows; the "
        "description's formula does not match the data",
        lambda v, p: _div(v("net_income"), v("total_equity")),
    ),
    "Attr58": (
        "approximate",
        "total costs ~ revenue - pretax_income (all costs, financial included)",
        lambda v, p: _div(v("revenue") - v("pretax_income"), v("revenue")),
    ),
    "Attr59": ("exact", _LONG_TERM, lambda v, p: _div(_long_term_liabilities(v), v("total_equity"))),
    "Attr60": ("exact", "revenue / inventory", lambda v, p: _div(v("revenue"), v("inventory"))),
    "Attr61": ("exact", "revenue / receivables", lambda v, p: _div(v("revenue"), v("receivables"))),
    "Attr62": (
        "exact",
        "short-term liabilities = current_liabilities",
        lambda v, p: _div(v("current_liabilities") * DAYS_PER_YEAR, v("revenue")),
    ),
    "Attr63": (
        "exact",
        "short-term liabilities = current_liabilities",
        lambda v, p: _div(v("revenue"), v("current_liabilities")),
    ),
    "Attr64": (
        "exact",
        "fixed assets = total_assets - current_assets",
        lambda v, p: _div(v("revenue"), _fixed_assets(v)),
    ),
}

NOT_COMPUTABLE: dict[str, str] = {
    "Attr25": "needs share capital (nominal value of issued shares): not a canonical item, and shares_outstanding "
    "is a count, not an amount",
}

EXCLUDED: dict[str, str] = {
    "Attr29": "logarithm of total assets: depends on scale and currency (Polish SMEs in PLN vs USD/KRW filers)",
    "Attr55": "working capital in money: depends on scale and currency",
}


def _attr_number(name: str) -> int:
    return int(name.removeprefix("Attr"))


def _as_float(value: object) -> float:
    """A statement value as float; None, pd.NA or text become NaN (unknown is never zero)."""
    try:
        out = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return math.nan
    return out if math.isfinite(out) else math.nan


def _evaluate(expression: Expression, current: Current, prior: Prior) -> np.ndarray:
    out = np.asarray(expression(current, prior), dtype=float)
    return np.where(np.isfinite(out), out, np.nan)


def _evaluate_one(expression: Expression, items: Items, prior_years: Sequence[Items]) -> float:
    """One statement's ratio in plain floats; NaN when undefined."""

    def current(name: str) -> float:
        return _as_float(items.get(name))

    def prior(years_back: int, name: str) -> float:
        if years_back > len(prior_years):
            return math.nan
        return _as_float(prior_years[years_back - 1].get(name))

    out = float(expression(current, prior))
    return out if math.isfinite(out) else math.nan


def _scalar_formula(expression: Expression) -> Callable[[Items, Sequence[Items]], float | None]:
    def formula(items: Items, prior_years: Sequence[Items] = ()) -> float | None:
        value = _evaluate_one(expression, items, prior_years)
        return value if math.isfinite(value) else None

    return formula


def _traced_inputs(expression: Expression) -> tuple[str, ...]:
    """The items an expression reads, in order; prior-year items are written ``name[t-k]``."""
    seen: list[str] = []

    def current(name: str) -> float:
        seen.append(name)
        return math.nan

    def prior(years_back: int, name: str) -> float:
        seen.append(f"{name}[t-{years_back}]")
        return math.nan

    expression(current, prior)
    return tuple(dict.fromkeys(seen))


def _build_specs() -> dict[str, RatioSpec]:
    descriptions = _load_descriptions()
    specs = {}
    for name in sorted(_TABLE, key=_attr_number):
        fidelity, note, expression = _TABLE[name]
        specs[name] = RatioSpec(
            name=name,
            description=descriptions[name],
            inputs=_traced_inputs(expression),
            fidelity=fidelity,
            note=note,
            formula=_scalar_formula(expression),
        )
    return specs


RATIO_SPECS: dict[str, RatioSpec] = _build_specs()
MODEL_RATIOS: tuple[str, ...] = tuple(sorted(RATIO_SPECS, key=_attr_number))

#: Attributes that are the same number as another in every row of 5year.arff (pre-tax profit / total assets):
#: models leave them out, so a monotone constraint on Attr7 cannot be undone through an unconstrained copy.
POLISH_ALIASES: dict[str, str] = {"Attr14": "Attr7", "Attr18": "Attr7"}


def _prior_year_inputs() -> dict[int, tuple[str, ...]]:
    """Prior-year items each lag needs, read from the traced ``name[t-k]`` inputs."""
    needed: dict[int, set[str]] = {}
    for spec in RATIO_SPECS.values():
        for name in spec.inputs:
            if "[t-" in name:
                item, lag = name.removesuffix("]").split("[t-")
                needed.setdefault(int(lag), set()).add(item)
    return {lag: tuple(sorted(items)) for lag, items in sorted(needed.items())}


#: {years_back: (item, ...)}: what compute_ratio_frame joins from earlier fiscal years.
PRIOR_YEAR_INPUTS: dict[int, tuple[str, ...]] = _prior_year_inputs()


def mapping_table() -> pd.DataFrame:
    """Every Polish attribute with its status, inputs, fidelity and note: the table the model card prints."""
    descriptions = _load_descriptions()
    rows = []
    for name in sorted(descriptions, key=_attr_number):
        spec = RATIO_SPECS.get(name)
        if spec is not None:
            rows.append(
                {
                    "attribute": name,
                    "description": spec.description,
                    "status": "computed",
                    "inputs": ", ".join(spec.inputs),
                    "fidelity": spec.fidelity,
                    "note": spec.note,
                }
            )
        else:
            status = "excluded" if name in EXCLUDED else "not computable"
            reason = EXCLUDED.get(name) or NOT_COMPUTABLE.get(name, "")
            rows.append(
                {
                    "attribute": name,
                    "description": descriptions[name],
                    "status": status,
                    "inputs": "",
                    "fidelity": "",
                    "note": reason,
                }
            )
    return pd.DataFrame(rows)


def compute_ratios(items: Items, prior_years: Sequence[Items] = ()) -> dict[str, float]:
    """Every model ratio for one statement; NaN where an input is missing or a denominator is zero.

    ``prior_years`` are the statements of fiscal years t-1, t-2, ... (newest first).
    """
    return {name: _evaluate_one(_TABLE[name][2], items, prior_years) for name in MODEL_RATIOS}


def _numeric_column(frame: pd.DataFrame, name: str) -> np.ndarray:
    if name not in frame.columns:
        return np.full(len(frame), np.nan)
    return pd.to_numeric(frame[name], errors="coerce").to_numpy(dtype=float, na_value=np.nan)


def prior_year_values(frame: pd.DataFrame, years_back: int, items: Sequence[str]) -> dict[str, np.ndarray]:
    """Items of fiscal year t - ``years_back`` of the same company, aligned row by row with ``frame``.

    With a ``filed_at`` column the prior year is taken point in time: the latest version filed on or before this
    row's ``filed_at`` (rows without a filing date get none). Without it, the last row per company and fiscal
    year in input order is used.
    """
    out = {item: np.full(len(frame), np.nan) for item in items}
    year = pd.to_numeric(frame["fiscal_year"], errors="coerce")
    left = pd.DataFrame(
        {
            "_row": np.arange(len(frame)),
            "company_id": frame["company_id"].to_numpy(),
            "_year": year.to_numpy(),
        }
    )
    right = pd.DataFrame(
        {"company_id": frame["company_id"].to_numpy(), "_year": year.to_numpy() + years_back}
    )
    for item in items:
        right[item] = _numeric_column(frame, item)
    right["_order"] = np.arange(len(frame))

    if "filed_at" in frame.columns:
        filed = pd.to_datetime(frame["filed_at"], errors="coerce", utc=True).dt.tz_convert(None).to_numpy()
        left["filed_at"], right["filed_at"] = filed, filed
        left = left.dropna(subset=["_year", "filed_at", "company_id"])
        right = right.dropna(subset=["_year", "filed_at", "company_id"])
        left["_year"], right["_year"] = left["_year"].astype("int64"), right["_year"].astype("int64")
        merged = pd.merge_asof(
            left.sort_values("filed_at", kind="stable"),
            right.sort_values(["filed_at", "_order"], kind="stable").drop(columns="_order"),
            on="filed_at",
            by=["company_id", "_year"],
            direction="backward",
            allow_exact_matches=True,
        )
    else:
        left = left.dropna(subset=["_year", "company_id"])
        right = right.dropna(subset=["_year", "company_id"]).drop_duplicates(
            ["company_id", "_year"], keep="last"
        )
        merged = left.merge(right.drop(columns="_order"), on=["company_id", "_year"], how="left")

    rows = merged["_row"].to_numpy(dtype=int)
    for item in items:
        out[item][rows] = merged[item].to_numpy(dtype=float, na_value=np.nan)
    return out


def compute_ratio_frame(statements: pd.DataFrame) -> pd.DataFrame:
    """One column per MODEL_RATIOS name for a frame of statements (company x fiscal year, maybe versions).

    Needs ``company_id`` and ``fiscal_year`` columns beside the canonical items (absent items count as missing).
    Every formula runs once over whole columns; prior years are joined point in time (see prior_year_values).
    Returns a frame with the input's index.
    """
    missing = {"company_id", "fiscal_year"} - set(statements.columns)
    if missing:
        raise ValueError(f"statements lack column(s) {sorted(missing)}")
    columns = {item: _numeric_column(statements, item) for item in CANONICAL_ITEMS}
    priors = {lag: prior_year_values(statements, lag, items) for lag, items in PRIOR_YEAR_INPUTS.items()}

    def current(name: str) -> np.ndarray:
        return columns[name]

    def prior(years_back: int, name: str) -> np.ndarray:
        return priors[years_back][name]

    return pd.DataFrame(
        {name: _evaluate(_TABLE[name][2], current, prior) for name in MODEL_RATIOS},
        index=statements.index,
    )
