"""risk_scores' whole-table steps on the bundled graph's rows, each against the per-row code it replaced (kept here
as the reference): the feature values' JSON, segments, the overlay and the alert flags come out the same, to the
character and to the bit."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from risk_assets.core.early_warning import (
    FILING_OVERDUE,
    LATE_FILING_NOTICE,
    NON_CLEAN_AUDIT_OPINION,
    warning_flags,
)
from risk_assets.core.feature_table import ratio_frame, warning_flag_records
from risk_assets.core.overlays import apply_overlay, overlay_terms
from risk_assets.core.segments import MIN_FEATURE_SHARE, SEGMENTS, choose_segment
from risk_assets.derive.scores import (
    _json,
    _pending_flags,
    _predict,
    assign_segments,
    json_records,
    newest_period_per_filing,
    with_overlay,
)
from risk_assets.settings import Settings
from risk_assets.storage.warehouse import Warehouse

TODAY = dt.date(2026, 12, 5)


# --- the per-row references ----------------------------------------------------------------------------------


def _segments_by_loop(feats: pd.DataFrame, ratios: pd.DataFrame, companies: pd.DataFrame) -> pd.DataFrame:
    listed_of = {
        cid: bool(
            (isinstance(r.get("ticker"), str) and r.get("ticker"))
            or pd.notna(r.get("cik"))
            or pd.notna(r.get("dart_corp_code"))
        )
        for cid, r in companies.iterrows()
    }
    source_of = {
        cid: "SEC filer"
        if pd.notna(r.get("cik"))
        else "DART filer"
        if pd.notna(r.get("dart_corp_code"))
        else "ticker"
        for cid, r in companies.iterrows()
    }
    mv_source = [m if isinstance(m, str) else None for m in feats["market_value_source"]]
    chosen = [
        choose_segment(
            listed=listed_of.get(cid, False),
            market_value=mv if np.isfinite(mv) else None,
            market_value_source=src,
            source=source_of.get(cid, ""),
        )
        for cid, mv, src in zip(
            feats["company_id"], np.exp(ratios["log_real_mve"].to_numpy(dtype=float)), mv_source, strict=True
        )
    ]
    return pd.DataFrame(chosen, columns=["segment", "segment_reason"], index=feats.index)


def _overlay_by_loop(rows: pd.DataFrame, feats: pd.DataFrame, signals: pd.DataFrame, companies: pd.DataFrame):
    flags_at_filing = {
        (c, a): w
        for c, a, w in zip(feats["company_id"], feats["accession"], warning_flag_records(feats), strict=True)
    }
    signals_of = dict(tuple(signals.groupby("company_id"))) if len(signals) else {}
    dart = set(companies.index[companies["dart_corp_code"].notna()])
    none = pd.DataFrame(columns=["company_id", "kind", "signal_date", "resolved_at"])
    overlay_pd, drivers = [], []
    for row in rows.itertuples(index=False):
        if row.kind == "current":
            flags = warning_flags(
                signals_of.get(row.company_id, none), row.as_of, audit_opinions_known=row.company_id in dart
            )
            terms = overlay_terms(flags, row.filed_at, row.as_of)
        else:
            terms = overlay_terms(flags_at_filing.get((row.company_id, row.accession)), None, row.as_of)
        overlay_pd.append(apply_overlay(float(row.model_pd), terms))
        stored = json.loads(row.drivers)
        stored["overlay"] = terms
        drivers.append(json.dumps(stored, sort_keys=True))
    return rows.assign(overlay_pd=overlay_pd, drivers=drivers)


def _pending_by_loop(existing: pd.DataFrame, rows: pd.DataFrame) -> np.ndarray:
    key = ["company_id", "as_of", "kind"]
    model = ["model_name", "model_version"]
    old = existing[key + model + ["pd", "alert_pending"]].rename(
        columns={"pd": "old_pd", "alert_pending": "old_pending"}
    )
    merged = rows[key + model + ["pd"]].merge(old, on=key + model, how="left")
    keys = (
        existing[key]
        .astype(str)
        .assign(_model=existing["model_name"].astype(str) + "/" + existing["model_version"].astype(str))
    )
    mine = (
        rows[key]
        .astype(str)
        .assign(_model=rows["model_name"].astype(str) + "/" + rows["model_version"].astype(str))
    )
    elsewhere = mine.merge(keys, on=key, how="left", suffixes=("", "_old"))
    elsewhere = elsewhere[elsewhere["_model_old"].notna() & (elsewhere["_model_old"] != elsewhere["_model"])]
    scored_elsewhere = set(map(tuple, elsewhere[key].to_numpy()))
    is_new = merged["old_pd"].isna().to_numpy()
    changed = (~is_new) & (np.abs(merged["pd"].to_numpy() - merged["old_pd"].fillna(0).to_numpy()) > 1e-12)
    new_flags = np.array(
        [tuple(k) not in scored_elsewhere for k in rows[key].astype(str).to_numpy()], dtype=bool
    )
    old_flags = merged["old_pending"].eq(True).to_numpy()
    return np.where(is_new, new_flags, changed | old_flags)


# --- the bundled graph's rows --------------------------------------------------------------------------------


@pytest.fixture
def scoring_inputs(graph_env: Path) -> dict:
    return _inputs()


def _inputs() -> dict:
    """The inputs score_rows sees for every company: the non-financial feature rows cut to each filing date's
    newest period, their ratios, the companies, the stored scores and the signals."""
    store = Warehouse(Settings.from_env().warehouse_url)
    try:
        companies = store.read("companies").set_index("company_id")
        feats = store.read("features")
        scores = store.read("risk_scores")
        signals = store.read("warning_signals")
    finally:
        store.dispose()
    feats = feats[~feats["company_id"].map(companies["is_financial"].astype(bool))].reset_index(drop=True)
    filings = pd.DataFrame(
        {
            "company_id": feats["company_id"],
            "as_of": pd.to_datetime(feats["filed_at"]).dt.date,
            "period_end": pd.to_datetime(feats["period_end"]).dt.date,
            "accession": feats["accession"],
        }
    )
    feats = feats.loc[newest_period_per_filing(filings).index.sort_values()].reset_index(drop=True)
    ratios = ratio_frame(feats)
    return {"companies": companies, "feats": feats, "ratios": ratios, "scores": scores, "signals": signals}


def _same_values(texts: list[str], frame: pd.DataFrame) -> None:
    """Each text reads back, key for key in sorted order and bit for bit, as what ``_json`` writes of its row
    (NaN and infinities as null)."""
    expected = [json.loads(_json(r)) for r in frame.to_dict("records")]
    decoded = [json.loads(text) for text in texts]
    assert [list(d) for d in decoded] == [sorted(frame.columns)] * len(frame)
    assert len(decoded) == len(expected)
    for got, want in zip(decoded, expected, strict=True):
        assert all(
            (g is None and w is None) or (g is not None and w is not None and g.hex() == w.hex())
            for g, w in zip(map(_as_float, got.values()), map(_as_float, want.values()), strict=True)
        )


def _as_float(value: object) -> float | None:
    return None if value is None else float(value)


def test_feature_values_json_reads_back_as_each_rows_values(scoring_inputs: dict) -> None:
    ratios = scoring_inputs["ratios"]
    for segment in SEGMENTS.values():
        frame = ratios.reindex(columns=list(segment.features)).astype(float)
        _same_values(json_records(frame), frame)
    awkward = pd.DataFrame(
        {
            "b": [0.1, -0.0, 1e16, 1e-5, 123456789.125, np.inf],
            "a": [np.nan, -np.inf, 5e-324, 1.7976931348623157e308, -2.5, 3.0],
            'q"uote': [1.0, 2.0, 3.0, 4.0, 5.0, 6.0],
        }
    )
    texts = json_records(awkward)
    _same_values(texts, awkward)
    assert texts[0] == '{"a":null,"b":0.1,"q\\"uote":1.0}'  # compact, the quote escaped
    assert json_records(awkward.iloc[:0]) == [] and json_records(pd.DataFrame(index=range(2))) == ["{}", "{}"]


def test_segments_are_choose_segment_per_row(scoring_inputs: dict) -> None:
    feats, ratios, companies = scoring_inputs["feats"], scoring_inputs["ratios"], scoring_inputs["companies"]
    found = assign_segments(feats, ratios, companies)
    pd.testing.assert_frame_equal(found, _segments_by_loop(feats, ratios, companies))
    assert set(found["segment"]) >= {"listed_market", "listed_statements"}
    # companies without a source, with an empty ticker, or not in the company table
    odd = companies.copy()
    first, second, third = odd.index[:3]
    odd.loc[first, ["cik", "dart_corp_code", "ticker"]] = [None, None, ""]
    odd.loc[second, ["cik", "dart_corp_code", "ticker"]] = [None, None, "XYZ"]
    odd.loc[third, ["cik", "dart_corp_code", "ticker"]] = [None, "00126380", None]
    odd = odd.drop(index=odd.index[3])
    found = assign_segments(feats, ratios, odd)
    pd.testing.assert_frame_equal(found, _segments_by_loop(feats, ratios, odd))
    assert "sme" in set(found["segment"])


def _rows(scoring_inputs: dict) -> pd.DataFrame:
    """Score rows as score_rows hands them to with_overlay: the stored filing scores and a snapshot per company
    (its newest filing), drivers without the overlay, and with none for some."""
    scores = scoring_inputs["scores"]
    period = scores[scores["kind"] == "period"].copy()
    period["as_of"] = pd.to_datetime(period["as_of"]).dt.date
    period["filed_at"] = pd.to_datetime(period["filed_at"]).dt.date
    period["period_end"] = pd.to_datetime(period["period_end"]).dt.date
    model = [{k: v for k, v in json.loads(t).items() if k != "overlay"} for t in period["drivers"]]
    period["drivers"] = [json.dumps(d, sort_keys=True) if d else None for d in model]
    latest = period.sort_values(["company_id", "period_end", "filed_at"]).groupby("company_id").tail(1)
    rows = pd.concat([period, latest.assign(kind="current", as_of=TODAY)], ignore_index=True)
    rows.loc[rows.index % 3 == 0, "drivers"] = None  # not explained: only the overlay is written
    assert rows["drivers"].notna().any()
    return rows


def _signals(scoring_inputs: dict) -> pd.DataFrame:
    """The bundled signals and more: notices, an open overdue report, a non-clean opinion (Samsung: DART)."""
    scored = sorted(set(scoring_inputs["scores"]["company_id"]))
    sec = [c for c in scored if c.startswith("sec-")]
    dart = [c for c in scored if c.startswith("dart-")]
    extra = [
        (sec[0], LATE_FILING_NOTICE, TODAY - dt.timedelta(days=30), None),
        (sec[0], LATE_FILING_NOTICE, TODAY - dt.timedelta(days=200), None),
        (sec[0], LATE_FILING_NOTICE, TODAY - dt.timedelta(days=380), None),  # more than a year ago
        (sec[1], FILING_OVERDUE, TODAY - dt.timedelta(days=20), None),
        (sec[2], FILING_OVERDUE, TODAY - dt.timedelta(days=20), TODAY - dt.timedelta(days=2)),
        (dart[0], NON_CLEAN_AUDIT_OPINION, TODAY - dt.timedelta(days=100), None),
        (sec[3], NON_CLEAN_AUDIT_OPINION, TODAY - dt.timedelta(days=100), None),  # no opinion feed for SEC
    ]
    added = pd.DataFrame(
        [
            {"company_id": c, "kind": k, "reference": f"test-{i}", "signal_date": d, "resolved_at": r}
            for i, (c, k, d, r) in enumerate(extra)
        ]
    )
    return pd.concat([scoring_inputs["signals"], added], ignore_index=True)


def test_overlay_is_the_row_loops(scoring_inputs: dict) -> None:
    feats, companies = scoring_inputs["feats"], scoring_inputs["companies"]
    feats = feats.copy()
    # flags known at some filings: a notice, an overdue report, a non-clean opinion
    flagged = feats.index % 5 == 0
    flags = ["late_filing_notices_12m", "filing_overdue", "non_clean_audit_opinion"]
    feats[flags] = feats[flags].astype(object)
    feats.loc[flagged, flags] = [1, 1, None]
    feats.loc[feats.index % 7 == 0, flags] = [None, None, 1]
    feats.loc[feats.index % 11 == 0, flags] = None
    rows, signals = _rows(scoring_inputs), _signals(scoring_inputs)
    found = with_overlay(rows, feats, signals, companies)
    expected = _overlay_by_loop(rows.assign(drivers=rows["drivers"].fillna("{}")), feats, signals, companies)
    assert found["overlay_pd"].tolist() == expected["overlay_pd"].tolist()
    assert found["drivers"].tolist() == expected["drivers"].tolist()
    every = {"late_filing_notice", "filing_overdue", "non_clean_opinion", "stale_statements"}
    for kind, names in (("period", every - {"stale_statements"}), ("current", every)):
        texts = found.loc[found["kind"] == kind, "drivers"]
        assert {term["name"] for text in texts for term in json.loads(text)["overlay"]} == names, kind
    assert (found["overlay_pd"] != found["model_pd"]).any()


def test_pending_flags_are_the_row_loops(scoring_inputs: dict) -> None:
    existing = scoring_inputs["scores"].copy()
    existing["as_of"] = pd.to_datetime(existing["as_of"]).dt.date
    existing.loc[existing.index % 4 == 0, "alert_pending"] = True
    rows = existing.copy()
    rows.loc[rows.index % 3 == 0, "pd"] = rows["pd"] * 1.5  # changed
    rows.loc[rows.index % 10 == 1, "model_version"] = "999"  # scored by another version before
    rows.loc[rows.index % 10 == 2, "as_of"] = TODAY + dt.timedelta(days=1)  # new
    existing.loc[existing.index % 10 == 3, "model_version"] = "998"  # and the other way round
    found = _pending_flags(existing, rows)
    expected = _pending_by_loop(existing, rows)
    assert found.tolist() == expected.tolist()
    assert found.any() and not found.all()


def test_insufficient_data_notes_are_the_row_loops(scoring_inputs: dict) -> None:
    """_predict's notes for rows with too few features: one per row, as the former loop wrote them."""

    class Model:  # _predict needs only score(); the notes do not depend on the model's numbers
        def score(self, frame: pd.DataFrame, explain=None) -> pd.DataFrame:
            n = len(frame)
            return pd.DataFrame(
                {
                    "pd": np.full(n, 0.01),
                    "log_odds": np.zeros(n),
                    "out_of_domain": np.zeros(n, dtype=bool),
                    "domain_note": [f"note {i}" for i in range(n)],
                    "drivers": [None] * n,
                },
                index=frame.index,
            )

    segment = SEGMENTS["listed_market"]
    frame = scoring_inputs["ratios"].reindex(columns=list(segment.features)).astype(float)
    rng = np.random.default_rng(2)
    frame = frame.mask(rng.random(frame.shape) < 0.45)
    out = _predict(Model(), frame, segment.name, np.zeros(len(frame), dtype=bool))
    known = frame.notna().mean(axis=1).to_numpy()
    expected = [
        f"note {k}"
        if share >= MIN_FEATURE_SHARE
        else (
            f"insufficient data: {share:.0%} of the {segment.name} model's {frame.shape[1]} features "
            f"known (at least {MIN_FEATURE_SHARE:.0%} needed); missing: "
            + ", ".join(frame.columns[frame.loc[i].isna()][:12])
        )[:1000]
        for k, (share, i) in enumerate(zip(known, frame.index, strict=True))
    ]
    assert out["domain_note"].tolist() == expected
    assert (out["status"] == "insufficient_data").any() and (out["status"] == "scored").any()
    assert out["drivers"].isna().all()
