"""Scoring: PD, grade and drivers for every filing (as of its filing date) plus a current snapshot; alerts."""

import datetime as dt
import json
import time

import dagster as dg
import numpy as np
import pandas as pd
import sqlalchemy as sa

from risk_assets.core.alerts import AlertRule, score_alerts
from risk_assets.core.early_warning import warning_flags
from risk_assets.core.feature_table import ratio_frame, warning_flag_records
from risk_assets.core.fingerprint import combined_fingerprint
from risk_assets.core.labels import in_default  # the one definition of "in default"
from risk_assets.core.master_scale import grade_for_pd
from risk_assets.core.overlays import apply_overlay, overlay_terms
from risk_assets.core.segments import MIN_FEATURE_SHARE, SEGMENTS, choose_segment
from risk_assets.defs.features.assets import features
from risk_assets.defs.incremental import (
    COMPANY_BATCH,
    EVERY_COMPANY,
    SHARED_TOKEN,
    batch_progress,
    company_work,
    no_company_work,
)
from risk_assets.defs.modeling.assets import champion_model
from risk_assets.defs.resources import MlflowResource, WarehouseResource
from risk_assets.defs.sources.assets import FOLLOW_UPSTREAM, company_universe, default_events, warning_signals
from risk_assets.storage.schema import TABLES
from risk_assets.storage.stale import chunks
from risk_assets.storage.warehouse import utc_now
from risk_assets.version import code_version


def newest_period_per_filing(period: pd.DataFrame) -> pd.DataFrame:
    """Keep, per company and filing date, the version of the newest fiscal period known at that date.

    A 10-K also restates comparatives of earlier years; those versions feed prior-year features but are not
    the company's credit view on that date. Same-day versions keep the latest accession.
    """
    ordered = period.assign(_end=pd.to_datetime(period["period_end"]))
    ordered = ordered.sort_values(["company_id", "as_of", "_end", "accession"])
    newest_known = ordered.groupby("company_id")["_end"].cummax()
    current = ordered[ordered["_end"] == newest_known].drop(columns="_end")
    return current.drop_duplicates(["company_id", "as_of"], keep="last")


def _json(value: object) -> str:
    def clean(v: object) -> object:
        if isinstance(v, float) and not np.isfinite(v):
            return None
        return v

    if isinstance(value, dict):
        value = {k: clean(v) for k, v in value.items()}
    return json.dumps(value, sort_keys=True)


def _pending_flags(existing: pd.DataFrame, rows: pd.DataFrame) -> np.ndarray:
    """Which new score rows carry news for the alert rule.

    New (company, as_of) under this model: news, unless another model already scored it (a history rescore
    after a promotion raises no alerts). Same row with a different PD: news. Unchanged: keep its old flag.
    """
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
    old_flags = merged["old_pending"].eq(True).to_numpy()  # NaN (no stored row) is not pending
    return np.where(is_new, new_flags, changed | old_flags)


def assign_segments(feats: pd.DataFrame, ratios: pd.DataFrame, companies: pd.DataFrame) -> pd.DataFrame:
    """Segment and reason per feature row (core.segments.choose_segment): listed when the company has a ticker or
    files with SEC/DART; with market data when the row has a market value."""
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
    mv_source = (
        [m if isinstance(m, str) else None for m in feats["market_value_source"]]
        if "market_value_source" in feats.columns
        else [None] * len(feats)
    )
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


#: What a stored period score carries from the model (the rest is recomputed from the day's events and signals).
MODEL_OUTPUT_COLUMNS = ("status", "model_pd", "log_odds", "drivers", "out_of_domain", "domain_note")


def reusable_scores(
    stored: pd.DataFrame, model_name: str, model_version: str, version_of_code: str
) -> pd.DataFrame:
    """The stored period scores of one model version made by this code, indexed by (company_id, as_of, accession):
    a row whose features are the ones stored needs no new prediction (the model version is immutable). Their
    drivers lose the overlay terms, which are recomputed."""
    mine = stored[
        (stored["kind"] == "period")
        & (stored["model_name"] == model_name)
        & (stored["model_version"].astype(str) == str(model_version))
        & (stored["code_version"] == version_of_code)
    ]
    out = mine[["segment", "feature_values", *MODEL_OUTPUT_COLUMNS]].copy()
    out["drivers"] = [
        json.dumps({k: v for k, v in json.loads(text).items() if k != "overlay"}, sort_keys=True)
        for text in mine["drivers"]
    ]
    out.index = pd.MultiIndex.from_arrays(
        [mine["company_id"], pd.to_datetime(mine["as_of"]).dt.date, mine["accession"]],
        names=["company_id", "as_of", "accession"],
    )
    return out[~out.index.duplicated(keep="last")]


def score_segments(
    feats: pd.DataFrame,
    ratios: pd.DataFrame,
    segments: pd.DataFrame,
    mlflow_registry,
    stored: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Score each row with its segment's champion: PD, raw log-odds, drivers, domain flag, model name and version.

    ``stored``: the companies' stored scores; a row whose filing was scored before by the same model version and
    code from the same feature values keeps that prediction instead of being predicted again (``reused``)."""
    parts = []
    for segment, index in segments.groupby("segment").groups.items():
        registry = mlflow_registry.for_segment(segment)
        try:
            version, model = registry.load_champion()
        except LookupError as error:
            raise dg.Failure(f"cannot score the {segment} segment: {error}") from error
        frame = ratios.loc[index].reindex(columns=model.feature_names).astype(float)
        values = pd.Series([_json(r) for r in frame.to_dict("records")], index=index)
        reuse = pd.Series(False, index=index)
        previous = None
        if stored is not None and len(stored):
            known = reusable_scores(stored, registry.model_name, version, code_version())
            keys = pd.MultiIndex.from_arrays(
                [
                    feats.loc[index, "company_id"],
                    pd.to_datetime(feats.loc[index, "filed_at"]).dt.date,
                    feats.loc[index, "accession"],
                ]
            )
            previous = known.reindex(keys)
            previous.index = index
            reuse = (previous["feature_values"] == values) & (previous["segment"] == segment)
        fresh = index[~reuse.to_numpy()]
        part = pd.DataFrame(index=index, columns=list(MODEL_OUTPUT_COLUMNS), dtype=object)
        if len(fresh):
            part.loc[fresh] = _predict(model, frame.loc[fresh], segment)
        if previous is not None and reuse.any():
            part.loc[reuse] = previous.loc[reuse, list(MODEL_OUTPUT_COLUMNS)].to_numpy()
        parts.append(
            pd.DataFrame(
                {
                    "status": part["status"].to_numpy(dtype=object),
                    "model_pd": part["model_pd"].to_numpy(dtype=float),
                    "log_odds": part["log_odds"].to_numpy(dtype=float),
                    "drivers": part["drivers"].to_numpy(dtype=object),
                    "feature_values": values.to_numpy(dtype=object),
                    "out_of_domain": part["out_of_domain"].to_numpy(dtype=bool),
                    "domain_note": part["domain_note"].to_numpy(dtype=object),
                    "model_name": registry.model_name,
                    "model_version": version,
                    "reused": reuse.to_numpy(dtype=bool),
                },
                index=index,
            )
        )
    return pd.concat(parts).loc[feats.index]


def _predict(model, frame: pd.DataFrame, segment: str) -> pd.DataFrame:
    """The model's outputs (MODEL_OUTPUT_COLUMNS) for the rows of ``frame``."""
    scored = model.score(frame)
    known = frame.notna().mean(axis=1).to_numpy()
    enough = known >= MIN_FEATURE_SHARE
    notes = [
        n
        if ok
        else (
            f"insufficient data: {share:.0%} of the {segment} model's {frame.shape[1]} features "
            f"known (at least {MIN_FEATURE_SHARE:.0%} needed); missing: "
            + ", ".join(frame.columns[frame.loc[i].isna()][:12])
        )
        for n, ok, share, i in zip(scored["domain_note"], enough, known, frame.index, strict=True)
    ]
    return pd.DataFrame(
        {
            "status": np.where(enough, "scored", "insufficient_data"),
            "model_pd": scored["pd"].to_numpy(),
            "log_odds": scored["log_odds"].to_numpy(),
            "drivers": [_json(d) for d in scored["drivers"]],
            "out_of_domain": scored["out_of_domain"].to_numpy(),
            "domain_note": [n[:1000] for n in notes],
        },
        index=frame.index,
    )[list(MODEL_OUTPUT_COLUMNS)]


def with_overlay(
    rows: pd.DataFrame, feats: pd.DataFrame, signals: pd.DataFrame, companies: pd.DataFrame
) -> pd.DataFrame:
    """``overlay_pd``: the model PD adjusted for filing behaviour (core/overlays.py), the terms recorded in the
    drivers. A filing's score sees the flags known at its filing date (the features' warnings); the current
    snapshot sees the signals known today and how old the newest statement is."""
    flags_at_filing = {
        (c, a): w
        for c, a, w in zip(feats["company_id"], feats["accession"], warning_flag_records(feats), strict=True)
    }
    signals_of = dict(tuple(signals.groupby("company_id"))) if len(signals) else {}
    dart = (
        set(companies.index[companies["dart_corp_code"].notna()]) if "dart_corp_code" in companies else set()
    )
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


def score_rows(
    feats: pd.DataFrame,
    companies: pd.DataFrame,
    events: pd.DataFrame,
    signals: pd.DataFrame,
    existing: pd.DataFrame,
    mlflow_registry,
    today: dt.date,
) -> tuple[pd.DataFrame, int]:
    """The filing scores and current snapshots of some companies (their feature rows, company rows indexed by
    company_id, events, signals and stored scores): rows without ``percentile`` and ``scored_at``, and how many
    predictions were reused from ``existing``."""
    if feats.empty:
        return pd.DataFrame(), 0
    # Only a filing date's newest period is a score: the restated comparatives are not predicted at all.
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
    if "log_real_mve" not in ratios.columns:
        ratios["log_real_mve"] = np.nan
    segments = assign_segments(feats, ratios, companies)
    scored = score_segments(feats, ratios, segments, mlflow_registry, stored=existing)
    reused = int(scored.pop("reused").sum())
    period = pd.DataFrame(
        {
            "company_id": feats["company_id"],
            "as_of": pd.to_datetime(feats["filed_at"]).dt.date,
            "kind": "period",
            "period_end": pd.to_datetime(feats["period_end"]).dt.date,
            "fiscal_year": feats["fiscal_year"].astype(int),
            "period_type": feats["period_type"].fillna("FY").astype(str),
            "accession": feats["accession"],
            "filed_at": pd.to_datetime(feats["filed_at"]).dt.date,
            **{c: scored[c].to_numpy() for c in scored.columns},
            "segment": segments["segment"].to_numpy(),
            "segment_reason": segments["segment_reason"].str[:300].to_numpy(),
        }
    )
    latest = period.sort_values(["company_id", "period_end", "filed_at"]).groupby("company_id").tail(1)
    current = latest.assign(kind="current", as_of=today)
    rows = pd.concat([period, current], ignore_index=True)
    rows["in_default"] = in_default(rows[["company_id", "as_of"]], events)
    rows = with_overlay(rows, feats, signals, companies)
    rows["pd"] = np.where(rows["in_default"], 1.0, rows["overlay_pd"])
    rows = rows.drop(columns="overlay_pd")
    rows["grade"] = [
        grade_for_pd(p, in_default=d) for p, d in zip(rows["pd"], rows["in_default"], strict=True)
    ]
    rows["code_version"] = code_version()
    existing = existing.assign(as_of=pd.to_datetime(existing["as_of"]).dt.date)
    rows["alert_pending"] = _pending_flags(existing, rows) if len(existing) else True
    rows["alert_pending"] = rows["alert_pending"] & (rows["status"] == "scored")  # no PD served: no alert
    return rows, reused


def rank_percentiles(current: pd.DataFrame, others: pd.Series) -> pd.Series:
    """Percentile of each scored current PD among every company's current PD today: ``current``'s own and
    ``others`` (the stored snapshots of the companies not rescored); null where no PD is served."""
    ranked = current["status"] == "scored"
    population = pd.concat([current.loc[ranked, "pd"], others.astype(float)], ignore_index=True)
    values = np.sort(population.to_numpy(dtype=float))
    out = pd.Series(np.nan, index=current.index)
    if len(values):
        out[ranked] = np.searchsorted(values, current.loc[ranked, "pd"].to_numpy(dtype=float), side="right")
        out[ranked] = out[ranked] / len(values) * 100
    return out


def _stored_scores(store, batch: list[str], today: dt.date) -> pd.DataFrame:
    """A batch's stored filing scores and today's snapshots (the rows a rescore can meet)."""
    table = TABLES["risk_scores"]
    columns = [c.name for c in table.columns]
    parts = [
        store.query(
            sa.select(table).where(
                table.c.company_id.in_(part),
                sa.or_(table.c.kind == "period", sa.and_(table.c.kind == "current", table.c.as_of == today)),
            ),
            columns=columns,
        )
        for part in chunks(batch)
    ]
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=columns)


#: Columns a rewrite of an unchanged filing score may differ in: when it was written.
_WRITE_TIME = ("scored_at",)
_SCORE_KEY = ["company_id", "as_of", "model_version", "kind"]


def unchanged_scores(rows: pd.DataFrame, stored: pd.DataFrame) -> np.ndarray:
    """Which of ``rows`` (filing scores) are stored already exactly as they are (but for when they were
    written): a rescore of every company for a new day or an operator's tag rewrites no filing score it
    reproduced."""
    if rows.empty or stored.empty:
        return np.zeros(len(rows), dtype=bool)
    compared = [
        c for c in rows.columns if c not in _WRITE_TIME and c not in _SCORE_KEY and c in stored.columns
    ]
    keyed = stored.assign(
        as_of=pd.to_datetime(stored["as_of"]).dt.date, model_version=stored["model_version"].astype(str)
    )
    merged = (
        rows[_SCORE_KEY + compared]
        .assign(model_version=rows["model_version"].astype(str))
        .merge(
            keyed[_SCORE_KEY + compared], on=_SCORE_KEY, how="left", suffixes=("", "_stored"), indicator=True
        )
    )
    same = (merged["_merge"] == "both").to_numpy()
    for column in compared:
        new, old = merged[column], merged[f"{column}_stored"]
        if new.dtype.kind in "biuf" and old.dtype.kind in "biuf":
            equal = (new.to_numpy(dtype=float) == old.to_numpy(dtype=float)) | (
                new.isna() & old.isna()
            ).to_numpy()
        else:
            equal = (new.astype(str) == old.astype(str)).to_numpy() | (new.isna() & old.isna()).to_numpy()
        same &= equal
    return same


def _score_index(frame: pd.DataFrame) -> pd.MultiIndex:
    """(company_id, as_of, model_version) of filing score rows, as comparable values."""
    return pd.MultiIndex.from_arrays(
        [
            frame["company_id"].astype(str),
            pd.to_datetime(frame["as_of"]).dt.date,
            frame["model_version"].astype(str),
        ]
    )


def _write_scores(
    store, conn, rows: pd.DataFrame, stored: pd.DataFrame, champions: list[tuple[str, str]]
) -> int:
    """A batch's filing rows replace its companies' rows under each champion: rows no longer produced are
    deleted, new or changed ones written, and the ones stored exactly as they are left alone. Returns the rows
    written."""
    table = TABLES["risk_scores"]
    period = (
        rows[rows["kind"] == "period"] if len(rows) else pd.DataFrame(columns=[*_SCORE_KEY, "model_name"])
    )
    if len(stored):
        model = stored["model_name"].astype(str) + "/" + stored["model_version"].astype(str)
        mine = stored[(stored["kind"] == "period") & model.isin({f"{n}/{v}" for n, v in champions})]
    else:
        mine = stored
    produced, kept = _score_index(period), _score_index(mine)
    gone = list(kept[~kept.isin(produced)])
    for part in chunks(gone):
        conn.execute(
            sa.delete(table).where(
                table.c.kind == "period",
                sa.tuple_(table.c.company_id, table.c.as_of, table.c.model_version).in_(part),
            )
        )
    changed = period[~unchanged_scores(period, mine)] if len(period) else period
    if len(changed):
        store.upsert("risk_scores", changed, connection=conn)
    return len(changed)


def _write_snapshots(store, conn, current: pd.DataFrame, companies: list[str], today: dt.date) -> None:
    table = TABLES["risk_scores"]
    for part in chunks(companies):
        conn.execute(
            sa.delete(table).where(
                table.c.company_id.in_(part), table.c.kind == "current", table.c.as_of == today
            )
        )
    store.upsert("risk_scores", current, connection=conn)


@dg.asset(
    group_name="scoring",
    kinds={"mlflow", "sql"},
    deps=[features, champion_model, default_events, company_universe],
    automation_condition=FOLLOW_UPSTREAM,
    description="PD, master-scale grade, percentile and additive drivers for every filing version (as_of = its "
    "filing date) and a current snapshot per company, each from the champion of the company's segment (listed "
    "with market data, listed statements only, SME), with the segment, why it was chosen, and provenance. "
    "Re-derived for the companies whose features, events or signals changed; every company when a champion, "
    "the code or the day changes.",
)
def risk_scores(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource, mlflow_registry: MlflowResource
) -> dg.MaterializeResult:
    store = warehouse.get()
    today = dt.date.today()
    champions = []
    for segment in sorted(SEGMENTS):
        registry = mlflow_registry.for_segment(segment)
        version = registry.champion_version()
        if version is not None:
            champions.append((registry.model_name, str(version)))
    shared = combined_fingerprint(
        [
            *(f"{name}={version}" for name, version in champions),
            today.isoformat(),  # the current snapshot is as of today and sees the statements' age
            code_version(),
        ]
    )

    def every_company() -> set[str]:
        return set(store.distinct("features", "company_id")) | set(
            store.distinct("risk_scores", "company_id", {"kind": "period"})
        )

    work = company_work(context, store, shared, every_company, "risk_scores")
    if work.everything and not work.companies:
        raise dg.Failure("no feature rows to score: materialise statements and features first")
    if not work.companies:
        with store.transaction() as conn:
            store.clear_stale(conn, "risk_scores", work.marks)
        return no_company_work(context, work, shared)
    context.log.info(f"risk_scores: {work.reason}")
    started, done, period_rows, predicted, reused, written = time.perf_counter(), 0, 0, 0, 0, 0
    excluded: list[str] = []
    snapshots = []
    for batch in work.batches():
        companies = store.read("companies", where={"company_id": batch}).set_index("company_id")
        feats = store.read("features", where={"company_id": batch})
        financial = set(companies.index[companies["is_financial"].astype(bool)])
        excluded += sorted(financial & set(feats["company_id"]))
        feats = feats[~feats["company_id"].isin(financial)].reset_index(drop=True)
        stored = _stored_scores(store, batch, today)
        rows, batch_reused = score_rows(
            feats,
            companies,
            store.read("default_events", where={"company_id": batch}),
            store.read("warning_signals", where={"company_id": batch}),
            stored,
            mlflow_registry,
            today,
        )
        now = utc_now()
        if len(rows):
            rows["scored_at"] = now
            rows["percentile"] = np.nan
        current = rows[rows["kind"] == "current"] if len(rows) else pd.DataFrame()
        with store.transaction() as conn:
            written += _write_scores(store, conn, rows, stored, champions)
            if not work.everything:  # ranked against the stored snapshots of the companies not rescored
                if len(current):
                    others = store.query(
                        sa.select(TABLES["risk_scores"].c.pd).where(
                            TABLES["risk_scores"].c.kind == "current",
                            TABLES["risk_scores"].c.as_of == today,
                            TABLES["risk_scores"].c.status == "scored",
                            TABLES["risk_scores"].c.company_id.notin_(batch),
                        )
                    )["pd"]
                    current = current.assign(percentile=rank_percentiles(current, others))
                _write_snapshots(store, conn, current, batch, today)
            store.clear_stale(conn, "risk_scores", work.marks_of(batch))
        if work.everything and len(current):
            snapshots.append(current)
        scored_rows = int((rows["kind"] == "period").sum()) if len(rows) else 0
        period_rows += scored_rows
        reused += batch_reused
        predicted += scored_rows - batch_reused
        done += len(batch)
        batch_progress(context, work, done, period_rows, started)
    with store.transaction() as conn:
        if work.everything:  # every company's snapshot, ranked together, replaces today's
            current = pd.concat(snapshots, ignore_index=True) if snapshots else pd.DataFrame()
            if len(current):
                current["percentile"] = rank_percentiles(current, pd.Series(dtype=float))
            _write_snapshots(store, conn, current, work.companies, today)
        store.clear_stale(conn, "risk_scores", work.unhandled_marks())
    return dg.MaterializeResult(
        metadata={
            "model_versions": ", ".join(f"{name} v{version}" for name, version in champions),
            "companies_recomputed": len(work.companies),
            EVERY_COMPANY: work.everything,
            "why": work.reason,
            "period_scores": period_rows,
            "period_scores_written": written,
            "predicted_rows": predicted,
            "reused_predictions": reused,
            "excluded_financial_firms": ", ".join(excluded) or "none",
            **_snapshot_summary(store, today),
            "rows_per_second": round(period_rows / max(time.perf_counter() - started, 1e-9)),
            SHARED_TOKEN: shared,
        }
    )


def _snapshot_summary(store, today: dt.date) -> dict:
    """Today's snapshots across the market, read back: counts, segments and the riskiest ten."""
    table, companies = TABLES["risk_scores"], TABLES["companies"]
    today_rows = sa.and_(table.c.kind == "current", table.c.as_of == today)
    by_segment = store.query(
        sa.select(
            table.c.segment,
            sa.func.count().label("companies"),
            sa.func.avg(table.c.pd).label("mean_pd"),
            sa.func.sum(sa.cast(table.c.out_of_domain, sa.Integer)).label("out_of_domain"),
        )
        .where(today_rows)
        .group_by(table.c.segment)
    )
    top = store.query(
        sa.select(
            companies.c.name.label("company"),
            table.c.pd,
            table.c.grade,
            table.c.segment,
            table.c.fiscal_year,
            table.c.out_of_domain,
        )
        .join(companies, companies.c.company_id == table.c.company_id)
        .where(today_rows)
        .order_by(table.c.pd.desc(), table.c.company_id)
        .limit(10)
    )
    top["pd"] = top["pd"].astype(float).round(4)
    return {
        "current_scores": int(by_segment["companies"].sum()) if len(by_segment) else 0,
        "out_of_domain": int(by_segment["out_of_domain"].fillna(0).sum()) if len(by_segment) else 0,
        "segments": dg.MetadataValue.md(
            by_segment.drop(columns="out_of_domain").set_index("segment").round(4).to_markdown()
        ),
        "top_risk": dg.MetadataValue.md(top.to_markdown(index=False)),
    }


WARNING_MODEL_VERSION = "early_warning"


def _period_history(mine: pd.DataFrame | None) -> tuple[pd.DataFrame, pd.Series] | None:
    """A company's period scores under the model of its newest score, by as_of, with their dates; None when it
    has no score."""
    if mine is None or mine.empty:
        return None
    version = mine.sort_values("scored_at")["model_version"].iloc[-1]
    history = mine[(mine["model_version"] == version) & (mine["kind"] == "period")].sort_values("as_of")
    return history, pd.to_datetime(history["as_of"]).dt.date


def warning_alerts(
    signals: pd.DataFrame, scores: pd.DataFrame, existing: pd.DataFrame, now: dt.datetime
) -> tuple[list[dict], list[tuple]]:
    """Alerts for pending early-warning signals: one per company and signal date (reasons merged), carrying
    the company's period score as of that date under the model of its newest snapshot (previous_* = the same
    score: a signal is news about the company, not a score change). A company with no score yet keeps its
    signals pending until it has one. Returns (alert rows, handled signal keys)."""
    alerts: dict[tuple, dict] = {}
    handled = []
    old_reasons = {(r.company_id, str(r.as_of)): r.reasons for r in existing.itertuples()}
    scores_of = dict(tuple(scores.groupby("company_id", sort=False)))
    histories: dict[str, tuple[pd.DataFrame, pd.Series] | None] = {}
    for row in signals.sort_values(["company_id", "signal_date", "kind"]).itertuples(index=False):
        if row.company_id not in histories:
            histories[row.company_id] = _period_history(scores_of.get(row.company_id))
        if histories[row.company_id] is None:
            continue
        history, history_dates = histories[row.company_id]
        signal_date = pd.Timestamp(row.signal_date).date()
        known = history[history_dates <= signal_date]
        score = (known if len(known) else history).iloc[-1 if len(known) else 0]
        key = (row.company_id, signal_date)
        reason = f"{row.kind}: {row.detail}"
        alert = alerts.get(key)
        if alert is None:
            previous = old_reasons.get((row.company_id, str(signal_date)), "")
            alert = alerts[key] = {
                "company_id": row.company_id,
                "as_of": signal_date,
                "model_version": WARNING_MODEL_VERSION,
                "previous_as_of": score["as_of"],
                "previous_pd": float(score["pd"]),
                "pd": float(score["pd"]),
                "previous_grade": str(score["grade"]),
                "grade": str(score["grade"]),
                "reasons": previous,
                "kind": "warning",
                "created_at": now,
            }
        if reason not in alert["reasons"]:
            alert["reasons"] = "; ".join(filter(None, [alert["reasons"], reason]))
        handled.append((row.company_id, row.kind, row.reference))
    for alert in alerts.values():
        alert["reasons"] = alert["reasons"][:200]
    return list(alerts.values()), handled


@dg.asset(
    group_name="scoring",
    kinds={"sql"},
    deps=[risk_scores, warning_signals],
    automation_condition=FOLLOW_UPSTREAM,
    description="Alerts when a company's newly scored filing is worse than its previous one under the same "
    "model (a downgrade, or a PD jump by a factor and a floor), and on new early-warning signals (late-filing "
    "notice, non-clean audit opinion, overdue report). Idempotent: re-running adds nothing.",
)
def risk_alerts(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
    store = warehouse.get()
    rule = AlertRule()
    now = utc_now()
    # Only companies with a filing score not yet compared are read (an index on kind, alert_pending), a batch
    # at a time, and of their scores only what the rule compares.
    table = TABLES["risk_scores"]
    pending = store.distinct("risk_scores", "company_id", {"kind": "period", "alert_pending": True})
    compared = [
        table.c[name] for name in ("company_id", "as_of", "model_version", "pd", "grade", "alert_pending")
    ]
    alerts, handled = [], []
    for batch in [pending[start : start + COMPANY_BATCH] for start in range(0, len(pending), COMPANY_BATCH)]:
        scores = store.query(
            sa.select(*compared).where(
                table.c.company_id.in_(batch),
                table.c.kind == "period",
                sa.func.coalesce(table.c.status, "scored") == "scored",  # no PD served: nothing to compare
            )
        )
        batch_alerts, batch_handled = score_alerts(scores, rule, now)
        alerts += batch_alerts
        handled += batch_handled
    signals = store.read("warning_signals", where={"alert_pending": True})
    warnings, signals_handled = [], []
    if len(signals):
        all_scores = store.read("risk_scores", where={"company_id": list(signals["company_id"].unique())})
        existing = store.read("risk_alerts", where={"model_version": WARNING_MODEL_VERSION})
        warnings, signals_handled = warning_alerts(signals, all_scores, existing, now)
    with store.transaction() as conn:
        store.upsert("risk_alerts", alerts + warnings, connection=conn)
        store.update(
            "risk_scores",
            [
                {"company_id": c, "as_of": a, "model_version": v, "kind": "period", "alert_pending": False}
                for c, a, v in handled
            ],
            connection=conn,
        )
        store.update(
            "warning_signals",
            [
                {"company_id": c, "kind": k, "reference": r, "alert_pending": False}
                for c, k, r in signals_handled
            ],
            connection=conn,
        )
    frame = pd.DataFrame(alerts + warnings)
    preview = (
        frame[["company_id", "as_of", "kind", "previous_grade", "grade", "reasons"]]
        .tail(10)
        .to_markdown(index=False)
        if len(frame)
        else "none"
    )
    return dg.MaterializeResult(
        metadata={
            "new_or_updated_alerts": len(alerts),
            "warning_alerts": len(warnings),
            "evaluated_scores": len(handled),
            "evaluated_signals": len(signals_handled),
            "preview": dg.MetadataValue.md(preview),
        }
    )
