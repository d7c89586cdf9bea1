"""Concept maps: which reported line feeds which canonical item, in which order, and why.

Companies change tags over time (Apple: ``SalesRevenueNet`` until FY2017, ``Revenues`` in the FY2018 10-K,
``RevenueFromContractWithCustomerExcludingAssessedTax`` from FY2019; Marvell: ``InterestExpense`` until
FY2024, ``InterestExpenseNonoperating`` after), so the maps are ORDERED fallbacks that the normalisers apply
to each fiscal period (and each filing date) separately, never once per company.

A concept is a list of *synonym groups*. Tags in one group name the same quantity under different
taxonomy versions (a rename); different groups are different quantities, best first (parent equity, then
equity including non-controlling interests). Resolving an item for one period as of one filing:

1. ``tags``: the first group with a value wins. Inside a group the most recently filed value wins, so a
   restatement that comes with a rename is followed (the filing's own figure beats an older comparative);
   inside one filing the earlier tag wins, or the largest value with ``prefer_largest``.
2. ``components``: only when no group of ``tags`` has a value. Each component is one synonym group and the
   item is the sum of the components that have a value (short-term borrowings + current portion of
   long-term debt). The first ``required_components`` components must all be present or there is no sum
   (equity + NCI must not collapse to the NCI alone; domestic + foreign pre-tax income needs both).
3. ``proxies``: only when neither gave a value; a stand-in (cash interest paid for interest expense).

Values from components or proxies are flagged as derived by the normalisers.

SEC tags are written ``taxonomy:Name`` (``us-gaap:Assets``; ``ifrs-full:Revenue`` for IFRS filers on
EDGAR). DART keys are ``account_id`` values, or ``nm:<account_nm>`` for lines filed under the non-standard
code ``-표준계정코드 미사용-`` (names compared without spaces and note marks such as "(주27)").
ifrs-full ``FinanceCosts`` is deliberately absent from ``interest_expense``: it is total finance costs
(Samsung 2023: 12.65T KRW against 0.84T KRW interest paid), not interest.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

Group = tuple[str, ...]


@dataclass(frozen=True)
class Concept:
    """Ordered sources of one canonical (or helper) item; see the module docstring for the rule."""

    tags: tuple[Group, ...] = ()
    components: tuple[Group, ...] = ()
    required_components: int = 0
    proxies: tuple[Group, ...] = ()
    #: Inside one filing take the largest value of a group rather than the first tag: for totals of
    #: non-negative parts (D&A) where filers sometimes put a narrower figure under the usual tag.
    prefer_largest: bool = False

    def all_sources(self) -> tuple[str, ...]:
        """Every tag/account this concept may read, for pre-filtering raw facts."""
        out = [tag for group in self.tags + self.components + self.proxies for tag in group]
        return tuple(dict.fromkeys(out))


#: lookup(tag) -> (value, recency) of the tag's latest value for the period, or None. A larger recency
#: was filed later; equal recencies come from the same filing.
Lookup = Callable[[str], tuple[float, Any] | None]


def _newest_in_group(group: Group, lookup: Lookup, prefer_largest: bool = False) -> float | None:
    best: tuple[float, Any] | None = None
    for tag in group:
        hit = lookup(tag)
        if hit is None:
            continue
        if best is None or hit[1] > best[1] or (prefer_largest and hit[1] == best[1] and hit[0] > best[0]):
            best = hit
    return None if best is None else best[0]


def _first_group(groups: tuple[Group, ...], lookup: Lookup, prefer_largest: bool = False) -> float | None:
    for group in groups:
        value = _newest_in_group(group, lookup, prefer_largest)
        if value is not None:
            return value
    return None


def resolve(concept: Concept, lookup: Lookup) -> tuple[float | None, bool]:
    """Apply a concept to one period: (value or None, whether it came from components or a proxy)."""
    value = _first_group(concept.tags, lookup, concept.prefer_largest)
    if value is not None:
        return value, False
    if concept.components:
        parts = [_newest_in_group(group, lookup) for group in concept.components]
        if all(part is not None for part in parts[: concept.required_components]):
            present = [part for part in parts if part is not None]
            if present:
                return float(sum(present)), True
    value = _first_group(concept.proxies, lookup)
    return (value, True) if value is not None else (None, False)


def resolve_items(
    items: Iterable[str], concept_for: Mapping[str, Concept], lookup_for: Callable[[str], Lookup]
) -> tuple[dict[str, float | None], set[str]]:
    """Resolve each item with its concept and its lookup: (values, the items that came from components or
    proxies). An item without a concept (derived only, e.g. ebitda, filled by the derivations) is None."""
    values: dict[str, float | None] = {}
    derived: set[str] = set()
    for item in items:
        if item not in concept_for:
            values[item] = None
            continue
        value, is_derived = resolve(concept_for[item], lookup_for(item))
        values[item] = value
        if is_derived and value is not None:
            derived.add(item)
    return values, derived


# --------------------------------------------------------------------------------------------------
# SEC companyfacts (us-gaap, ifrs-full)
# --------------------------------------------------------------------------------------------------

SEC_CONCEPTS: dict[str, Concept] = {
    # ---- Balance sheet: instants at the fiscal-year end.
    "total_assets": Concept(tags=(("us-gaap:Assets", "ifrs-full:Assets"),)),
    # Not tagged by McDonald's, Walmart, Nike, Disney and NVIDIA before FY2015: derived in sec_statements
    # from assets - equity incl. NCI - temporary equity (never total_assets from the identity).
    "total_liabilities": Concept(tags=(("us-gaap:Liabilities", "ifrs-full:Liabilities"),)),
    "current_assets": Concept(tags=(("us-gaap:AssetsCurrent", "ifrs-full:CurrentAssets"),)),
    "current_liabilities": Concept(tags=(("us-gaap:LiabilitiesCurrent", "ifrs-full:CurrentLiabilities"),)),
    "cash": Concept(
        tags=(
            (
                "us-gaap:CashAndCashEquivalentsAtCarryingValue",
                "us-gaap:Cash",
                "ifrs-full:CashAndCashEquivalents",
            ),
        ),
        # The cash-flow statement total includes restricted cash: a stand-in only.
        proxies=(("us-gaap:CashCashEquivalentsRestrictedCashAndRestrictedCashEquivalents",),),
    ),
    "receivables": Concept(
        tags=(
            (
                "us-gaap:AccountsReceivableNetCurrent",
                "us-gaap:ReceivablesNetCurrent",  # Walmart, Costco, Disney
                "us-gaap:AccountsNotesAndLoansReceivableNetCurrent",  # McDonald's
                "ifrs-full:TradeAndOtherCurrentReceivables",
            ),
            # Unclassified balance sheets (Hertz); Walmart tags a part of its receivables with it.
            ("us-gaap:AccountsReceivableNet", "ifrs-full:CurrentTradeReceivables"),
        )
    ),
    "inventory": Concept(
        tags=(
            ("us-gaap:InventoryNet", "ifrs-full:Inventories"),
            # Nike (FY2012 on) reports only finished goods, which is its whole inventory. Raw components
            # such as InventoryFinishedGoods (TI, NVIDIA) are left out.
            ("us-gaap:InventoryFinishedGoodsNetOfReserves",),
        )
    ),
    # The parent's equity, as canonical.py defines it; equity including NCI only when that is all there is.
    "total_equity": Concept(
        tags=(
            # The balance-sheet total (with non-controlling interests) first, so A = L + E holds and SEC
            # and DART (ifrs-full_Equity) mean the same thing; parent-only equity when that is all there is.
            (
                "us-gaap:StockholdersEquityIncludingPortionAttributableToNoncontrollingInterest",
                "ifrs-full:Equity",
            ),
            ("us-gaap:StockholdersEquity", "ifrs-full:EquityAttributableToOwnersOfParent"),
        )
    ),
    "retained_earnings": Concept(
        tags=(("us-gaap:RetainedEarningsAccumulatedDeficit", "ifrs-full:RetainedEarnings"),)
    ),
    "long_term_debt": Concept(
        tags=(
            (
                "us-gaap:LongTermDebtNoncurrent",
                # "excluding current maturities": Home Depot, SunEdison, Nikola, Hertz.
                "us-gaap:LongTermDebtAndCapitalLeaseObligations",
                "ifrs-full:NoncurrentPortionOfNoncurrentBorrowings",
                "ifrs-full:LongtermBorrowings",
            ),
            ("us-gaap:LongTermNotesPayable",),
        ),
        # Total long-term debt including current maturities (NVIDIA FY2014-2019, Apple FY2013 tag only
        # this): overstates the non-current part when some debt is current, hence a flagged stand-in.
        proxies=(("us-gaap:LongTermDebt",),),
    ),
    "short_term_debt": Concept(
        tags=(("us-gaap:DebtCurrent", "ifrs-full:CurrentBorrowingsAndCurrentPortionOfNoncurrentBorrowings"),),
        # Most filers show short-term borrowings and the current portion of long-term debt as separate lines
        # (Apple: CommercialPaper + LongTermDebtCurrent). Only one tag per component is taken, so commercial
        # paper is not added to a ShortTermBorrowings total that already holds it.
        components=(
            (
                "us-gaap:ShortTermBorrowings",
                "us-gaap:CommercialPaper",
                "us-gaap:OtherShortTermBorrowings",
                "ifrs-full:ShorttermBorrowings",
            ),
            (
                "us-gaap:LongTermDebtCurrent",
                "us-gaap:LongTermDebtAndCapitalLeaseObligationsCurrent",
                "us-gaap:ConvertibleDebtCurrent",  # NVIDIA FY2015-2019
                "ifrs-full:CurrentPortionOfLongtermBorrowings",
            ),
        ),
    ),
    # us-gaap at the balance-sheet date, not the dei cover-page count (a later date). When it is not
    # tagged, sec_statements uses issued - treasury shares (see SEC_HELPER_CONCEPTS).
    "shares_outstanding": Concept(
        tags=(("us-gaap:CommonStockSharesOutstanding", "ifrs-full:NumberOfSharesOutstanding"),)
    ),
    # ---- Income statement and cash flow: full-year durations.
    "revenue": Concept(
        tags=(
            # Total revenues first: Walmart and Costco report Revenues (incl. membership income) beside
            # net sales, and Hertz's RevenueFromContractWithCustomer... is a small part of its Revenues.
            ("us-gaap:Revenues",),
            # The same quantity across taxonomy versions: SalesRevenueNet (pre-2018), then the ASC 606 tags.
            (
                "us-gaap:RevenueFromContractWithCustomerExcludingAssessedTax",
                "us-gaap:RevenueFromContractWithCustomerIncludingAssessedTax",
                "us-gaap:SalesRevenueNet",
                "ifrs-full:Revenue",
                "ifrs-full:RevenueFromContractsWithCustomers",
            ),
            # McDonald's tags company-operated sales with it beside Revenues: last resort only.
            ("us-gaap:SalesRevenueGoodsNet",),
        )
    ),
    "cost_of_goods_sold": Concept(
        tags=(
            (
                "us-gaap:CostOfGoodsAndServicesSold",
                "us-gaap:CostOfRevenue",
                "us-gaap:CostOfGoodsSold",  # pre-2018 taxonomy
                "ifrs-full:CostOfSales",
            ),
        )
    ),
    "gross_profit": Concept(tags=(("us-gaap:GrossProfit", "ifrs-full:GrossProfit"),)),
    "operating_expenses": Concept(
        tags=(("us-gaap:OperatingExpenses", "ifrs-full:OperatingExpense"),),
        # Retailers and Nike have no OperatingExpenses total: their SG&A line is the operating expense line;
        # R&D is added where it is reported separately.
        components=(
            (
                "us-gaap:SellingGeneralAndAdministrativeExpense",
                "ifrs-full:SellingGeneralAndAdministrativeExpense",
            ),
            ("us-gaap:ResearchAndDevelopmentExpense", "ifrs-full:ResearchAndDevelopmentExpense"),
        ),
        required_components=1,
    ),
    "ebit": Concept(tags=(("us-gaap:OperatingIncomeLoss", "ifrs-full:ProfitLossFromOperatingActivities"),)),
    "depreciation_amortization": Concept(
        tags=(
            (
                "us-gaap:DepreciationDepletionAndAmortization",
                "us-gaap:DepreciationAmortizationAndAccretionNet",
                "us-gaap:DepreciationAndAmortization",
                "ifrs-full:DepreciationAndAmortisationExpense",
                "ifrs-full:AdjustmentsForDepreciationAndAmortisationExpense",  # the cash-flow add-back
            ),
        ),
        # Apple's FY2017 10-K put PP&E depreciation (8,300m for FY2016) under DepreciationDepletionAnd-
        # Amortization and the cash-flow total (10,505m) under DepreciationAmortizationAndAccretionNet; Home
        # Depot's DepreciationAndAmortization leaves out depreciation in cost of sales. Take the largest.
        prefer_largest=True,
        components=(
            ("us-gaap:Depreciation", "us-gaap:DepreciationNonproduction", "ifrs-full:DepreciationExpense"),
            ("us-gaap:AmortizationOfIntangibleAssets", "ifrs-full:AmortisationExpense"),
        ),
        required_components=1,
    ),
    "interest_expense": Concept(
        tags=(
            (
                "us-gaap:InterestExpense",
                "us-gaap:InterestExpenseNonoperating",  # 2023+ taxonomy: Marvell, NVIDIA, Home Depot
                "us-gaap:InterestAndDebtExpense",  # Texas Instruments
                "us-gaap:InterestExpenseOperating",  # Hertz FY2023+: interest classified as operating
                "ifrs-full:InterestExpense",
            ),
            ("us-gaap:InterestExpenseDebt",),  # Walmart: interest on debt, without finance-lease interest
        ),
        # Net interest lines (InterestIncomeExpenseNet...) are NOT used: interest income nets them down.
        # Cash interest paid is the documented stand-in (Nike and Nikola tag no expense line).
        proxies=(
            ("us-gaap:InterestPaidNet", "us-gaap:InterestPaid"),
            (
                "ifrs-full:InterestPaidClassifiedAsOperatingActivities",
                "ifrs-full:InterestPaidClassifiedAsFinancingActivities",
            ),
        ),
    ),
    "pretax_income": Concept(
        tags=(
            (
                "us-gaap:IncomeLossFromContinuingOperationsBeforeIncomeTaxesExtraordinaryItemsNoncontrollingInterest",
                "us-gaap:IncomeLossFromContinuingOperationsBeforeIncomeTaxesMinorityInterestAndIncomeLossFromEquityMethodInvestments",
                "ifrs-full:ProfitLossBeforeTax",
            ),
        ),
        # McDonald's tags only the domestic and foreign parts of its pre-tax income.
        components=(
            ("us-gaap:IncomeLossFromContinuingOperationsBeforeIncomeTaxesDomestic",),
            ("us-gaap:IncomeLossFromContinuingOperationsBeforeIncomeTaxesForeign",),
        ),
        required_components=2,
    ),
    "net_income": Concept(
        tags=(
            ("us-gaap:NetIncomeLoss", "ifrs-full:ProfitLossAttributableToOwnersOfParent"),  # to the parent
            # Including NCI: closer to the parent's figure than income after preferred dividends.
            ("us-gaap:ProfitLoss", "ifrs-full:ProfitLoss"),
            ("us-gaap:NetIncomeLossAvailableToCommonStockholdersBasic",),
        )
    ),
    "operating_cash_flow": Concept(
        tags=(
            (
                "us-gaap:NetCashProvidedByUsedInOperatingActivities",
                "ifrs-full:CashFlowsFromUsedInOperatingActivities",
            ),
            ("us-gaap:NetCashProvidedByUsedInOperatingActivitiesContinuingOperations",),
        ),
        # IFRS "cash generated from operations" is before interest and taxes paid: a flagged stand-in.
        proxies=(("ifrs-full:CashFlowsFromUsedInOperations",),),
    ),
}

#: Helper items used only by derivations in sec_statements (never output columns).
SEC_HELPER_CONCEPTS: dict[str, Concept] = {
    # Equity including non-controlling interest, for total_liabilities = assets - this - temporary equity.
    "equity_including_nci": Concept(
        tags=(
            (
                "us-gaap:StockholdersEquityIncludingPortionAttributableToNoncontrollingInterest",
                "ifrs-full:Equity",
            ),
        ),
        components=(
            ("us-gaap:StockholdersEquity", "ifrs-full:EquityAttributableToOwnersOfParent"),
            ("us-gaap:MinorityInterest", "ifrs-full:NoncontrollingInterests"),
        ),
        required_components=1,
    ),
    # Mezzanine equity (redeemable preferred stock, redeemable NCI) is neither liability nor equity under US
    # GAAP; it is taken out so that a derived total_liabilities means what a reported Liabilities means.
    "temporary_equity": Concept(
        tags=(
            ("us-gaap:TemporaryEquityCarryingAmountIncludingPortionAttributableToNoncontrollingInterests",),
        ),
        components=(
            (
                "us-gaap:TemporaryEquityCarryingAmountAttributableToParent",
                "us-gaap:TemporaryEquityCarryingAmount",
                "us-gaap:TemporaryEquityValueExcludingAdditionalPaidInCapital",  # NVIDIA FY2015-2018
            ),
            (
                "us-gaap:RedeemableNoncontrollingInterestEquityCarryingAmount",
                "us-gaap:TemporaryEquityCarryingAmountAttributableToNoncontrollingInterest",
                "us-gaap:RedeemableNoncontrollingInterestEquityCommonCarryingAmount",
            ),
        ),
    ),
    # shares_outstanding = issued - treasury (both at the balance-sheet date) when CommonStockShares-
    # Outstanding is not tagged (Texas Instruments, McDonald's, SunEdison); only when both are known, since
    # an untagged treasury count cannot be told from a zero one.
    "shares_issued": Concept(tags=(("us-gaap:CommonStockSharesIssued",),)),
    "treasury_shares": Concept(tags=(("us-gaap:TreasuryStockShares",),)),
}

#: Items whose unit is a share count rather than the reporting currency.
SEC_SHARE_ITEMS: frozenset[str] = frozenset({"shares_outstanding", "shares_issued", "treasury_shares"})

# --------------------------------------------------------------------------------------------------
# OpenDART fnlttSinglAcntAll (K-IFRS account_id, account_nm for non-standard lines)
# --------------------------------------------------------------------------------------------------

#: account_id of lines a company filed with no standard code; only account_nm identifies them.
DART_NONSTANDARD_ACCOUNT_ID = "-표준계정코드 미사용-"
#: Prefix of an account-name key in DART concepts.
DART_NAME_PREFIX = "nm:"


@dataclass(frozen=True)
class DartConcept:
    """A Concept over fnlttSinglAcntAll rows, restricted to the statements (sj_div) it may come from,
    searched in that order."""

    concept: Concept
    statements: tuple[str, ...]


_BS = ("BS",)
_PL = ("IS", "CIS")  # a single-statement filer puts the whole income statement in CIS
_CF = ("CF",)

DART_CONCEPTS: dict[str, DartConcept] = {
    "total_assets": DartConcept(Concept(tags=(("ifrs-full_Assets", "nm:자산총계"),)), _BS),
    "total_liabilities": DartConcept(Concept(tags=(("ifrs-full_Liabilities", "nm:부채총계"),)), _BS),
    "current_assets": DartConcept(Concept(tags=(("ifrs-full_CurrentAssets", "nm:유동자산"),)), _BS),
    "current_liabilities": DartConcept(Concept(tags=(("ifrs-full_CurrentLiabilities", "nm:유동부채"),)), _BS),
    "cash": DartConcept(Concept(tags=(("ifrs-full_CashAndCashEquivalents", "nm:현금및현금성자산"),)), _BS),
    "receivables": DartConcept(
        Concept(
            tags=(
                ("ifrs-full_TradeAndOtherCurrentReceivables", "nm:매출채권및기타채권"),
                # Samsung: 매출채권 (trade receivables) only
                ("ifrs-full_CurrentTradeReceivables", "dart_ShortTermTradeReceivable", "nm:매출채권"),
            )
        ),
        _BS,
    ),
    "inventory": DartConcept(Concept(tags=(("ifrs-full_Inventories", "nm:재고자산"),)), _BS),
    "total_equity": DartConcept(
        Concept(
            tags=(("ifrs-full_Equity", "nm:자본총계"), ("ifrs-full_EquityAttributableToOwnersOfParent",))
        ),
        _BS,
    ),
    "retained_earnings": DartConcept(Concept(tags=(("ifrs-full_RetainedEarnings", "nm:이익잉여금"),)), _BS),
    "long_term_debt": DartConcept(
        Concept(
            tags=(("ifrs-full_NoncurrentPortionOfNoncurrentBorrowings", "ifrs-full_LongtermBorrowings"),),
            # Samsung shows bonds (사채) and long-term loans (장기차입금) as separate lines and no total.
            components=(
                ("ifrs-full_NoncurrentPortionOfNoncurrentBondsIssued", "ifrs-full_BondsIssued", "nm:사채"),
                ("ifrs-full_NoncurrentPortionOfNoncurrentLoansReceived", "nm:장기차입금"),
            ),
        ),
        _BS,
    ),
    "short_term_debt": DartConcept(
        Concept(
            tags=(("ifrs-full_CurrentBorrowingsAndCurrentPortionOfNoncurrentBorrowings",),),
            # Samsung: 단기차입금 (a non-standard line) + 유동성장기부채 (current portion of long-term debt).
            components=(
                ("ifrs-full_ShorttermBorrowings", "nm:단기차입금"),
                (
                    "ifrs-full_CurrentPortionOfLongtermBorrowings",
                    "ifrs-full_CurrentPortionOfNoncurrentBorrowings",
                    "nm:유동성장기부채",
                    "nm:유동성장기차입금",
                ),
            ),
        ),
        _BS,
    ),
    # fnlttSinglAcntAll carries no share count: unknown here (DART's stock-total endpoint has it).
    "shares_outstanding": DartConcept(Concept(), _BS),
    "revenue": DartConcept(
        Concept(
            tags=(
                (
                    "ifrs-full_Revenue",
                    "ifrs-full_RevenueFromContractsWithCustomers",
                    "nm:매출액",
                    "nm:영업수익",
                ),
            )
        ),
        _PL,
    ),
    "cost_of_goods_sold": DartConcept(Concept(tags=(("ifrs-full_CostOfSales", "nm:매출원가"),)), _PL),
    "gross_profit": DartConcept(Concept(tags=(("ifrs-full_GrossProfit", "nm:매출총이익"),)), _PL),
    # 판매비와관리비 (SG&A) is the K-IFRS operating-expense line between gross profit and operating income.
    "operating_expenses": DartConcept(
        Concept(
            tags=(
                (
                    "dart_TotalSellingGeneralAdministrativeExpenses",
                    "ifrs-full_SellingGeneralAndAdministrativeExpense",
                    "nm:판매비와관리비",
                ),
            )
        ),
        _PL,
    ),
    # K-IFRS operating income (영업이익) is a DART element, not an ifrs-full one.
    "ebit": DartConcept(
        Concept(
            tags=(("dart_OperatingIncomeLoss", "ifrs-full_ProfitLossFromOperatingActivities", "nm:영업이익"),)
        ),
        _PL,
    ),
    # Not in Samsung's statements (D&A is only in the notes), so its ebitda stays unknown.
    "depreciation_amortization": DartConcept(
        Concept(
            tags=(
                (
                    "ifrs-full_DepreciationAndAmortisationExpense",
                    "ifrs-full_AdjustmentsForDepreciationAndAmortisationExpense",
                ),
            ),
            components=(
                (
                    "ifrs-full_DepreciationExpense",
                    "ifrs-full_AdjustmentsForDepreciationExpense",
                    "nm:감가상각비",
                ),
                (
                    "ifrs-full_AmortisationExpense",
                    "ifrs-full_AdjustmentsForAmortisationExpense",
                    "nm:무형자산상각비",
                ),
            ),
            required_components=1,
        ),
        _PL + _CF,
    ),
    # NOT ifrs-full_FinanceCosts (total finance costs: 12.65T vs 0.84T interest paid for Samsung 2023).
    # Samsung shows no interest-expense line, so interest paid from the cash-flow statement stands in.
    "interest_expense": DartConcept(
        Concept(
            tags=(("ifrs-full_InterestExpense", "nm:이자비용"),),
            proxies=(
                (
                    "ifrs-full_InterestPaidClassifiedAsOperatingActivities",
                    "ifrs-full_InterestPaidClassifiedAsFinancingActivities",
                    "nm:이자의지급",
                    "nm:이자지급",
                ),
            ),
        ),
        _PL + _CF,
    ),
    "pretax_income": DartConcept(
        Concept(
            tags=(
                (
                    "ifrs-full_ProfitLossBeforeTax",
                    "nm:법인세비용차감전순이익(손실)",
                    "nm:법인세비용차감전순이익",
                ),
            )
        ),
        _PL,
    ),
    "net_income": DartConcept(
        Concept(
            tags=(
                ("ifrs-full_ProfitLossAttributableToOwnersOfParent",),
                ("ifrs-full_ProfitLoss", "nm:당기순이익(손실)", "nm:당기순이익"),
            )
        ),
        _PL,
    ),
    "operating_cash_flow": DartConcept(
        Concept(tags=(("ifrs-full_CashFlowsFromUsedInOperatingActivities", "nm:영업활동현금흐름"),)), _CF
    ),
}

#: Helper items for DART derivations (never output columns).
DART_HELPER_CONCEPTS: dict[str, DartConcept] = {
    "equity_including_nci": DartConcept(
        Concept(
            tags=(("ifrs-full_Equity", "nm:자본총계"),),
            components=(
                ("ifrs-full_EquityAttributableToOwnersOfParent",),
                ("ifrs-full_NoncontrollingInterests",),
            ),
            required_components=1,
        ),
        _BS,
    ),
}
