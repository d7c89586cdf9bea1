"""One sector list for SEC SIC codes and DART KSIC (`induty_code`), and the financial-firm exclusion.

Financial firms (SIC 6000-6799, KSIC section K = divisions 64-66) are out of the bundled model's scope: their
balance sheets (deposits, loans) make industrial ratios meaningless.
"""

from __future__ import annotations

SECTORS = (
    "Agriculture & Mining",
    "Construction",
    "Manufacturing",
    "Transportation & Utilities",
    "Wholesale & Retail Trade",
    "Finance, Insurance & Real Estate",
    "Services",
    "Public Administration",
    "Unknown",
)

# SEC SIC divisions (https://www.sec.gov/search-filings/standard-industrial-classification-sic-code-list)
_SIC_RANGES = (
    (100, 1499, "Agriculture & Mining"),
    (1500, 1799, "Construction"),
    (2000, 3999, "Manufacturing"),
    (4000, 4999, "Transportation & Utilities"),
    (5000, 5999, "Wholesale & Retail Trade"),
    (6000, 6799, "Finance, Insurance & Real Estate"),
    (7000, 8999, "Services"),
    (9100, 9999, "Public Administration"),
)

# KSIC (10th revision) divisions, by the first two digits of induty_code.
_KSIC_RANGES = (
    (1, 8, "Agriculture & Mining"),
    (10, 34, "Manufacturing"),
    (35, 39, "Transportation & Utilities"),
    (41, 42, "Construction"),
    (45, 47, "Wholesale & Retail Trade"),
    (49, 52, "Transportation & Utilities"),
    (55, 63, "Services"),
    (64, 68, "Finance, Insurance & Real Estate"),
    (70, 75, "Services"),
    (84, 84, "Public Administration"),
    (85, 99, "Services"),
)


def sector_from_sic(sic: str | int | None) -> str:
    try:
        code = int(str(sic).strip())
    except (TypeError, ValueError):
        return "Unknown"
    for low, high, name in _SIC_RANGES:
        if low <= code <= high:
            return name
    return "Unknown"


def sector_from_ksic(induty_code: str | None) -> str:
    text = str(induty_code or "").strip()
    if len(text) < 2 or not text[:2].isdigit():
        return "Unknown"
    division = int(text[:2])
    for low, high, name in _KSIC_RANGES:
        if low <= division <= high:
            return name
    return "Unknown"


def is_financial_sic(sic: str | int | None) -> bool:
    try:
        return 6000 <= int(str(sic).strip()) <= 6799
    except (TypeError, ValueError):
        return False


def is_financial_ksic(induty_code: str | None) -> bool:
    text = str(induty_code or "").strip()
    return len(text) >= 2 and text[:2].isdigit() and 64 <= int(text[:2]) <= 66
