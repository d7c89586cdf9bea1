"""The filings sensor, and the automation sensor that lets downstream assets follow what it ingests.

``filings_sensor`` polls, for WATCHLIST companies only, SEC submissions (the first page: the latest ~1,000
filings) and OpenDART list.json (a date window from the cursor on; an unfiltered list would return every
filer in Korea). It registers a ``companies`` partition for every watchlist company not yet registered and
requests an ``ingest_filings`` run for each new relevant filing, with ``run_key`` = company + accession /
rcept_no so no filing is ever ingested twice. A company seen for the first time gets one run (keyed by its
latest relevant filing) rather than one per historical filing.

The cursor is JSON: per company, the latest filing date seen and the filings of that date already handled.
It lives in the Dagster instance, so it survives restarts of the daemon.

Both sensors are off by default: the embedded default has no network and `dagster dev` must not start
anything on its own. Turn them on in the UI (or with `dagster sensor start`) in a live deployment.
"""

import datetime as dt
import json
from dataclasses import dataclass

import dagster as dg

from risk_assets.clients import SourceError
from risk_assets.core.events import SEC_BANKRUPTCY_ITEM, SEC_CURRENT_REPORT_FORMS, SEC_LATE_FILING_FORMS
from risk_assets.defs.jobs import ingest_filings
from risk_assets.defs.partitions import company_partitions, source_tags
from risk_assets.defs.resources import OpenDartResource, SecEdgarResource, WarehouseResource
from risk_assets.storage.watchlist import list_watchlist

SENSOR_INTERVAL_SECONDS = 15 * 60
#: SEC forms whose filing changes what riskgraph knows (statements, defaults, warnings).
SEC_RELEVANT_FORMS = (
    frozenset({"10-K", "10-K/A", "10-Q", "10-Q/A", "20-F", "20-F/A", "40-F", "40-F/A", "10-KT", "10-KT/A"})
    | SEC_LATE_FILING_FORMS
)
#: OpenDART report names that matter: periodic reports, audit reports, distress major events.
DART_RELEVANT_WORDS = (
    "사업보고서",
    "반기보고서",
    "분기보고서",
    "감사보고서",
    "부도",
    "회생",
    "채권은행",
    "파산",
    "해산",
    "영업정지",
    "감사의견",
)
DART_FIRST_LOOKBACK_DAYS = 365


@dataclass(frozen=True)
class Filing:
    company_id: str
    reference: str  # accession number or rcept_no
    filed: str  # ISO date
    form: str


def _newest(dates: list[str], fallback: str) -> str:
    return max((d for d in dates if d), default=fallback)


def sec_filings(submissions: dict, company_id: str) -> list[Filing]:
    """Relevant filings in a submissions response: periodic reports, late-filing notices, 8-K item 1.03."""
    recent = ((submissions.get("filings") or {}).get("recent")) or {}
    columns = [recent.get(name) or [] for name in ("accessionNumber", "filingDate", "form", "items")]
    out = []
    for accession, filed, form, items in zip(*columns, strict=False):
        bankruptcy = form in SEC_CURRENT_REPORT_FORMS and SEC_BANKRUPTCY_ITEM in str(items or "").split(",")
        if accession and filed and (form in SEC_RELEVANT_FORMS or bankruptcy):
            out.append(Filing(company_id, accession, filed, form))
    return out


def dart_filings(rows: list[dict], company_id: str) -> list[Filing]:
    """Relevant list.json rows (periodic, audit and distress reports), dated by rcept_dt."""
    out = []
    for row in rows:
        name = str(row.get("report_nm") or "").replace(" ", "")
        date, rcept_no = str(row.get("rcept_dt") or ""), str(row.get("rcept_no") or "")
        if rcept_no and len(date) == 8 and any(word in name for word in DART_RELEVANT_WORDS):
            out.append(Filing(company_id, rcept_no, f"{date[:4]}-{date[4:6]}-{date[6:]}", name[:40]))
    return out


class FilingsCursor:
    """{company_id: {"last": ISO date, "seen": [references filed that day]}} as JSON."""

    def __init__(self, state: dict[str, dict] | None = None):
        self.state = dict(state or {})

    @classmethod
    def parse(cls, text: str | None) -> "FilingsCursor":
        if not text:
            return cls()
        payload = json.loads(text)
        return cls(payload.get("companies") or {})

    def serialize(self) -> str:
        return json.dumps({"version": 1, "companies": self.state}, sort_keys=True, separators=(",", ":"))

    def knows(self, company_id: str) -> bool:
        return company_id in self.state

    def last_date(self, company_id: str) -> str | None:
        return (self.state.get(company_id) or {}).get("last")

    def new(self, company_id: str, filings: list[Filing]) -> list[Filing]:
        entry = self.state.get(company_id)
        if entry is None:
            return list(filings)
        last, seen = entry.get("last") or "", set(entry.get("seen") or ())
        return [f for f in filings if f.filed > last or (f.filed == last and f.reference not in seen)]

    def advance(self, company_id: str, filings: list[Filing], newest: str) -> None:
        """Remember everything up to ``newest``: the newest filing date in the answer, relevant or not (today
        when there was none), so the next OpenDART window starts there."""
        entry = self.state.get(company_id) or {"last": "", "seen": []}
        dates = [f.filed for f in filings] + [newest] + ([entry["last"]] if entry.get("last") else [])
        last = max(dates)
        seen = set(entry.get("seen") or ()) if last == entry.get("last") else set()
        seen |= {f.reference for f in filings if f.filed == last}
        self.state[company_id] = {"last": last, "seen": sorted(seen)}


def _run_request(filing: Filing) -> dg.RunRequest:
    return dg.RunRequest(
        run_key=f"{filing.company_id}:{filing.reference}",
        partition_key=filing.company_id,
        tags={
            "riskgraph/trigger": "filings_sensor",
            "riskgraph/filing": filing.reference,
            "riskgraph/form": filing.form[:63],
            **source_tags(filing.company_id),
        },
    )


def _poll(
    entry: dict, cursor: FilingsCursor, sec_client, dart_client, today: dt.date
) -> tuple[list[Filing], str]:
    """(relevant filings, newest filing date of any kind in the answer) for one watchlist entry."""
    company_id = entry["company_id"]
    if entry.get("cik"):
        if sec_client is None:
            raise SourceError("RISKGRAPH_SEC_USER_AGENT is not set", source="sec")
        submissions = sec_client.submissions(entry["cik"], include_older_pages=False)
        dates = ((submissions.get("filings") or {}).get("recent") or {}).get("filingDate") or []
        return sec_filings(submissions, company_id), _newest(dates, today.isoformat())
    if entry.get("dart_corp_code"):
        if dart_client is None:
            raise SourceError("OPENDART_API_KEY is not set", source="opendart")
        last = cursor.last_date(company_id)
        begin = dt.date.fromisoformat(last) if last else today - dt.timedelta(days=DART_FIRST_LOOKBACK_DAYS)
        rows = dart_client.disclosures(
            entry["dart_corp_code"], begin.strftime("%Y%m%d"), today.strftime("%Y%m%d")
        )
        dates = [
            f"{d[:4]}-{d[4:6]}-{d[6:8]}" for d in (str(r.get("rcept_dt") or "") for r in rows) if len(d) == 8
        ]
        return dart_filings(rows, company_id), _newest(dates, today.isoformat())
    return [], today.isoformat()


def evaluate_filings(
    context: dg.SensorEvaluationContext,
    warehouse: WarehouseResource,
    sec: SecEdgarResource,
    dart: OpenDartResource,
    today: dt.date | None = None,
) -> dg.SensorResult | dg.SkipReason:
    """One tick (the sensor's body; ``today`` injectable for tests)."""
    today = today or dt.date.today()
    store = warehouse.get()
    watched = list_watchlist(store)
    if watched.empty:
        return dg.SkipReason("the watchlist is empty: add companies with `riskgraph watchlist add`")
    cursor = FilingsCursor.parse(context.cursor)
    registered = set(context.instance.get_dynamic_partitions(company_partitions.name))
    new_partitions = [cid for cid in watched["company_id"] if cid not in registered]
    sec_client = sec.client() if sec.is_configured() else None
    dart_client = dart.client() if dart.is_configured() else None
    requests: list[dg.RunRequest] = []
    try:
        for entry in watched.to_dict("records"):
            company_id = entry["company_id"]
            try:
                filings, newest = _poll(entry, cursor, sec_client, dart_client, today)
            except SourceError as error:
                context.log.warning(f"{company_id}: not polled this tick: {error}")
                continue
            if not cursor.knows(company_id):
                latest = max(filings, key=lambda f: (f.filed, f.reference), default=None)
                requests.append(
                    _run_request(latest or Filing(company_id, "initial", today.isoformat(), "initial"))
                )
            else:
                requests += [
                    _run_request(f)
                    for f in sorted(cursor.new(company_id, filings), key=lambda f: (f.filed, f.reference))
                ]
            cursor.advance(company_id, filings, newest)
    finally:
        for client in (sec_client, dart_client):
            if client is not None:
                client.close()
    partition_requests = [company_partitions.build_add_request(new_partitions)] if new_partitions else []
    return dg.SensorResult(
        run_requests=requests, dynamic_partitions_requests=partition_requests, cursor=cursor.serialize()
    )


@dg.sensor(
    job=ingest_filings,
    minimum_interval_seconds=SENSOR_INTERVAL_SECONDS,
    default_status=dg.DefaultSensorStatus.STOPPED,
    description="Polls SEC submissions and OpenDART list.json for watchlist companies; registers their "
    "partitions and requests one ingest_filings run per new filing (run_key per accession / rcept_no).",
)
def filings_sensor(
    context: dg.SensorEvaluationContext,
    warehouse: WarehouseResource,
    sec: SecEdgarResource,
    dart: OpenDartResource,
) -> dg.SensorResult | dg.SkipReason:
    return evaluate_filings(context, warehouse, sec, dart)


follow_new_filings = dg.AutomationConditionSensorDefinition(
    "follow_new_filings",
    target=dg.AssetSelection.all(),
    default_status=dg.DefaultSensorStatus.STOPPED,
    minimum_interval_seconds=60,
    description="Evaluates the automation conditions of the assets downstream of ingestion (default events, "
    "warning signals, market features, features, scores, alerts) so they follow new filings and refreshed "
    "market data. Training assets have no condition: retraining is always an explicit run.",
)
