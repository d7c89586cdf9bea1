"""`riskgraph evaluate`: train and validate every model family on a user's own data, no warehouse needed.

    riskgraph evaluate --statements S.csv --events E.csv --test-from 2019 --out DIR   (out of time)
    riskgraph evaluate --table T.csv --target default --out DIR                        (repeated k-fold)
    riskgraph evaluate --stored-table NAME --out DIR                                   (a table imported before)

Writes DIR/report.json (per model: auc, ar, ks, brier, log_loss, n_train, n_test, positives, calibration by
decile, grades, PSI; the classic scores beside them, or why they are not available), DIR/roc.png,
DIR/calibration.png and DIR/model_card.md, and prints a table. Bad CSV rows are listed and left out.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from risk_assets.core.labels import DEFAULT_HORIZON_MONTHS, DEFAULT_REPORTING_LAG_DAYS


class InputError(ValueError):
    """The input cannot be evaluated at all (a header problem, no usable rows)."""


def _read(reader, path: str, what: str, out, *args) -> pd.DataFrame:
    parsed = reader(path, *args)
    for text in parsed.warnings:
        print(f"{what}: warning: {text}", file=out)
    for error in parsed.errors:
        print(f"{what}: {error}", file=out)
    if parsed.errors:
        print(f"{what}: {len(parsed.rejected_lines)} row(s) left out, {len(parsed.rows)} used", file=out)
    if parsed.rows.empty:
        raise InputError(f"{what} {path}: no usable row")
    return parsed.rows.drop(columns="line")


def evaluate_statements(
    statements_csv: str,
    events_csv: str | None,
    test_from: int,
    *,
    horizon_months: int,
    reporting_lag_days: int,
    observed_until: dt.date | None,
    seed: int,
    missing: str,
    long_run_rate: float | None,
    out=None,
    default_kinds: tuple[str, ...] | None = None,
):
    from risk_assets.core.evaluation import (
        build_panel,
        evaluate_out_of_time,
        evaluation_candidates,
        listed_candidates,
    )
    from risk_assets.core.user_data import read_events, read_statements

    statements = _read(read_statements, statements_csv, "statements", out)
    if events_csv:
        events = _read(read_events, events_csv, "events", out)
    else:
        events = pd.DataFrame(columns=["company_id", "event_date", "kind"])
    if observed_until is None and len(events):
        # Events are known only up to the file's last one: a window running past it is not a survival.
        observed_until = pd.to_datetime(events["event_date"]).max().date()
        print(
            f"observed until {observed_until} (the events file's last date; --observed-until to change): label "
            "windows running past it are left out",
            file=out,
        )
    from risk_assets.core.labels import DEFAULT_EVENT_KINDS

    kinds = tuple(default_kinds or DEFAULT_EVENT_KINDS)
    unknown = sorted(set(kinds) - set(DEFAULT_EVENT_KINDS))
    if unknown:
        raise InputError(
            f"--default-kinds: {', '.join(unknown)} is not a default event kind; choose from "
            f"{', '.join(DEFAULT_EVENT_KINDS)}"
        )
    print(
        f"default definition: the first event of kind {', '.join(kinds)} (--default-kinds to change)",
        file=out,
    )
    panel = build_panel(
        statements,
        events,
        horizon_months,
        reporting_lag_days,
        observed_until=observed_until,
        default_kinds=kinds,
    )
    evaluation = evaluate_out_of_time(
        panel,
        test_from,
        evaluation_candidates(missing),
        seed=seed,
        target_rate=long_run_rate,
        field_candidates=listed_candidates(),
        progress=lambda text: print(text, file=out, flush=True),
    )
    evaluation.report["inputs"] = {
        "statements": str(statements_csv),
        "events": str(events_csv) if events_csv else None,
        "observed_until": observed_until.isoformat() if observed_until else None,
        "default_kinds": list(kinds),
    }
    return evaluation


#: --fast: folds of the one repeat.
FAST_FOLDS = 3


def _classic_for_table(frame: pd.DataFrame) -> dict:
    """Z'' and Zmijewski when the table carries Polish attribute columns; otherwise every classic score is
    reported as not available (a ratio table has no statement items to compute them from)."""
    from risk_assets.core.benchmarks import CLASSIC_SCORES, ClassicScore, classic_from_polish_ratios

    if any(str(column).startswith("Attr") for column in frame.columns):
        return classic_from_polish_ratios(frame)
    reason = (
        "the table has neither statement items nor Polish attribute columns (Attr1..Attr64) to compute it"
    )
    n = len(frame)
    return {
        name: ClassicScore(name, np.full(n, np.nan), None, np.full(n, reason, dtype=object), "not computable")
        for name in CLASSIC_SCORES
    }


def evaluate_table(
    frame: pd.DataFrame,
    target: str,
    *,
    key: str | None,
    folds: int,
    repeats: int,
    seed: int,
    missing: str,
    long_run_rate: float | None,
    source: str,
    fast: bool = False,
    workers: int = 1,
    out=None,
):
    from risk_assets.core.evaluation import evaluate_kfold, evaluation_candidates, product_candidates
    from risk_assets.core.user_data import numeric_columns

    features = numeric_columns(frame, exclude=[target] + ([key] if key else []))
    features = [name for name in features if frame[name].notna().any()]
    if not features:
        raise InputError("the table has no numeric feature column with a value")
    # --fast: the families the pipeline serves only (the five-member LightGBM bag costs as much as the rest)
    candidates = product_candidates(missing) if fast else evaluation_candidates(missing)
    print(
        f"fitting {len(candidates)} families x {folds} folds x {repeats} repeat(s) on {len(frame)} rows, "
        f"{len(features)} features ({', '.join(c.name for c in candidates)}), {workers} process(es)",
        file=out,
        flush=True,
    )
    evaluation = evaluate_kfold(
        frame,
        features,
        target,
        candidates,
        folds=folds,
        repeats=repeats,
        seed=seed,
        classic=_classic_for_table(frame),
        target_rate=long_run_rate,
        progress=lambda text: print(text, file=out, flush=True),
        workers=workers,
    )
    evaluation.report["inputs"] = {"table": source, "target": target}
    return evaluation


def write_outputs(evaluation, out_dir: Path, title: str) -> dict[str, Path]:
    """report.json, roc.png, calibration.png, model_card.md under ``out_dir``."""
    from risk_assets.core.modelcard import render_model_card
    from risk_assets.core.plots import calibration_figure, roc_figure, save

    out_dir.mkdir(parents=True, exist_ok=True)
    report = evaluation.report
    paths = {
        "report": out_dir / "report.json",
        "roc": out_dir / "roc.png",
        "calibration": out_dir / "calibration.png",
        "model_card": out_dir / "model_card.md",
    }
    paths["report"].write_text(json.dumps(report, indent=2, default=str))
    save(roc_figure(evaluation.predictions, f"ROC, {title}"), paths["roc"])
    save(calibration_figure(evaluation.probabilities, f"Calibration, {title}"), paths["calibration"])
    chosen = report["best"]
    card = render_model_card(
        title=f"Evaluation: {title}",
        chosen=chosen,
        selection_rule=report.get("selection_rule", "highest mean AUC over the validation folds"),
        data={**report["data"], **{f"protocol {k}": v for k, v in report["protocol"].items()}},
        features=report["data"]["features"],
        models=report["models"],
        calibration={"PD scale of every test": report["protocol"]["pd_scale"]},
        extra_limits=(
            "This card describes an evaluation on the user's data, not the bundled model: its limits "
            "about the Polish training data apply only to the bundled model.",
        ),
    )
    paths["model_card"].write_text(card)
    return paths


def print_table(report: dict[str, Any], out=None) -> None:
    from risk_assets.core.evaluation import report_table

    table = report_table(report)
    with pd.option_context("display.width", 160, "display.max_colwidth", 70):
        print(table.to_string(index=False, float_format=lambda v: f"{v:.4f}", na_rep=""), file=out)
    print(f"best fitted family: {report['best']}", file=out)


def _run(args: argparse.Namespace, out=None) -> int:
    try:
        if args.statements:
            if args.test_from is None:
                raise InputError("--statements needs --test-from YEAR (the first test year)")
            evaluation = evaluate_statements(
                args.statements,
                args.events,
                args.test_from,
                horizon_months=args.horizon_months,
                reporting_lag_days=args.reporting_lag_days,
                observed_until=args.observed_until,
                seed=args.seed,
                missing=args.missing,
                long_run_rate=args.long_run_rate,
                out=out,
                default_kinds=tuple(k.strip() for k in args.default_kinds.split(",") if k.strip())
                if args.default_kinds
                else None,
            )
            title = f"{Path(args.statements).name}, out of time from {args.test_from}"
        elif args.table or args.stored_table:
            if args.table:
                from risk_assets.core.user_data import read_table

                if not args.target:
                    raise InputError("--table needs --target COLUMN")
                frame = _read(read_table, args.table, "table", out, args.target, args.key)
                target, key, source = args.target, args.key, args.table
            else:
                from risk_assets.commands.data import _objects
                from risk_assets.storage.imports import read_stored_table

                frame, meta = read_stored_table(_objects(), args.stored_table)
                target, key, source = meta["target"], meta["key"], f"stored table {args.stored_table}"
            from risk_assets.core.evaluation import default_workers

            folds, repeats = (FAST_FOLDS, 1) if args.fast else (args.folds, args.repeats)
            evaluation = evaluate_table(
                frame,
                target,
                key=key,
                folds=folds,
                repeats=repeats,
                seed=args.seed,
                missing=args.missing,
                long_run_rate=args.long_run_rate,
                source=source,
                fast=args.fast,
                workers=args.jobs or default_workers(),
                out=out,
            )
            title = f"{Path(source).name}, {folds}-fold x {repeats}"
        else:
            raise InputError(
                "give --statements (with --events, --test-from) or --table (with --target) or --stored-table"
            )
    except (InputError, ValueError, LookupError) as error:
        print(f"evaluate: {error}", file=out)
        return 2
    paths = write_outputs(evaluation, Path(args.out), title)
    print_table(evaluation.report, out)
    print(f"wrote {', '.join(str(p) for p in paths.values())}", file=out)
    return 0


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} is not a positive number of processes")
    return value


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "evaluate",
        help="train and validate every model family (and the classic scores) on your data",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    source = parser.add_argument_group("data (one of)")
    source.add_argument("--statements", help="statements CSV (as `riskgraph import statements`)")
    source.add_argument("--events", help="default events CSV (as `riskgraph import events`)")
    source.add_argument("--table", help="labelled ratio table CSV: numeric columns and a 0/1 target")
    source.add_argument("--stored-table", help="a table stored by `riskgraph import table`")
    parser.add_argument("--target", help="the table's 0/1 column")
    parser.add_argument("--key", help="the table's row-id column (text; not a feature)")
    parser.add_argument("--test-from", type=int, help="first test year (out of time; years of t)")
    parser.add_argument("--horizon-months", type=int, default=DEFAULT_HORIZON_MONTHS)
    parser.add_argument("--reporting-lag-days", type=int, default=DEFAULT_REPORTING_LAG_DAYS)
    parser.add_argument(
        "--observed-until",
        type=dt.date.fromisoformat,
        help="last date the events file is complete: rows whose label window runs past it are "
        "left out (default: the events file's last event date)",
    )
    parser.add_argument(
        "--default-kinds",
        help="comma-separated event kinds that count as a default (default: bankruptcy, default, "
        "rehabilitation_filing, creditor_bank_management; emergence cures one)",
    )
    parser.add_argument("--folds", type=int, default=5, help="k of the k-fold (a table; default 5)")
    parser.add_argument(
        "--repeats",
        type=int,
        default=1,
        help="repeats of the k-fold with new folds (a table; default 1): each narrows the standard "
        "error a little and costs as much again",
    )
    parser.add_argument(
        "--jobs",
        type=_positive_int,
        default=None,
        help="worker processes for a table's folds (default: one per core); the figures do not depend on it",
    )
    parser.add_argument(
        "--fast",
        action="store_true",
        help=f"a first look at a table: {FAST_FOLDS} folds, one repeat, the served families only "
        "(no LightGBM bag)",
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--missing",
        choices=["native", "impute"],
        default="native",
        help="missing values: the models' own handling (default) or training medians",
    )
    parser.add_argument(
        "--long-run-rate",
        type=float,
        help="long-run default rate the PDs are shifted to (default: the sample's; the tests in "
        "the report are on the sample's scale either way)",
    )
    parser.add_argument("--out", required=True, help="output folder")
    parser.set_defaults(handler=_run)
