"""A large recorded universe made from the bundled real SEC filers: for a backfill test of ~1,000 companies.

Each synthetic company is a copy of one bundled filer's recorded companyfacts (and submissions, where bundled)
under a new CIK and name, every reported value scaled by a factor of its own (0.9 to 1.1), written in the layout of
risk_assets/data (universe.csv, sec/companyfacts/CIK<cik>.json.gz, sec/submissions/CIK<cik>.json.gz), so
``BundledFilings(data_folder=...)`` / RISKGRAPH_BUNDLED_DATA serve them through the same code as the packaged 14.

Only the taxonomy facts the SEC normaliser maps are kept (core/concepts.py: every source tag of SEC_CONCEPTS and
SEC_HELPER_CONCEPTS, and the dei facts): the statements are the same as from the whole document, and a company's
documents are ~0.5 MB instead of ~4 MB, so 1,000 of them are written, stored and parsed within a test's minutes.
The submissions keep their newest ``SUBMISSIONS_KEPT`` filings.
"""

from __future__ import annotations

import csv
import gzip
import json
import random
from pathlib import Path

from risk_assets.core.concepts import SEC_CONCEPTS, SEC_HELPER_CONCEPTS
from risk_assets.defs.sources import bundled

#: CIKs of the synthetic companies start here (real CIKs are below 2,100,000 today).
FIRST_CIK = 9_100_000_000
SUBMISSIONS_KEPT = 100
UNIVERSE_COLUMNS = (
    "company_id",
    "name",
    "ticker",
    "cik",
    "dart_corp_code",
    "country",
    "currency",
    "sic",
    "induty_code",
    "fiscal_year_end",
    "note",
)


def _mapped_facts(companyfacts: dict) -> dict:
    """The document with only the facts the normaliser reads."""
    tags = {
        tag for concept in {**SEC_CONCEPTS, **SEC_HELPER_CONCEPTS}.values() for tag in concept.all_sources()
    }
    facts = companyfacts.get("facts") or {}
    kept = {
        taxonomy: {
            name: concept
            for name, concept in concepts.items()
            if taxonomy == "dei" or f"{taxonomy}:{name}" in tags
        }
        for taxonomy, concepts in facts.items()
    }
    return {**companyfacts, "facts": kept}


def _scaled(companyfacts: dict, factor: float, cik: str, name: str) -> dict:
    """A copy under another identity with every reported value times ``factor`` (integers stay integers)."""

    def scale(value: object) -> object:
        if isinstance(value, bool) or not isinstance(value, int | float):
            return value
        return round(value * factor) if isinstance(value, int) else value * factor

    facts = {
        taxonomy: {
            tag: {
                **concept,
                "units": {
                    unit: [{**fact, "val": scale(fact.get("val"))} for fact in rows]
                    for unit, rows in (concept.get("units") or {}).items()
                },
            }
            for tag, concept in concepts.items()
        }
        for taxonomy, concepts in companyfacts["facts"].items()
    }
    return {**companyfacts, "cik": int(cik), "entityName": name, "facts": facts}


def _renamed_submissions(submissions: dict, cik: str, name: str) -> dict:
    recent = submissions.get("filings", {}).get("recent", {})
    kept = {column: values[:SUBMISSIONS_KEPT] for column, values in recent.items()}
    return {**submissions, "cik": cik, "name": name, "tickers": [], "filings": {"recent": kept, "files": []}}


def write_synthetic_filers(folder: Path, count: int, seed: int = 20240101) -> list[str]:
    """Write ``count`` synthetic SEC filers under ``folder`` (the layout of risk_assets/data); their company ids."""
    bases = []
    for row in bundled.universe_rows():
        documents = (
            {d.kind: json.loads(d.body) for d in bundled.sec_documents(row["cik"])} if row["cik"] else {}
        )
        if "companyfacts" in documents:
            bases.append((row, _mapped_facts(documents["companyfacts"]), documents.get("submissions")))
    if not bases:
        raise RuntimeError("no bundled SEC companyfacts to copy")
    (folder / "sec" / "companyfacts").mkdir(parents=True, exist_ok=True)
    (folder / "sec" / "submissions").mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    rows, company_ids = [], []
    for index in range(count):
        base, facts, submissions = bases[index % len(bases)]
        cik = f"{FIRST_CIK + index:010d}"
        name = f"{base['name']} (synthetic {index:04d})"
        factor = 1 + rng.uniform(-0.1, 0.1)
        documents = {"companyfacts": _scaled(facts, factor, cik, name)}
        if submissions is not None:
            documents["submissions"] = _renamed_submissions(submissions, cik, name)
        for kind, document in documents.items():
            body = json.dumps(document, separators=(",", ":")).encode()
            (folder / "sec" / kind / f"CIK{cik}.json.gz").write_bytes(gzip.compress(body, compresslevel=1))
        company_id = f"sec-{cik}"
        company_ids.append(company_id)
        rows.append(
            {
                **{column: base.get(column, "") for column in UNIVERSE_COLUMNS},
                "company_id": company_id,
                "name": name,
                "ticker": "",
                "cik": cik,
                "note": f"synthetic copy of {base['company_id']}, values x {factor:.4f}",
            }
        )
    with open(folder / "universe.csv", "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=UNIVERSE_COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    return company_ids
