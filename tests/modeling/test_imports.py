"""`riskgraph import`: malformed CSVs give per-row errors, the good rows land, nothing stored is lost or doubled."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import pytest

from risk_assets.cli import main
from risk_assets.storage.imports import import_events, import_statements, import_table, read_stored_table
from risk_assets.storage.objects import open_object_store
from risk_assets.storage.warehouse import Warehouse
from tests.conftest import use_home

STATEMENTS = """company_id,fiscal_year,period_end,filed_at,name,country,sic,total_assets,total_liabilities,net_income
ACME,2020,2020-12-31,2021-03-01,Acme Corp,US,3571,1000,600,50
ACME,2021,2021-12-31,,Acme Corp,US,3571,1100,650,-20
BETA,2021,2021-12-31,2022-02-15,,,,500,twenty,5
GAMMA,2021,2021-12-31,2022-02-15,,,,-10,5,1
DELTA,2021,2021-12-31,2022-02-15,,,,10,5,1
DELTA,2021,2021-12-31,2022-02-15,,,,11,5,1
BANK,2021,2021-12-31,2022-02-15,First Bank,US,6021,900,800,9
"""
MISSING_COLUMN = """company_id,period_end,total_assets
ACME,2020-12-31,1000
"""
EVENTS = """company_id,event_date,kind,reference
ACME,2022-06-30,bankruptcy,Chapter 11
ACME,2023-01-10,emergence,
BETA,2022-13-01,default,
GAMMA,2022-01-01,chapter11,
"""


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_statements_land_except_the_bad_rows(warehouse: Warehouse, tmp_path: Path) -> None:
    result = import_statements(warehouse, write(tmp_path, "s.csv", STATEMENTS), reporting_lag_days=90)
    assert [str(e) for e in result.errors] == [
        "line 4, column total_liabilities: 'twenty' is not a number",
        "line 5, column total_assets: negative total assets (-10)",
        "line 6: duplicate key (company_id, period_end, accession or filed_at) = (DELTA, 2021-12-31, 2022-02-15), "
        "also on line 7",
        "line 7: duplicate key (company_id, period_end, accession or filed_at) = (DELTA, 2021-12-31, 2022-02-15), "
        "also on line 6",
    ]
    assert result.landed == 3
    stored = warehouse.read("statements").sort_values(["company_id", "fiscal_year"]).reset_index(drop=True)
    assert stored[["company_id", "fiscal_year"]].values.tolist() == [
        ["ACME", 2020],
        ["ACME", 2021],
        ["BANK", 2021],
    ]
    assert set(stored["source"]) == {"user_csv"}
    # No filing date: t = 2021-12-31 + 90 days = 2022-03-31 (31 + 28 + 31), flagged as derived.
    acme_2021 = stored.iloc[1]
    assert str(acme_2021["filed_at"]) == "2022-03-31" and acme_2021["derived_items"] == "filed_at"
    assert acme_2021["accession"] == "csv-20220331" and acme_2021["currency"] == "USD"
    assert stored.iloc[0]["derived_items"] == "" and stored.iloc[0]["accession"] == "csv-20210301"
    companies = warehouse.read("companies").set_index("company_id")
    assert sorted(companies.index) == ["ACME", "BANK"]  # rows of BETA, GAMMA, DELTA were all refused
    assert companies.loc["ACME", "name"] == "Acme Corp" and companies.loc["ACME", "country"] == "US"
    assert companies.loc["ACME", "source"] == "user_csv" and not companies.loc["ACME", "is_financial"]
    assert bool(
        companies.loc["BANK", "is_financial"]
    )  # SIC 6021: excluded from training, kept in the warehouse


def test_reimporting_changes_nothing_and_a_fix_updates_in_place(warehouse: Warehouse, tmp_path: Path) -> None:
    path = write(tmp_path, "s.csv", STATEMENTS)
    import_statements(warehouse, path)
    before = warehouse.read("statements").sort_values(["company_id", "period_end"]).reset_index(drop=True)
    import_statements(warehouse, path)
    again = warehouse.read("statements").sort_values(["company_id", "period_end"]).reset_index(drop=True)
    pd.testing.assert_frame_equal(before, again)
    fixed = write(
        tmp_path,
        "fix.csv",
        "company_id,fiscal_year,period_end,filed_at,total_assets\nACME,2020,2020-12-31,2021-03-01,999\n",
    )
    assert import_statements(warehouse, fixed).ok
    after = warehouse.read("statements", where={"company_id": "ACME"}).sort_values("period_end")
    assert len(after) == 2 and after.iloc[0]["total_assets"] == 999.0
    assert after.iloc[0]["total_liabilities"] == 600.0  # a column the fix did not carry is kept


def test_a_missing_column_refuses_the_file_and_stores_nothing(warehouse: Warehouse, tmp_path: Path) -> None:
    result = import_statements(warehouse, write(tmp_path, "bad.csv", MISSING_COLUMN))
    assert [str(e) for e in result.errors] == ["line 1, column fiscal_year: missing column"]
    assert result.landed == 0 and warehouse.count("statements") == 0 and warehouse.count("companies") == 0


def test_statements_of_a_company_ingested_from_filings_are_refused(
    warehouse: Warehouse, tmp_path: Path
) -> None:
    now = dt.datetime(2024, 1, 1)
    warehouse.upsert(
        "companies",
        [
            {
                "company_id": "sec-0000320193",
                "name": "Apple Inc.",
                "country": "US",
                "is_financial": False,
                "source": "sec",
                "updated_at": now,
            }
        ],
    )
    text = (
        "company_id,fiscal_year,period_end,total_assets\n"
        "sec-0000320193,2020,2020-09-26,323888\nNEWCO,2020,2020-12-31,10\n"
    )
    result = import_statements(warehouse, write(tmp_path, "s.csv", text))
    assert [str(e) for e in result.errors] == [
        "line 2, column company_id: sec-0000320193 is ingested from its filings (SEC/DART); the next ingest would "
        "replace imported statements"
    ]
    assert warehouse.read("statements")["company_id"].tolist() == ["NEWCO"]
    assert warehouse.read("companies", where={"company_id": "sec-0000320193"}).iloc[0]["name"] == "Apple Inc."


def test_events_land_except_the_bad_rows_and_upsert(warehouse: Warehouse, tmp_path: Path) -> None:
    path = write(tmp_path, "e.csv", EVENTS)
    result = import_events(warehouse, path)
    assert [str(e) for e in result.errors] == [
        "line 4, column event_date: bad date '2022-13-01' (expected YYYY-MM-DD)",
        "line 5, column kind: unknown kind 'chapter11'; expected one of bankruptcy, default, rehabilitation_filing, "
        "creditor_bank_management, emergence",
    ]
    import_events(warehouse, path)
    stored = warehouse.read("default_events").sort_values("event_date")
    assert stored[["company_id", "kind", "source"]].values.tolist() == [
        ["ACME", "bankruptcy", "user_csv"],
        ["ACME", "emergence", "user_csv"],
    ]
    assert str(stored.iloc[0]["event_date"]) == "2022-06-30"


def test_table_import_replaces_without_key_and_upserts_with_one(tmp_path: Path) -> None:
    objects = open_object_store(str(tmp_path / "objects"))
    first = write(tmp_path, "t.csv", "id,x1,x2,y\na,1,2,0\nb,3,oops,1\nc,5,6,1\n")
    result = import_table(objects, first, target="y", name="mine", key="id")
    assert [str(e) for e in result.errors] == ["line 3, column x2: 'oops' is not a number"]
    second = write(tmp_path, "t2.csv", "id,x1,x2,y\nc,50,60,0\nd,7,8,0\n")
    import_table(objects, second, target="y", name="mine", key="id")
    table, meta = read_stored_table(objects, "mine")
    assert table.sort_values("id")[["id", "x1", "y"]].values.tolist() == [
        ["a", 1.0, 0],
        ["c", 50.0, 0],
        ["d", 7.0, 0],
    ]
    assert meta["target"] == "y" and meta["rows"] == 3
    import_table(objects, second, target="y", name="other")
    import_table(objects, write(tmp_path, "t3.csv", "x1,y\n1,1\n"), target="y", name="other")
    assert read_stored_table(objects, "other")[0].values.tolist() == [[1.0, 1]]


def test_cli_import_reports_rows_and_exit_code(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    use_home(monkeypatch, tmp_path / "home")
    assert main(["import", "statements", str(write(tmp_path, "s.csv", STATEMENTS))]) == 1
    out = capsys.readouterr().out
    assert "statements: 3 new, 0 updated, 0 unchanged, 4 row(s) refused" in out
    assert "next: `riskgraph materialize --jobs rescore_all` scores the imported statements" in out
    assert "error: line 4, column total_liabilities: 'twenty' is not a number" in out
    good = write(tmp_path, "good.csv", "company_id,event_date,kind\nACME,2022-06-30,bankruptcy\n")
    assert main(["import", "events", str(good)]) == 0
    out = capsys.readouterr().out
    assert "events: 1 new, 0 updated, 0 unchanged, 0 row(s) refused" in out
    assert "next: `riskgraph materialize --jobs retrain rescore_all`" in out
    assert main(["import", "table", str(write(tmp_path, "t.csv", "x,y\n1,0\n2,1\n")), "--target", "y"]) == 0
    assert main(["import", "tables"]) == 0
    assert "t: 2 rows, 1 positives, target 'y'" in capsys.readouterr().out


def test_a_second_identical_import_reports_every_row_unchanged(warehouse: Warehouse, tmp_path: Path) -> None:
    path = write(tmp_path, "s.csv", STATEMENTS)
    first = import_statements(warehouse, path)
    assert (first.new, first.updated, first.unchanged) == (3, 0, 0)
    again = import_statements(warehouse, path)
    assert (again.new, again.updated, again.unchanged) == (0, 0, 3)
    assert again.lines()[0] == "statements: 0 new, 0 updated, 3 unchanged, 4 row(s) refused"
    fixed = write(
        tmp_path,
        "fix.csv",
        "company_id,fiscal_year,period_end,filed_at,total_assets\n"
        "ACME,2020,2020-12-31,2021-03-01,999\nACME,2020,2020-12-31,2021-04-01,999\n"
        "BANK,2021,2021-12-31,2022-02-15,900\n",
    )
    result = import_statements(warehouse, fixed)
    # ACME 2020 (a new value), a later version of it (new key), BANK unchanged in the columns the file carries.
    assert (result.new, result.updated, result.unchanged) == (1, 1, 1)


def test_event_and_table_imports_count_new_updated_unchanged(warehouse: Warehouse, tmp_path: Path) -> None:
    events = write(
        tmp_path, "e.csv", "company_id,event_date,kind,reference\nACME,2022-06-30,bankruptcy,Ch 11\n"
    )
    assert import_events(warehouse, events).new == 1
    again = import_events(warehouse, events)
    assert (again.new, again.updated, again.unchanged) == (0, 0, 1)
    changed = import_events(
        warehouse,
        write(
            tmp_path,
            "e2.csv",
            "company_id,event_date,kind,reference\nACME,2022-06-30,bankruptcy,Chapter 11\n",
        ),
    )
    assert (changed.new, changed.updated, changed.unchanged) == (0, 1, 0)

    objects = open_object_store(str(tmp_path / "objects"))
    table = write(tmp_path, "t.csv", "id,x1,y\na,1,0\nb,2,1\n")
    assert import_table(objects, table, target="y", name="keyed", key="id").new == 2
    same = import_table(objects, table, target="y", name="keyed", key="id")
    assert (same.new, same.updated, same.unchanged) == (0, 0, 2)
    moved = import_table(
        objects, write(tmp_path, "t2.csv", "id,x1,y\nb,3,1\nc,4,0\n"), target="y", name="keyed", key="id"
    )
    assert (moved.new, moved.updated, moved.unchanged) == (1, 1, 0)
    plain = write(tmp_path, "p.csv", "x1,y\n1,0\n2,1\n")
    first = import_table(objects, plain, target="y", name="plain")
    assert first.new == 2
    assert "next: `riskgraph materialize --jobs retrain` trains on the table" in "\n".join(first.lines())
    assert "`riskgraph evaluate --stored-table plain`" in "\n".join(first.lines())
    again = import_table(objects, plain, target="y", name="plain")
    assert (again.new, again.updated, again.unchanged, again.removed) == (0, 0, 2, 0)
    assert again.lines()[:2] == [
        "table: 0 new, 0 updated, 2 unchanged, 0 row(s) refused",
        "nothing changed: no run needed",
    ]
    shorter = import_table(objects, write(tmp_path, "p2.csv", "x1,y\n2,1\n"), target="y", name="plain")
    assert (shorter.new, shorter.updated, shorter.unchanged, shorter.removed) == (0, 0, 1, 1)
    assert shorter.lines()[0] == "table: 0 new, 0 updated, 1 unchanged, 1 removed, 0 row(s) refused"


def test_cli_import_of_an_unreadable_file_names_the_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    use_home(monkeypatch, tmp_path / "home")
    utf16 = tmp_path / "u16.csv"
    utf16.write_bytes("company_id,event_date,kind\nacme-01,2022-06-30,bankruptcy\n".encode("utf-16"))
    assert main(["import", "events", str(utf16)]) == 0
    assert "events: 1 new" in capsys.readouterr().out
    cp949 = tmp_path / "cp949.csv"
    cp949.write_bytes("company_id,event_date,kind,reference\nA,2022-06-30,default,부도\n".encode("cp949"))
    assert main(["import", "events", str(cp949)]) == 1
    out = capsys.readouterr().out
    assert "error: line 2: the file is not UTF-8 text" in out and "Traceback" not in out
    big = write(
        tmp_path,
        "big.csv",
        'company_id,fiscal_year,period_end,name,total_assets\nA,2021,2021-12-31,"' + "x" * 200_000 + '",1\n',
    )
    assert main(["import", "statements", str(big)]) == 1
    assert "error: line 2: a field is larger than 131072 characters" in capsys.readouterr().out
