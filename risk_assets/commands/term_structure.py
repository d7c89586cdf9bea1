"""`riskgraph term-structure COMPANY`: a company's cumulative PDs over 1 to 5 years from its current PD
(core/term_structure.py: a mean-reverting hazard fitted on the US listed panel)."""

from __future__ import annotations

import argparse
import sys


def print_term_structure(company_id: str, out=None) -> int:
    from risk_assets.commands import open_warehouse
    from risk_assets.core.term_structure import FITTED
    from risk_assets.storage import queries

    out = out or sys.stdout
    warehouse = open_warehouse()
    try:
        current = queries.company_history(warehouse, company_id, kind="current")
        company = queries.get_company(warehouse, company_id)
    finally:
        warehouse.dispose()
    if not current:
        print(
            f"term-structure: no current score for {company_id!r} (is it in the universe and scored?)",
            file=out,
        )
        return 2
    latest = current[-1]
    if latest.get("pd") is None:
        print(f"term-structure: {company_id} has no PD ({latest.get('status')})", file=out)
        return 2
    if latest["in_default"]:
        print(
            f"{company['name'] if company else company_id}: in default (PD 100% at every horizon)", file=out
        )
        return 0
    print(
        f"{company['name'] if company else company_id}: one-year PD {latest['pd']:.2%} as of {latest['as_of']} "
        f"(rho {FITTED.rho}, long-run hazard {FITTED.long_run:.2%}; {FITTED.source})",
        file=out,
    )
    print(" years  cumulative  in that year  if alive at its start", file=out)
    for point in FITTED.curve(float(latest["pd"])):
        print(
            f"{point['years']:>6}  {point['cumulative_pd']:>10.2%}  {point['marginal_pd']:>12.2%}  "
            f"{point['hazard']:>21.2%}",
            file=out,
        )
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "term-structure", help="a company's cumulative PDs over 1 to 5 years", description=__doc__
    )
    parser.add_argument("company_id", help="e.g. sec-0000320193")
    parser.set_defaults(handler=lambda args: print_term_structure(args.company_id))
