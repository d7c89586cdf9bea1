"""EcosClient against the stub.

No ECOS response was ever recorded (see API_NOTES.md section 4), so every body here is built from the
documented format: ``{"StatisticSearch": {"list_total_count": N, "row": [...]}}`` on success and
``{"RESULT": {"CODE", "MESSAGE"}}`` (HTTP 200) for errors and no data. The values are the Bank of Korea
base rate (722Y001 / 0101000), which stood at 3.50 % through 2023.
"""

from __future__ import annotations

from datetime import date

import pytest

from risk_assets.clients.ecos import EcosClient, parse_statistic_search, period_start
from risk_assets.clients.http import AccessDenied, BadResponse, SourceError
from tests.support.stub_server import StubResponse

KEY = "SAMPLEKEY0123456789"
BASE_PATH = f"/api/StatisticSearch/{KEY}/json/kr"
TAIL = "722Y001/M/202301/202303/0101000"


def row(time: str, value: str) -> dict:
    return {
        "STAT_CODE": "722Y001",
        "STAT_NAME": "1.3.1. 한국은행 기준금리 및 여수신금리",
        "ITEM_CODE1": "0101000",
        "ITEM_NAME1": "한국은행 기준금리",
        "ITEM_CODE2": None,
        "ITEM_NAME2": None,
        "ITEM_CODE3": None,
        "ITEM_NAME3": None,
        "ITEM_CODE4": None,
        "ITEM_NAME4": None,
        "UNIT_NAME": "연%",
        "WGT": None,
        "TIME": time,
        "DATA_VALUE": value,
    }


def page(rows: list[dict], total: int) -> dict:
    return {"StatisticSearch": {"list_total_count": total, "row": rows}}


@pytest.fixture
def ecos(stub, fake_time, sink):
    with EcosClient(
        api_key=KEY,
        base_url=f"{stub.url}/api",
        publication_lag_days={"722Y001": 1},
        page_size=2,
        raw_sink=sink,
        max_retries=2,
        **fake_time.kwargs(),
    ) as client:
        yield client


def test_path_style_url_row_paging_and_release_lag(stub, ecos, sink):
    first = StubResponse.json(page([row("202301", "3.5"), row("202302", "3.5")], total=3))
    second = StubResponse.json(page([row("202303", "3.5")], total=3))
    stub.route("GET", f"{BASE_PATH}/1/2/{TAIL}", first)
    stub.route("GET", f"{BASE_PATH}/3/4/{TAIL}", second)
    rows = ecos.statistic_search("722Y001", "M", "202301", "202303", item_codes=("0101000",))
    assert [r.path for r in stub.requests] == [f"{BASE_PATH}/1/2/{TAIL}", f"{BASE_PATH}/3/4/{TAIL}"]
    assert [r["observation_date"] for r in rows] == [date(2023, 1, 1), date(2023, 2, 1), date(2023, 3, 1)]
    assert [r["value"] for r in rows] == [3.5, 3.5, 3.5]
    # lag 1 day from the observation date (the period's first day): 2023-01-01 + 1 = 2023-01-02
    assert rows[0]["released_at"] == date(2023, 1, 2)
    assert rows[0]["release_basis"] == "publication_lag"
    assert rows[0]["item_code1"] == "0101000" and rows[0]["unit"] == "연%"
    assert sink.keys == [
        "ecos/StatisticSearch/722Y001_M_202301_202303_0101000_1-2.json",
        "ecos/StatisticSearch/722Y001_M_202301_202303_0101000_3-4.json",
    ]
    assert sink.calls[0][1] == first.body
    assert all(KEY not in key for key in sink.keys)


def test_info_200_is_an_empty_result(stub, ecos):
    body = {"RESULT": {"CODE": "INFO-200", "MESSAGE": "해당하는 데이터가 없습니다."}}
    stub.route("GET", f"{BASE_PATH}/1/2/722Y001/M/199001/199002/0101000", StubResponse.json(body))
    assert ecos.statistic_search("722Y001", "M", "199001", "199002", item_codes=("0101000",)) == []
    assert parse_statistic_search(body) == []


def test_invalid_key_is_access_denied_and_the_key_in_the_path_is_redacted(stub, ecos):
    body = {"RESULT": {"CODE": "INFO-100", "MESSAGE": "인증키가 유효하지 않습니다."}}
    stub.route("GET", f"{BASE_PATH}/1/2/{TAIL}", StubResponse.json(body))
    with pytest.raises(AccessDenied) as err:
        ecos.statistic_search("722Y001", "M", "202301", "202303", item_codes=("0101000",))
    assert "INFO-100" in str(err.value)
    assert KEY not in str(err.value)


def test_error_code_is_source_error(stub, ecos):
    body = {"RESULT": {"CODE": "ERROR-101", "MESSAGE": "주기와 다른 형식의 날짜 형식입니다."}}
    stub.route("GET", f"{BASE_PATH}/1/2/722Y001/M/2023/2024/0101000", StubResponse.json(body))
    with pytest.raises(SourceError, match="ERROR-101"):
        ecos.statistic_search("722Y001", "M", "2023", "2024", item_codes=("0101000",))


def test_429_retry_after_then_500_then_200(stub, ecos, fake_time):
    ok = StubResponse.json(page([row("202301", "3.5")], total=1))
    stub.route(
        "GET",
        f"{BASE_PATH}/1/2/722Y001/M/202301/202301/0101000",
        [StubResponse(status=429, headers={"Retry-After": "3"}), StubResponse.text("down", status=500), ok],
    )
    rows = ecos.statistic_search("722Y001", "M", "202301", "202301", item_codes=("0101000",))
    assert [r["value"] for r in rows] == [3.5]
    assert fake_time.sleeps[0] == 3.0
    assert len(stub.requests) == 3


def test_html_page_is_bad_response(stub, ecos):
    stub.route(
        "GET",
        f"{BASE_PATH}/1/2/{TAIL}",
        StubResponse.text("<html><body>서비스 점검</body></html>", content_type="text/html"),
    )
    with pytest.raises(BadResponse, match="text/html"):
        ecos.statistic_search("722Y001", "M", "202301", "202303", item_codes=("0101000",))


def test_refuses_without_a_lag_for_the_series(stub, ecos):
    with pytest.raises(ValueError, match="publication_lag_days"):
        ecos.statistic_search("731Y001", "D", "20230101", "20230131")
    assert stub.requests == []


def test_item_specific_lag_wins(stub, fake_time):
    with EcosClient(
        api_key=KEY,
        base_url=f"{stub.url}/api",
        publication_lag_days={"722Y001": 1, "722Y001/0101000": 5},
        **fake_time.kwargs(),
    ) as client:
        assert client.lag_for("722Y001", ("0101000",)) == 5
        assert client.lag_for("722Y001", ("0102000",)) == 1


def test_period_start_for_each_cycle():
    assert period_start("2023", "A") == date(2023, 1, 1)
    assert period_start("2023S2", "S") == date(2023, 7, 1)
    assert period_start("2023Q3", "Q") == date(2023, 7, 1)
    assert period_start("202311", "M") == date(2023, 11, 1)
    assert period_start("202311S2", "SM") == date(2023, 11, 16)
    assert period_start("20231105", "D") == date(2023, 11, 5)


def test_blank_value_is_none_and_cycle_is_guessed():
    rows = parse_statistic_search(page([row("2023Q1", ""), row("2023Q2", "1,234.5")], total=2))
    assert [r["value"] for r in rows] == [None, 1234.5]
    assert [r["cycle"] for r in rows] == ["Q", "Q"]
    assert rows[0]["released_at"] is None  # no lag given to the pure parser
