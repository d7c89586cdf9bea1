"""Reading a user's CSV files: every bad row is named by line, column and reason; the good rows are kept."""

from __future__ import annotations

import datetime as dt
import io

import pandas as pd
import pytest

from risk_assets.core.user_data import parse_date, parse_number, read_events, read_statements, read_table


def csv(text: str) -> io.StringIO:
    return io.StringIO(text.lstrip("\n"))


def messages(parsed) -> list[str]:
    return [str(error) for error in parsed.errors]


def test_statements_bad_rows_are_named_and_the_rest_kept() -> None:
    parsed = read_statements(
        csv("""
company_id,fiscal_year,period_end,filed_at,total_assets,total_liabilities,revenue
A,2020,2020-12-31,2021-03-01,100,60,80
A,2021,2021-12-31,2022-03-01,abc,60,80
B,2021,2021-12-31,,-5,1,2
C,2021,2021/12/31,,10,1,2
D,2021,2021-12-31,2021-06-30,10,1,2
E,2021,2021-12-31,2022-02-01,10,1,2
E,2021,2021-12-31,2022-02-01,11,1,2
F,20x1,2021-12-31,,10,1,2
G,2021,2021-12-31,,0,1,2
,2021,2021-12-31,,10,1,2
H,2021,2021-12-31,,10,-1,2
""")
    )
    assert messages(parsed) == [
        "line 3, column total_assets: 'abc' is not a number",
        "line 4, column total_assets: negative total assets (-5)",
        "line 5, column period_end: bad date '2021/12/31' (expected YYYY-MM-DD)",
        "line 6, column filed_at: filed_at 2021-06-30 is before period_end 2021-12-31",
        "line 7: duplicate key (company_id, period_end, accession or filed_at) = (E, 2021-12-31, 2022-02-01), "
        "also on line 8",
        "line 8: duplicate key (company_id, period_end, accession or filed_at) = (E, 2021-12-31, 2022-02-01), "
        "also on line 7",
        "line 9, column fiscal_year: '20x1' is not a number",
        "line 10, column total_assets: total assets is zero",
        "line 11, column company_id: missing value",
        "line 12, column total_liabilities: negative total liabilities (-1)",
    ]
    assert parsed.rows["line"].tolist() == [2]
    row = parsed.rows.iloc[0]
    assert row["company_id"] == "A" and row["fiscal_year"] == 2020 and row["total_assets"] == 100.0
    assert row["period_end"] == dt.date(2020, 12, 31) and row["filed_at"] == dt.date(2021, 3, 1)


def test_statements_missing_column_refuses_the_file_on_line_1() -> None:
    parsed = read_statements(csv("company_id,period_end,total_assets\nA,2020-12-31,1\n"))
    assert messages(parsed) == ["line 1, column fiscal_year: missing column"]
    assert parsed.rows.empty


def test_statements_unknown_column_is_a_warning_and_missing_tokens_are_none() -> None:
    parsed = read_statements(
        csv("company_id,fiscal_year,period_end,total_asset,total_assets,cash\nA,2020,2020-12-31,5,10,NA\n")
    )
    assert parsed.errors == []
    assert parsed.warnings == [
        "column 'total_asset' ignored: not a canonical item nor a known statement column"
    ]
    assert parsed.rows.iloc[0]["cash"] is None and pd.isna(parsed.rows.iloc[0]["filed_at"])


def test_a_row_with_more_cells_than_the_header_is_refused() -> None:
    parsed = read_events(
        csv("company_id,event_date,kind\nA,2020-01-02,bankruptcy,extra\nB,2020-01-03,default\n")
    )
    assert messages(parsed) == ["line 2: more cells than the header has columns ('extra')"]
    assert parsed.rows["company_id"].tolist() == ["B"]


def test_events_unknown_kind_bad_date_and_duplicates() -> None:
    parsed = read_events(
        csv("""
company_id,event_date,kind,reference
A,2020-05-22,bankruptcy,Chapter 11
A,2020-05-22,Bankruptcy,same event twice
B,2020-13-01,default,
C,2021-01-01,chapter11,
D,2021-01-01,emergence,
""")
    )
    assert messages(parsed) == [
        "line 2: duplicate key (company_id, event_date, kind) = (A, 2020-05-22, bankruptcy), also on line 3",
        "line 3: duplicate key (company_id, event_date, kind) = (A, 2020-05-22, bankruptcy), also on line 2",
        "line 4, column event_date: bad date '2020-13-01' (expected YYYY-MM-DD)",
        "line 5, column kind: unknown kind 'chapter11'; expected one of bankruptcy, default, rehabilitation_filing, "
        "creditor_bank_management, emergence",
    ]
    assert parsed.rows[["company_id", "kind"]].values.tolist() == [["D", "emergence"]]


def test_table_target_must_be_0_or_1_and_numbers_must_parse() -> None:
    parsed = read_table(
        csv("""
id,x1,x2,default
r1,0.5,?,0
r2,1.5,2,1
r3,oops,2,0
r4,1,2,2
r5,1,2,
r2,1,1,0
"""),
        target="default",
        key="id",
    )
    assert messages(parsed) == [
        "line 3: duplicate key (id) = (r2), also on line 7",
        "line 4, column x1: 'oops' is not a number",
        "line 5, column default: '2' is not 0 or 1",
        "line 6, column default: missing value",
        "line 7: duplicate key (id) = (r2), also on line 3",
    ]
    assert parsed.rows["id"].tolist() == ["r1"]
    assert parsed.rows["x2"].isna().all() and parsed.rows["default"].tolist() == [0]


def test_table_without_the_target_column() -> None:
    parsed = read_table(csv("x1,x2\n1,2\n"), target="default")
    assert messages(parsed) == ["line 1, column default: missing column"]


@pytest.mark.parametrize(
    ("text", "value"), [("1e6", 1e6), (" -2.5 ", -2.5), ("", None), ("NaN", None), ("?", None)]
)
def test_parse_number(text: str, value: float | None) -> None:
    assert parse_number(text) == value


@pytest.mark.parametrize("text", ["1,000", "12abc", "inf", "--1"])
def test_parse_number_refuses(text: str) -> None:
    with pytest.raises(ValueError):
        parse_number(text)


def test_parse_date() -> None:
    assert parse_date("2021-03-01") == dt.date(2021, 3, 1)
    assert parse_date("2021-03-01T10:00:00") == dt.date(2021, 3, 1)
    assert parse_date("") is None
    with pytest.raises(ValueError, match="bad date"):
        parse_date("01/03/2021")


# -- encodings, oversized fields, company ids and formula cells -------------------------------------------

STATEMENT_HEADER = "company_id,fiscal_year,period_end,name,total_assets\n"


def test_utf16_with_a_byte_order_mark_is_read_like_utf8(tmp_path) -> None:
    text = STATEMENT_HEADER + "kr-01,2021,2021-12-31,삼성전자,100\n"
    for encoding in ("utf-16", "utf-16-be", "utf-8-sig", "utf-8"):
        path = tmp_path / f"{encoding}.csv"
        data = text.encode(encoding)
        if encoding == "utf-16-be":
            data = b"\xfe\xff" + data
        path.write_bytes(data)
        parsed = read_statements(path)
        assert messages(parsed) == [], encoding
        assert parsed.rows[["company_id", "name"]].values.tolist() == [["kr-01", "삼성전자"]], encoding


def test_a_file_in_another_encoding_is_refused_naming_the_line(tmp_path) -> None:
    path = tmp_path / "latin1.csv"
    path.write_bytes(
        (STATEMENT_HEADER + "A,2021,2021-12-31,Acme,1\nB,2021,2021-12-31,Société,2\n").encode("latin-1")
    )
    parsed = read_statements(path)
    assert messages(parsed) == [
        "line 3: the file is not UTF-8 text (byte 0xe9); save it as UTF-8 (or UTF-16 with a byte-order mark)"
    ]
    assert parsed.rows.empty  # a mis-decoded file lands nothing


def test_utf16_without_a_byte_order_mark_is_refused(tmp_path) -> None:
    path = tmp_path / "nobom.csv"
    path.write_bytes((STATEMENT_HEADER + "A,2021,2021-12-31,Acme,1\n").encode("utf-16-le"))
    parsed = read_events(path)
    assert len(parsed.errors) == 1 and parsed.rows.empty
    assert str(parsed.errors[0]).startswith("line 1: the file contains NUL bytes")


def test_an_oversized_field_is_an_error_on_its_line(tmp_path) -> None:
    path = tmp_path / "big.csv"
    path.write_text(
        STATEMENT_HEADER + 'A,2021,2021-12-31,Acme,1\nB,2021,2021-12-31,"' + "x" * 200_000 + '",2\n'
    )
    parsed = read_statements(path)
    assert messages(parsed) == ["line 3: a field is larger than 131072 characters (the CSV field-size limit)"]
    assert parsed.rows.empty


def test_the_field_limit_holds_when_a_library_raised_the_process_wide_one(tmp_path) -> None:
    """Something in the graph's imports raises csv.field_size_limit for the whole process: the limit is ours."""
    import csv as csv_module

    previous = csv_module.field_size_limit(2**31 - 1)
    try:
        path = tmp_path / "unclosed.csv"
        path.write_text(STATEMENT_HEADER + 'A,2021,2021-12-31,"Acme,1\n' + "B,2021,2021-12-31,B,2\n" * 20_000)
        assert messages(read_statements(path)) == [
            "line 2: a field is larger than 131072 characters (the CSV field-size limit)"
        ]
    finally:
        csv_module.field_size_limit(previous)


@pytest.mark.parametrize("company_id", ["SEC:0000000020", "acme-01", "A", "x_1.b:c-2", "9lives"])
def test_company_ids_of_the_documented_pattern_are_accepted(company_id: str) -> None:
    parsed = read_events(csv(f"company_id,event_date,kind\n{company_id},2020-01-02,default\n"))
    assert messages(parsed) == [] and parsed.rows["company_id"].tolist() == [company_id]


@pytest.mark.parametrize("company_id", ["-acme", "_x", "acme 01", "acme/01", "ac'me", "a\tb", "é1", "x" * 41])
def test_company_ids_outside_the_pattern_are_refused(company_id: str) -> None:
    parsed = read_statements(
        csv(f'company_id,fiscal_year,period_end,total_assets\n"{company_id}",2020,2020-12-31,1\n')
    )
    assert len(parsed.errors) == 1 and parsed.rows.empty
    assert parsed.errors[0].column == "company_id" and parsed.errors[0].line == 2


def test_text_cells_that_would_run_as_spreadsheet_formulas_are_refused() -> None:
    parsed = read_statements(
        csv("""
company_id,fiscal_year,period_end,name,form,accession,total_assets,net_income
=HYPERLINK("x"),2020,2020-12-31,A,10-K,a1,1,1
B,2020,2020-12-31,+cmd|' /C calc'!A0,10-K,a1,1,1
C,2020,2020-12-31,C,@SUM(A1),a1,1,1
D,2020,2020-12-31,D,10-K, -1+1,1,1
E,2020,2020-12-31,Eve,10-K,a1,1,-5.0
""")
    )
    assert messages(parsed) == [
        "line 2, column company_id: starts with '=': refused as a possible spreadsheet formula",
        "line 3, column name: starts with '+': refused as a possible spreadsheet formula",
        "line 4, column form: starts with '@': refused as a possible spreadsheet formula",
        "line 5, column accession: starts with '-': refused as a possible spreadsheet formula",
    ]
    assert parsed.rows["company_id"].tolist() == ["E"] and parsed.rows["net_income"].tolist() == [-5.0]


def test_formula_cells_in_events_tables_and_headers_are_refused() -> None:
    events = read_events(csv("company_id,event_date,kind,reference\nA,2020-01-02,default,=1+1\n"))
    assert messages(events) == [
        "line 2, column reference: starts with '=': refused as a possible spreadsheet formula"
    ]
    table = read_table(csv("id,x1,y\n@r1,1,0\nr2,-1.5,1\n"), target="y", key="id")
    assert messages(table) == [
        "line 2, column id: starts with '@': refused as a possible spreadsheet formula"
    ]
    assert table.rows["x1"].tolist() == [-1.5]
    header = read_table(csv("=x1,y\n1,0\n"), target="y")
    assert messages(header) == [
        "line 1, column =x1: starts with '=': refused as a possible spreadsheet formula"
    ]
