"""Routes that make a StubServer answer like SEC EDGAR, OpenDART, FRED and Yahoo for Apple and Samsung.

Recorded responses are served byte for byte (tests/fixtures and the bundled data, see tests/fixtures/README.md).
Where no recording exists the body is BUILT here from the documented format (fixtures/API_NOTES.md, OpenDART's
guide), and each builder says so:
- Apple's older submissions page (``filings.files[0]``): not recorded; built empty (columnar arrays at the top
  level, as page files are).
- OpenDART list.json with ``pblntf_ty=A``: no recorded periodic-report list for Samsung; built with the real
  receipt of the FY2023 annual report (rcept_no 20240312000736, the recorded fnlttSinglAcntAll's) and, when
  asked, a synthetic Q1 2024 report.
- OpenDART quarterly fnlttSinglAcntAll (11013): no recorded quarterly response exists anywhere; built from
  the documented fields (thstrm_amount 3-month and thstrm_add_amount YTD on IS/CIS rows, frmtrm_q_amount /
  frmtrm_add_amount for the prior year, cumulative CF rows) with SYNTHETIC amounts derived from Samsung's
  recorded FY2023 rows (factors below); they are test values, not Samsung's Q1 figures.
- OpenDART status 013 bodies, the audit-opinion response (accnutAdtorNmNdAdtOpinion) and the Yahoo chart.error
  body: built from the documented formats.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path

from tests.support.stub_server import StubResponse, StubServer

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO / "tests" / "fixtures"
DATA = REPO / "risk_assets" / "data"

APPLE_CIK, APPLE = "0000320193", "sec-0000320193"
SAMSUNG_CORP, SAMSUNG = "00126380", "dart-00126380"
SAMSUNG_FY2023_RCEPT = "20240312000736"
SAMSUNG_Q1_2024_RCEPT = "20240516000555"  # synthetic receipt number of the built quarterly report
USER_AGENT = "riskgraph-tests tests@example.com"
DART_KEY = "k" * 40
FRED_KEY = "f" * 32

#: Synthetic factors of the built Q1 2024 report (times Samsung's recorded FY2023 amount of the same line).
Q1_CURRENT_YTD, Q1_PRIOR_YTD, Q1_BALANCE = 0.27, 0.24, 1.01
Q1_CASH_FLOW_CURRENT, Q1_CASH_FLOW_PRIOR = 0.26, 0.22


def read(path: Path) -> bytes:
    data = path.read_bytes()
    return gzip.decompress(data) if path.suffix == ".gz" else data


def dart_no_data() -> StubResponse:
    """OpenDART's "no data" answer (status 013 in an HTTP 200 body, documented; no recording exists)."""
    return StubResponse.json({"status": "013", "message": "조회된 데이타가 없습니다."})


def samsung_fy2023_rows() -> list[dict]:
    payload = json.loads(
        read(DATA / "opendart" / "fnlttSinglAcntAll" / "00126380_2023_11011_CFS.sjunepark-golden.json")
    )
    return payload["list"]


def _scaled(text: object, factor: float) -> str | None:
    if text in (None, "", "-"):
        return None
    return str(round(float(str(text).replace(",", "")) * factor))


def samsung_q1_2024_payload() -> dict:
    """A quarterly (11013) fnlttSinglAcntAll response BUILT from the documented fields; synthetic amounts."""
    rows = []
    for source in samsung_fy2023_rows():
        if source["sj_div"] == "SCE":
            continue
        row = {k: v for k, v in source.items() if v is not None}
        row.update(rcept_no=SAMSUNG_Q1_2024_RCEPT, reprt_code="11013", bsns_year="2024")
        for key in (
            "thstrm_add_amount",
            "frmtrm_q_amount",
            "frmtrm_add_amount",
            "bfefrmtrm_nm",
            "bfefrmtrm_amount",
        ):
            row.pop(key, None)
        fy = source.get("thstrm_amount")
        if source["sj_div"] in ("IS", "CIS"):
            row["thstrm_amount"] = row["thstrm_add_amount"] = _scaled(fy, Q1_CURRENT_YTD)
            row["frmtrm_q_amount"] = row["frmtrm_add_amount"] = _scaled(fy, Q1_PRIOR_YTD)
            row["frmtrm_amount"] = None
        elif source["sj_div"] == "CF":
            row["thstrm_amount"], row["frmtrm_amount"] = (
                _scaled(fy, Q1_CASH_FLOW_CURRENT),
                _scaled(fy, Q1_CASH_FLOW_PRIOR),
            )
        else:  # BS: the quarter end, and the prior fiscal year end as comparative
            row["thstrm_amount"], row["frmtrm_amount"] = _scaled(fy, Q1_BALANCE), fy
        rows.append({k: v for k, v in row.items() if v is not None})
    return {"status": "000", "message": "정상", "list": rows}


def samsung_periodic_list(with_q1_2024: bool = False) -> dict:
    """list.json?pblntf_ty=A BUILT from the documented row shape (no recorded periodic list for Samsung)."""
    rows = []
    if with_q1_2024:
        rows.append(
            {
                "corp_code": SAMSUNG_CORP,
                "corp_name": "삼성전자",
                "stock_code": "005930",
                "corp_cls": "Y",
                "report_nm": "분기보고서 (2024.03)",
                "rcept_no": SAMSUNG_Q1_2024_RCEPT,
                "flr_nm": "삼성전자",
                "rcept_dt": SAMSUNG_Q1_2024_RCEPT[:8],
                "rm": "",
            }
        )
    rows.append(
        {
            "corp_code": SAMSUNG_CORP,
            "corp_name": "삼성전자",
            "stock_code": "005930",
            "corp_cls": "Y",
            "report_nm": "사업보고서 (2023.12)",
            "rcept_no": SAMSUNG_FY2023_RCEPT,
            "flr_nm": "삼성전자",
            "rcept_dt": SAMSUNG_FY2023_RCEPT[:8],
            "rm": "연",
        }
    )
    return {
        "status": "000",
        "message": "정상",
        "page_no": 1,
        "page_count": 100,
        "total_count": len(rows),
        "total_page": 1,
        "list": rows,
    }


def samsung_recent_list(extra_rows: list[dict] | None = None) -> dict:
    """list.json for Samsung: the 10 RECORDED rows of the golden file, served as a one-page answer (the
    recording is page 1 of 37; total_page is set to 1 so the client does not ask for pages never recorded)."""
    payload = json.loads(read(DATA / "opendart" / "list" / "list_00126380.sjunepark-golden.json"))
    rows = list(extra_rows or []) + payload["list"]
    return {**payload, "list": rows, "total_count": len(rows), "total_page": 1}


def audit_opinion_payload(opinion: str = "적정의견", rcept_no: str = SAMSUNG_FY2023_RCEPT) -> dict:
    """accnutAdtorNmNdAdtOpinion BUILT from OpenDART's guide (DS002 #13): one row per year and basis, the year
    a label such as "제55기 (당기)"; no recorded response exists."""

    def row(label: str, value: str) -> dict:
        return {
            "rcept_no": rcept_no,
            "corp_cls": "Y",
            "corp_code": SAMSUNG_CORP,
            "corp_name": "삼성전자",
            "bsns_year": label,
            "adtor": "삼정회계법인",
            "adt_opinion": value,
            "emphs_matter": "-",
            "core_adt_matter": "-",
            "stlm_dt": "2023-12-31",
        }

    rows = [
        row("제55기 (당기)", opinion),
        row("제55기 (당기)", opinion),
        row("제54기 (전기)", "적정의견"),
        row("제53기 (전전기)", "적정의견"),
    ]
    return {"status": "000", "message": "정상", "list": rows}


def apple_submissions(extra_filing: dict | None = None) -> bytes:
    """Apple's RECORDED submissions; with ``extra_filing`` ({column: value}) one new row prepended (a filing
    that 'arrives' in a later tick: built, the rest recorded)."""
    body = read(DATA / "sec" / "submissions" / f"CIK{APPLE_CIK}.json.gz")
    if extra_filing is None:
        return body
    payload = json.loads(body)
    recent = payload["filings"]["recent"]
    for column, values in recent.items():
        values.insert(0, extra_filing.get(column, "" if isinstance(values[0], str) else 0))
    return json.dumps(payload).encode()


def empty_submissions_page() -> dict:
    """Apple's older-filings page is not recorded: an empty page in the documented page shape."""
    columns = (
        "accessionNumber",
        "filingDate",
        "reportDate",
        "acceptanceDateTime",
        "act",
        "form",
        "fileNumber",
        "filmNumber",
        "items",
        "core_type",
        "size",
        "isXBRL",
        "isInlineXBRL",
        "primaryDocument",
        "primaryDocDescription",
    )
    return {column: [] for column in columns}


def serve_sec(stub: StubServer, submissions: bytes | None = None) -> None:
    stub.route(
        "GET",
        f"/submissions/CIK{APPLE_CIK}.json",
        StubResponse(body=submissions or apple_submissions(), content_type="application/json"),
    )
    stub.route(
        "GET",
        f"/submissions/CIK{APPLE_CIK}-submissions-001.json",
        StubResponse.json(empty_submissions_page()),
    )
    stub.route(
        "GET",
        f"/api/xbrl/companyfacts/CIK{APPLE_CIK}.json",
        StubResponse.file(DATA / "sec" / "companyfacts" / f"CIK{APPLE_CIK}.json.gz"),
    )
    stub.route(
        "GET",
        "/files/company_tickers.json",
        StubResponse.file(FIXTURES / "sec_edgar" / "company_tickers.json.gz"),
    )


def serve_dart(
    stub: StubServer,
    *,
    with_q1_2024: bool = False,
    recent_rows: list[dict] | None = None,
    audit_opinion: str = "적정의견",
) -> None:
    stub.route(
        "GET",
        "/api/company.json",
        StubResponse.file(FIXTURES / "opendart" / "company" / "company_00126380.json"),
        query={"corp_code": SAMSUNG_CORP},
    )
    stub.route(
        "GET",
        "/api/list.json",
        StubResponse.json(samsung_recent_list(recent_rows)),
        query={"corp_code": SAMSUNG_CORP},
    )
    stub.route(
        "GET",
        "/api/list.json",
        StubResponse.json(samsung_periodic_list(with_q1_2024)),
        query={"corp_code": SAMSUNG_CORP, "pblntf_ty": "A"},
    )
    stub.route("GET", "/api/fnlttSinglAcntAll.json", dart_no_data())
    stub.route(
        "GET",
        "/api/fnlttSinglAcntAll.json",
        StubResponse.file(
            DATA / "opendart" / "fnlttSinglAcntAll" / "00126380_2023_11011_CFS.sjunepark-golden.json"
        ),
        query={"corp_code": SAMSUNG_CORP, "bsns_year": "2023", "reprt_code": "11011", "fs_div": "CFS"},
    )
    if with_q1_2024:
        stub.route(
            "GET",
            "/api/fnlttSinglAcntAll.json",
            StubResponse.json(samsung_q1_2024_payload()),
            query={"corp_code": SAMSUNG_CORP, "bsns_year": "2024", "reprt_code": "11013", "fs_div": "CFS"},
        )
    for endpoint in ("dfOcr", "ctrcvsBgrq", "bnkMngtPcbg"):
        stub.route("GET", f"/api/{endpoint}.json", dart_no_data())
    stub.route(
        "GET", "/api/accnutAdtorNmNdAdtOpinion.json", StubResponse.json(audit_opinion_payload(audit_opinion))
    )


def serve_fred(stub: StubServer) -> None:
    for body, query in (
        (
            FIXTURES / "fred" / "series_observations_GDP_output_type4_initial_release.json",
            {"series_id": "GDP", "output_type": "4"},
        ),
        (DATA / "fred" / "CPILFESL.json", {"series_id": "CPILFESL"}),
        (DATA / "fred" / "WGS10YR.json.gz", {"series_id": "WGS10YR"}),
    ):
        stub.route("GET", "/fred/series/observations", StubResponse.file(body), query=query)


def serve_prices(stub: StubServer) -> None:
    not_found = {
        "chart": {
            "result": None,
            "error": {"code": "Not Found", "description": "No data found, symbol may be delisted"},
        }
    }
    stub.route(
        "GET",
        "/v8/finance/chart/AAPL",
        StubResponse.file(FIXTURES / "yahoo_finance" / "chart-AAPL-2020-08-31-to-2020-11-07.body.json"),
    )
    for symbol in ("005930.KS", "005930.KQ"):
        stub.route("GET", f"/v8/finance/chart/{symbol}", StubResponse.json(not_found, status=404))


def resources_for(
    stub: StubServer, warehouse_url: str | None = None, object_store_url: str | None = None
) -> dict:
    """Every source resource pointed at ``stub`` (plus the warehouse/object store when given)."""
    from risk_assets.defs.resources import (
        EcosResource,
        FredResource,
        LiveFilings,
        LiveMarket,
        MacroSeriesResource,
        ObjectStoreResource,
        OpenDartResource,
        PricesResource,
        SecEdgarResource,
        WarehouseResource,
    )

    resources = {
        "sec": SecEdgarResource(
            user_agent=USER_AGENT,
            base_url_data=stub.url,
            base_url_www=stub.url,
            max_requests_per_second=1000,
            max_retries=1,
        ),
        "dart": OpenDartResource(
            api_key=DART_KEY, base_url=f"{stub.url}/api", min_interval_seconds=0.001, max_retries=1
        ),
        "fred": FredResource(
            api_key=FRED_KEY, base_url=f"{stub.url}/fred", max_requests_per_minute=60000, max_retries=1
        ),
        "prices": PricesResource(
            base_url=stub.url, min_interval_seconds=0.001, max_retries=1, history_start="2019-01-01"
        ),
        # The recorded FRED series only: GDP first releases, core CPI and the weekly 10-year yield.
        "macro_series": MacroSeriesResource(
            series=[
                "US:govt_10y:fred:WGS10YR:level:7",
                "US:gdp_growth:fred:GDP:yoy:first_release",
                "US:cpi_inflation:fred:CPILFESL:yoy:45",
            ]
        ),
    }
    # the live sources, configured by the client resources above (what Definitions builds in live mode)
    resources["filings"] = LiveFilings(sec=resources["sec"], dart=resources["dart"])
    resources["market_source"] = LiveMarket(
        fred=resources["fred"], ecos=EcosResource(), prices=resources["prices"]
    )
    if warehouse_url:
        resources["warehouse"] = WarehouseResource(url=warehouse_url)
    if object_store_url:
        resources["object_store"] = ObjectStoreResource(url=object_store_url)
    return resources
