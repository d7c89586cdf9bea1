"""`riskgraph evaluate` end to end: a SYNTHETIC statement panel out of time, and a small labelled table (the
bundled Polish data, a sample) with k-fold. Checks the files and the fields of report.json."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd
import pytest

from risk_assets.cli import main
from risk_assets.core.polish import load_polish
from tests.modeling.synthetic import synthetic_panel, write_csv

FAMILIES = ("logistic_woe", "logistic_winsor", "lightgbm", "lightgbm_bag")
CLASSIC = ("altman_z", "altman_z_double_prime", "ohlson_o", "zmijewski")
PNG = b"\x89PNG\r\n\x1a\n"


def write_polish_sample(path: Path, columns: list[str], *, defaults: int, survivors: int, seed: int) -> None:
    """A labelled table CSV from the bundled Polish data: ``defaults`` bankrupt and ``survivors`` healthy rows."""
    polish = load_polish(1)
    sample = (
        polish[polish["target"] == 1]
        .sample(defaults, random_state=seed)
        ._append(polish[polish["target"] == 0].sample(survivors, random_state=seed))
    )
    sample[[*columns, "target"]].to_csv(path, index=False, na_rep="?")


def fitted_folds(printed: str, total: int) -> set[tuple[str, int, int]]:
    """(family, repeat, fold) of the progress lines, checking that there is one line per fit, counted 1..total
    (the folds run as parallel jobs, so they finish in any order)."""
    lines = re.findall(r"^\[(\d+)/(\d+)\] (\w+): repeat (\d+)/\d+, fold (\d+)/\d+, AUC", printed, re.M)
    assert [(int(done), int(of)) for done, of, *_ in lines] == [(k, total) for k in range(1, total + 1)]
    return {(family, int(repeat), int(fold)) for *_, family, repeat, fold in lines}


def evaluate_panel(folder: Path, out: Path, *options: str) -> int:
    """`riskgraph evaluate` out of time (tested from 2019) on the panel written to ``folder``/S.csv and E.csv."""
    return main(
        [
            "evaluate",
            "--statements",
            str(folder / "S.csv"),
            "--events",
            str(folder / "E.csv"),
            "--test-from",
            "2019",
            "--out",
            str(out),
            *options,
        ]
    )


def evaluate_table(folder: Path, out: Path, *options: str) -> int:
    """`riskgraph evaluate` with k-fold on the labelled table written to ``folder``/T.csv (target column
    ``target``)."""
    return main(
        ["evaluate", "--table", str(folder / "T.csv"), "--target", "target", "--out", str(out), *options]
    )


def check_outputs(out: Path, statements: bool = False) -> dict:
    report = json.loads((out / "report.json").read_text())
    for name in ("roc.png", "calibration.png"):
        assert (out / name).read_bytes().startswith(PNG)
    assert (out / "model_card.md").read_text().startswith("# Evaluation")
    for name in FAMILIES:
        figures = report["models"][name]
        for key in ("auc", "ar", "ks", "brier", "log_loss", "n_train", "n_test", "positives", "psi"):
            assert figures[key] is not None, (name, key)
        assert figures["ar"] == pytest.approx(2 * figures["auc"] - 1)
        assert 0 <= figures["brier"] <= 1 and 0 <= figures["ks"] <= 1
    fitted = set(FAMILIES)
    if statements:  # statements also train the field-feature families (the listed segments' features)
        fitted |= {"field_logistic_woe", "field_logistic_winsor", "field_lightgbm"}
        assert fitted <= set(report["models"])
        # chosen on the training years' cross-validated AUC, never the test's
        assert report["best"] == max(fitted, key=lambda name: report["models"][name]["cv_auc"])
    assert report["best"] in fitted
    assert set(CLASSIC) <= set(report["models"])
    return report


def test_evaluate_a_synthetic_statement_panel_out_of_time(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    statements, events = synthetic_panel(companies=120)
    bad = statements.head(1).assign(total_assets="n/a?")  # one malformed row: reported, left out
    write_csv(statements._append(bad, ignore_index=True), tmp_path / "S.csv")
    write_csv(events, tmp_path / "E.csv")
    out = tmp_path / "out"
    code = evaluate_panel(tmp_path, out, "--seed", "3")
    printed = capsys.readouterr().out
    assert code == 0, printed
    assert f"statements: line {len(statements) + 2}, column total_assets: 'n/a?' is not a number" in printed
    assert "best fitted family" in printed and "lightgbm" in printed and "zmijewski" in printed
    # the events file's last date bounds the label windows unless --observed-until says otherwise
    assert f"observed until {pd.to_datetime(events['event_date']).max().date()}" in printed
    assert "[1/" in printed  # progress while fitting
    report = check_outputs(out, statements=True)
    assert report["inputs"]["observed_until"] == pd.to_datetime(events["event_date"]).max().date().isoformat()
    assert report["protocol"]["kind"] == "out_of_time" and report["protocol"]["test_from_year"] == 2019
    n_test = report["data"]["n_test"]
    for name in FAMILIES:
        assert (
            report["models"][name]["n_test"] == n_test
            and report["models"][name]["n_train"] == report["data"]["n_train"]
        )
    for name in CLASSIC:
        assert report["models"][name]["available"] is True and report["models"][name]["n_test"] == n_test


def test_evaluate_a_labelled_table_with_kfold(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    columns = ["Attr1", "Attr2", "Attr3", "Attr4", "Attr6", "Attr8", "Attr22", "Attr21"]
    write_polish_sample(tmp_path / "T.csv", columns, defaults=40, survivors=360, seed=1)
    out = tmp_path / "out"
    code = evaluate_table(tmp_path, out, "--folds", "3", "--repeats", "2")
    printed = capsys.readouterr().out
    assert code == 0, printed
    report = check_outputs(out)
    assert report["protocol"] | {"kind": "stratified_kfold", "folds": 3, "repeats": 2} == report["protocol"]
    for name in FAMILIES:
        figures = report["models"][name]
        assert figures["n_test"] == 400 and figures["positives"] == 40
        assert 200 <= figures["n_train"] <= 300  # two thirds of 400 rows
        assert len(figures["fold_auc"]) == 6 and figures["auc_se"] > 0
    # From the Polish columns: Z'' and Zmijewski are computed, Altman Z and Ohlson O say why they are not.
    assert (
        report["models"]["zmijewski"]["available"] and report["models"]["altman_z_double_prime"]["available"]
    )
    assert "market value of equity" in report["models"]["altman_z"]["reason"]
    assert "prior year" in report["models"]["ohlson_o"]["reason"]
    assert "not available" in printed
    # progress while it runs: the plan, then one line per fitted fold
    assert "fitting 4 families x 3 folds x 2 repeat(s) on 400 rows, 8 features" in printed
    assert fitted_folds(printed, 24) == {(f, r, k) for f in FAMILIES for r in (1, 2) for k in (1, 2, 3)}


def test_evaluate_fast_is_three_folds_once_without_the_bag(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    write_polish_sample(
        tmp_path / "T.csv", ["Attr1", "Attr2", "Attr3", "Attr6"], defaults=30, survivors=270, seed=2
    )
    code = evaluate_table(tmp_path, tmp_path / "out", "--fast")
    printed = capsys.readouterr().out
    assert code == 0, printed
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert report["protocol"] | {"folds": 3, "repeats": 1} == report["protocol"]
    fitted = {name for name, figures in report["models"].items() if "fold_auc" in figures}
    assert fitted == {"logistic_woe", "logistic_winsor", "lightgbm"}
    assert fitted_folds(printed, 9) == {(f, 1, k) for f in FAMILIES[:3] for k in (1, 2, 3)}


def test_evaluate_figures_do_not_depend_on_the_number_of_processes(tmp_path: Path, capsys) -> None:
    """The folds run as independent jobs; one process or two, finishing in any order, give the same report."""
    write_polish_sample(
        tmp_path / "T.csv", ["Attr1", "Attr2", "Attr3", "Attr6", "Attr27"], defaults=30, survivors=270, seed=3
    )
    reports = []
    for jobs in ("1", "2"):
        out = tmp_path / f"out-{jobs}"
        assert evaluate_table(tmp_path, out, "--fast", "--jobs", jobs) == 0
        assert f"{jobs} process(es)" in capsys.readouterr().out
        reports.append(json.loads((out / "report.json").read_text()))
    assert reports[0]["models"] == reports[1]["models"]


@pytest.mark.parametrize("jobs", ["0", "-1", "two"])
def test_evaluate_refuses_a_bad_number_of_processes(tmp_path: Path, capsys, jobs: str) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["evaluate", "--table", "T.csv", "--target", "target", "--jobs", jobs, "--out", str(tmp_path)])
    assert exit_.value.code == 2
    assert "--jobs" in capsys.readouterr().err


def test_evaluate_refuses_a_file_without_its_columns(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    (tmp_path / "T.csv").write_text("x,y\n1,0\n")
    code = main(
        ["evaluate", "--table", str(tmp_path / "T.csv"), "--target", "default", "--out", str(tmp_path)]
    )
    assert code == 2
    assert "table: line 1, column default: missing column" in capsys.readouterr().out


def test_the_default_definition_is_stated_and_an_unknown_kind_refused(tmp_path: Path, capsys) -> None:
    statements, events = synthetic_panel(companies=40)
    write_csv(statements, tmp_path / "S.csv")
    write_csv(events, tmp_path / "E.csv")
    code = evaluate_panel(tmp_path, tmp_path / "out", "--default-kinds", "bankruptcy,lawsuit")
    printed = capsys.readouterr().out
    assert code == 2 and "lawsuit is not a default event kind" in printed
