"""Where companies, filings and market data come from: the work behind the source resources of
``defs/resources.py`` (``FilingsSource``: ``BundledFilings`` / ``LiveFilings``; ``MarketSource``: ``BundledMarket``
/ ``LiveMarket``), one interface per source kind with a bundled and a live implementation, chosen once in
``Definitions`` from ``RISKGRAPH_DATA_SOURCE``.

- ``BundledFilings`` / ``LiveFilings``: the company universe, each company's raw documents, and how far its filing
  list is complete. Bundled: data/universe.csv and the recorded responses in data/ (bundled.py), stored exactly as a
  fetch stores them. Live: the watchlist enriched from SEC submissions / OpenDART company.json, and the documents
  fetched through the clients, every body stored (RawCapture) before anything parses it.
- ``BundledMarket`` / ``LiveMarket``: macro series and daily price charts (data/fred, data/yahoo; or FRED, ECOS and
  the price client).

Each live implementation opens its clients for one run and closes them, so no asset owns a client's lifetime
and no asset body asks which mode it is in.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from typing import Any

import dagster as dg
import pandas as pd

from risk_assets.clients import SourceError
from risk_assets.clients.fred import parse_observations
from risk_assets.core import events as event_parsers
from risk_assets.core.macro import MacroSeries
from risk_assets.core.sectors import is_financial_ksic, is_financial_sic, sector_from_ksic, sector_from_sic
from risk_assets.defs.sources import bundled, fetch
from risk_assets.storage.warehouse import utc_now
from risk_assets.storage.watchlist import list_watchlist

ECOS_FIRST_YEAR = 2005


def company_row(row: dict[str, Any], updated_at: dt.datetime) -> dict:
    """A companies row from identifiers and classification codes (universe CSV, watchlist, bulk archives)."""
    sic, ksic = row.get("sic") or None, row.get("induty_code") or None
    return {
        "company_id": row["company_id"],
        "name": row["name"],
        "ticker": row.get("ticker") or None,
        "cik": row.get("cik") or None,
        "dart_corp_code": row.get("dart_corp_code") or None,
        "country": row["country"],
        "currency": row.get("currency") or None,
        "sic": sic,
        "induty_code": ksic,
        "sector": sector_from_sic(sic) if sic else sector_from_ksic(ksic),
        "is_financial": is_financial_sic(sic) or is_financial_ksic(ksic),
        "fiscal_year_end": row.get("fiscal_year_end") or None,
        "source": "sec" if row.get("cik") else "dart",
        "updated_at": updated_at,
    }


def newest_filing_date(payloads: list[dict]) -> dt.date:
    """The bundled snapshot's horizon: it was taken at its newest filing (later deadlines would invent misses)."""
    dates = []
    for payload in payloads:
        filings = payload.get("filings")
        columns = (filings.get("recent") or {}) if isinstance(filings, dict) else payload
        dates += [event_parsers.parse_loose_date(d) for d in columns.get("filingDate") or []]
        dates += [
            event_parsers.parse_loose_date(str(r.get("rcept_dt") or "")) for r in payload.get("list") or []
        ]
    return max((d for d in dates if d is not None), default=dt.date.min)


def bundled_universe(data_folder: str = "") -> list[dict]:
    now = utc_now()
    return [company_row(row, now) for row in bundled.universe_rows(data_folder)]


def store_bundled_documents(
    store, objects, companies: pd.DataFrame, log, data_folder: str = ""
) -> tuple[int, int, list[str]]:
    """Each company's bundled documents, stored exactly as a fetch stores them: (documents, bytes, failed)."""
    stored = total_bytes = 0
    for _, company in companies.iterrows():
        capture = fetch.RawCapture(objects, company_id=company["company_id"])
        for document in _bundled_documents(company, data_folder):
            capture.store(document.source, document.kind, document.body, document.content_type)
        rows = capture.take_rows()
        if not rows:
            log.warning(f"no source documents for {company['company_id']}")
        # One transaction per partition; same bytes -> same key, so a re-run updates fetched_at only.
        store.upsert("raw_filings", rows)
        stored += len(rows)
        total_bytes += sum(r["size_bytes"] for r in rows)
    return stored, total_bytes, []


def _bundled_documents(company: pd.Series, data_folder: str) -> list[bundled.RawDocument]:
    if company["cik"]:
        return bundled.sec_documents(company["cik"], data_folder)
    if company["dart_corp_code"]:
        return bundled.dart_documents(company["dart_corp_code"], data_folder)
    return []


def fetched_on(fetched: pd.DataFrame, source: str, kind_prefix: str) -> dt.date:
    """A live filing list is complete up to the day it was fetched."""
    mine = fetched[(fetched["source"] == source) & fetched["kind"].str.startswith(kind_prefix)]
    return pd.to_datetime(mine["fetched_at"]).min().date()


@contextmanager
def open_clients(sec, dart, capture: fetch.RawCapture) -> Iterator[tuple[Any, Any]]:
    """The SEC and OpenDART clients of one run (None where not configured), closed afterwards."""
    with ExitStack() as opened:
        yield (
            opened.enter_context(sec.client(raw_sink=capture)) if sec.is_configured() else None,
            opened.enter_context(dart.client(raw_sink=capture)) if dart.is_configured() else None,
        )


def enrich_companies(sec, dart, entries: pd.DataFrame, capture: fetch.RawCapture, log) -> list[dict]:
    """companies rows for watchlist entries: SEC submissions (name, SIC, fiscal year end, ticker) for a CIK,
    OpenDART company.json (name, KSIC, fiscal month) for a corp code. Entries that cannot be resolved are
    skipped with a warning (a wrong identifier must not stop the others)."""
    rows, now = [], utc_now()
    with open_clients(sec, dart, capture) as (sec_client, dart_client):
        for entry in entries.to_dict("records"):
            company_id, capture.company_id = entry["company_id"], entry["company_id"]
            try:
                if entry.get("cik"):
                    submissions = _needs(sec_client, SEC_SETTING).submissions(
                        entry["cik"], include_older_pages=False
                    )
                    rows.append(fetch.company_row_from_sec(submissions, company_id, entry["cik"], now))
                elif entry.get("dart_corp_code"):
                    overview = _needs(dart_client, DART_SETTING).company(entry["dart_corp_code"])
                    if overview is None:
                        log.warning(
                            f"OpenDART has no company {entry['dart_corp_code']} ({company_id}): skipped"
                        )
                        continue
                    rows.append(
                        fetch.company_row_from_dart(overview, company_id, entry["dart_corp_code"], now)
                    )
            except SourceError as error:
                log.warning(f"{company_id}: not added to the universe: {error}")
    return rows


def live_universe(sec, dart, store, objects, log) -> list[dict]:
    capture = fetch.RawCapture(objects)
    watched = list_watchlist(store)
    if watched.empty:
        log.warning("live mode and an empty watchlist: add companies with `riskgraph watchlist add`")
    rows = enrich_companies(sec, dart, watched, capture, log)
    store.upsert("raw_filings", capture.take_rows())
    return rows


def live_companies(sec, dart, store, objects, keys: list[str], log) -> pd.DataFrame:
    """companies rows of the partitions; partitions the sensor registered before the universe ran are enriched
    here from the watchlist, so an ingest run never depends on the order of runs."""
    companies = store.read("companies", where={"company_id": keys})
    missing = sorted(set(keys) - set(companies["company_id"]))
    if missing:
        watched = list_watchlist(store)
        capture = fetch.RawCapture(objects)
        store.upsert(
            "companies",
            enrich_companies(sec, dart, watched[watched["company_id"].isin(missing)], capture, log),
        )
        store.upsert("raw_filings", capture.take_rows())
        companies = store.read("companies", where={"company_id": keys})
    for key in sorted(set(keys) - set(companies["company_id"])):
        log.warning(f"{key}: no companies row (not in the universe or the watchlist): nothing fetched")
    return companies


def fetch_live_documents(
    sec, dart, store, objects, companies: pd.DataFrame, log
) -> tuple[int, int, list[str]]:
    """Fetch every company's documents; a company whose source fails is logged and listed, the others land
    (what a failing company had stored before stays: each company is its own transaction)."""
    capture = fetch.RawCapture(objects)
    stored = total_bytes = 0
    failed: list[str] = []
    with open_clients(sec, dart, capture) as (sec_client, dart_client):
        for _, company in companies.iterrows():
            company_id = capture.company_id = company["company_id"]
            try:
                if company["cik"]:
                    fetch.fetch_sec_documents(
                        _needs(sec_client, SEC_SETTING), company["cik"], log=log.warning
                    )
                elif company["dart_corp_code"]:
                    counts = fetch.fetch_dart_documents(
                        _needs(dart_client, DART_SETTING),
                        company["dart_corp_code"],
                        today=dt.date.today(),
                        stored_rcept=_stored_rcept(store, objects, company_id),
                        log=log.warning,
                    )
                    log.info(f"{company_id}: OpenDART requests {counts}")
            except SourceError as error:
                log.warning(f"{company_id}: fetch failed, its stored documents are unchanged: {error}")
                failed.append(company_id)
            # Whatever arrived before a failure was stored by the capture: index it too.
            rows = capture.take_rows()
            total_bytes += sum(r["size_bytes"] for r in rows)
            store.upsert("raw_filings", rows)  # one transaction per company
            stored += len(rows)
    if failed and len(failed) == len(companies):
        raise dg.Failure(f"every fetch failed: {', '.join(failed)} (see the warnings above)")
    return stored, total_bytes, failed


SEC_SETTING = "RISKGRAPH_SEC_USER_AGENT ('Name contact@example.com')"
DART_SETTING = "OPENDART_API_KEY for DART companies"


def _needs(client, setting: str):
    if client is None:
        raise dg.Failure(f"live mode needs {setting}")
    return client


def _stored_rcept(store, objects, company_id: str):
    """kind prefix ("fnlttSinglAcntAll:2023:11011") -> the newest rcept_no already stored for it."""
    from risk_assets.defs.sources.assets import latest_document_rows

    frame = latest_document_rows(store, company_id)
    frame = frame[frame["kind"].str.startswith("fnlttSinglAcntAll:")]

    def stored(prefix: str) -> str | None:
        found = [
            fetch.rcept_no_of(objects.get(row.object_key))
            for row in frame.itertuples()
            if row.kind.rsplit(":", 1)[0] == prefix
        ]
        found = [r for r in found if r]
        return max(found) if found else None

    return stored


# --- market data


def indicator_rows(source: str, parsed: list[dict]) -> list[dict]:
    return [
        {
            "source": source,
            "series_id": row["series_id"],
            "observation_date": row["observation_date"],
            "released_at": row["released_at"],
            "value": row["value"],
            "release_basis": row["release_basis"],
        }
        for row in parsed
        if row["released_at"] is not None
    ]


def ecos_bounds(cycle: str, today: dt.date) -> tuple[str, str]:
    if cycle == "D":
        return f"{ECOS_FIRST_YEAR}0101", today.strftime("%Y%m%d")
    if cycle == "M":
        return f"{ECOS_FIRST_YEAR}01", today.strftime("%Y%m")
    if cycle == "Q":
        return f"{ECOS_FIRST_YEAR}Q1", f"{today.year}Q{(today.month - 1) // 3 + 1}"
    return str(ECOS_FIRST_YEAR), str(today.year)


class MarketSession:
    """What one run reads: macro series and price charts, raw bodies stored through ``capture``."""

    def series_rows(self, spec: MacroSeries, series_id: str, log) -> list[dict]:
        raise NotImplementedError

    def chart_payload(self, symbol: str, start: dt.date, today: dt.date) -> dict | None:
        """The chart of ``symbol`` (None: not available here); raises NotFound / SourceError from a live fetch."""
        raise NotImplementedError


class _BundledSession(MarketSession):
    def __init__(self, capture: fetch.RawCapture):
        self.capture = capture

    def series_rows(self, spec: MacroSeries, series_id: str, log) -> list[dict]:
        if spec.source != "fred":
            log.info(f"{spec.source.upper()} {series_id} is not bundled: skipped in the embedded default")
            return []
        first_release = spec.publication_lag_days is None
        body = bundled.fred_observations(series_id, first_release)
        if body is None:
            log.info(f"{series_id} is not bundled: its feature stays empty in the embedded default")
            return []
        mode = "first_release" if first_release else "latest"
        self.capture(f"fred/observations/{series_id}_{mode}_bundled.json", body, "application/json")
        return indicator_rows(
            "fred", parse_observations(json.loads(body), series_id, spec.publication_lag_days)
        )

    def chart_payload(self, symbol: str, start: dt.date, today: dt.date) -> dict | None:
        body = bundled.price_chart(symbol)
        if body is None:
            return None
        self.capture(f"yahoo/chart/{symbol}_bundled.json", body, "application/json")
        return json.loads(body)


class _LiveSession(MarketSession):
    def __init__(self, fred_client, ecos_client, price_client):
        self.fred_client, self.ecos_client, self.price_client = fred_client, ecos_client, price_client

    def series_rows(self, spec: MacroSeries, series_id: str, log) -> list[dict]:
        if spec.source == "fred":
            if self.fred_client is None:
                log.warning(f"FRED_API_KEY is not set: {series_id} skipped")
                return []
            first_release = spec.publication_lag_days is None
            payload = self.fred_client.observations_payload(series_id, first_release)
            return indicator_rows("fred", parse_observations(payload, series_id, spec.publication_lag_days))
        if self.ecos_client is None:
            log.warning(f"ECOS_API_KEY is not set: {series_id} skipped")
            return []
        stat_code, _, item = series_id.partition("/")
        start, end = ecos_bounds(spec.cycle, dt.date.today())
        parsed = self.ecos_client.statistic_search(stat_code, spec.cycle, start, end, [item] if item else [])
        return indicator_rows("ecos", [{**row, "series_id": series_id} for row in parsed])

    def chart_payload(self, symbol: str, start: dt.date, today: dt.date) -> dict | None:
        return self.price_client.chart_payload(symbol, start, today)


def bundled_session(capture: fetch.RawCapture) -> MarketSession:
    return _BundledSession(capture)


@contextmanager
def live_session(
    fred, ecos, prices, capture: fetch.RawCapture, specs: tuple[MacroSeries, ...]
) -> Iterator[MarketSession]:
    """The FRED, ECOS and price clients of one run (FRED/ECOS only where a key is set), closed afterwards."""
    fred_lags = {
        s.series_id: s.publication_lag_days for s in specs if s.source == "fred" and s.publication_lag_days
    }
    ecos_lags = {sid: s.publication_lag_days for s in specs if s.source == "ecos" for sid in s.series_ids}
    with ExitStack() as opened:
        yield _LiveSession(
            opened.enter_context(fred.client(fred_lags, raw_sink=capture)) if fred.is_configured() else None,
            opened.enter_context(ecos.client(ecos_lags, raw_sink=capture)) if ecos.is_configured() else None,
            opened.enter_context(prices.client(raw_sink=capture)),
        )
