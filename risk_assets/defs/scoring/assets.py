"""Scoring: PD, grade and drivers for every filing (as of its filing date) plus a current snapshot; alerts."""

import datetime as dt
import json
import time
from dataclasses import dataclass

import dagster as dg
import numpy as np
import orjson
import pandas as pd
import sqlalchemy as sa

from risk_assets.core.alerts import AlertRule, score_alerts
from risk_assets.core.early_warning import warning_flags_table
from risk_assets.core.feature_table import RATIO_COLUMNS, ratio_frame
from risk_assets.core.fingerprint import combined_fingerprint, value_digests
from risk_assets.core.labels import in_default  # the one definition of "in default"
from risk_assets.core.master_scale import grades_for_pd
from risk_assets.core.model import PDModel
from risk_assets.core.overlays import FLAG_COLUMNS, apply_overlay_table, overlay_table
from risk_assets.core.segments import MIN_FEATURE_SHARE, SEGMENTS, choose_segments
from risk_assets.defs.features.assets import ROW_COLUMNS, features
from risk_assets.defs.incremental import (
    COMPANY_BATCH,
    MATERIAL_SHARE,
    SHARED_TOKEN,
    batch_progress,
    company_work,
    derived_batches,
    no_company_work,
    one_batch_ahead,
    start_of_work,
    statistics_after_batch,
)
from risk_assets.defs.modeling.assets import champion_model
from risk_assets.defs.resources import MlflowResource, WarehouseResource
from risk_assets.defs.sources.assets import FOLLOW_UPSTREAM, company_universe, default_events, warning_signals
from risk_assets.storage.model_registry import CHAMPION_ALIAS, ModelRegistry
from risk_assets.storage.schema import TABLES
from risk_assets.storage.stale import chunks, key_chunks
from risk_assets.storage.warehouse import Warehouse, utc_now
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


def json_records(frame: pd.DataFrame) -> list[str]:
    """Each row of a float frame as a JSON object, keys sorted, NaN and infinities as null: the values ``_json``
    writes (every float the shortest text that reads back to it), serialised by orjson, several times faster than
    the json module on a market's worth of feature rows."""
    if frame.empty:
        return ["{}"] * len(frame)
    names = sorted(frame.columns)
    return [
        orjson.dumps(dict(zip(names, row, strict=True))).decode()
        for row in frame[names].to_numpy(dtype=float).tolist()
    ]


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
    scored_elsewhere = elsewhere[key].drop_duplicates().assign(_elsewhere=True)
    found = mine[key].merge(scored_elsewhere, on=key, how="left")["_elsewhere"]
    is_new = merged["old_pd"].isna().to_numpy()
    changed = (~is_new) & (np.abs(merged["pd"].to_numpy() - merged["old_pd"].fillna(0).to_numpy()) > 1e-12)
    new_flags = found.isna().to_numpy()
    old_flags = merged["old_pending"].eq(True).to_numpy()  # NaN (no stored row) is not pending
    return np.where(is_new, new_flags, changed | old_flags)


def assign_segments(feats: pd.DataFrame, ratios: pd.DataFrame, companies: pd.DataFrame) -> pd.DataFrame:
    """Segment and reason per feature row (core.segments.choose_segment): listed when the company has a ticker or
    files with SEC/DART; with market data when the row has a market value."""

    def column(name: str) -> pd.Series:
        return (
            companies[name]
            if name in companies.columns
            else pd.Series(None, index=companies.index, dtype=object)
        )

    ticker, cik, dart = column("ticker"), column("cik"), column("dart_corp_code")
    listed_of = (ticker.notna() & (ticker.astype(str) != "")) | cik.notna() | dart.notna()
    source_of = pd.Series(
        np.where(cik.notna(), "SEC filer", np.where(dart.notna(), "DART filer", "ticker")),
        index=companies.index,
    )
    mv_source = (
        [m if isinstance(m, str) else None for m in feats["market_value_source"]]
        if "market_value_source" in feats.columns
        else [None] * len(feats)
    )
    company = feats["company_id"]
    market_value = np.exp(ratios["log_real_mve"].to_numpy(dtype=float))
    return choose_segments(
        listed=company.map(listed_of).eq(True).to_numpy(),
        market_value=np.where(np.isfinite(market_value), market_value, np.nan),
        market_value_source=pd.Series(mv_source, index=feats.index, dtype=object),
        source=company.map(source_of).fillna(""),
    )


#: The feature columns scoring reads (its key, the model features, the flags the overlay sees and where the market
#: value came from for the segment): the classic scores, reasons and macro provenance stay in storage.
SCORED_FEATURE_COLUMNS = tuple(
    dict.fromkeys((*ROW_COLUMNS, *RATIO_COLUMNS, *FLAG_COLUMNS, "market_value_source"))
)

#: What a stored period score carries from the model (the rest is recomputed from the day's events and signals).
MODEL_OUTPUT_COLUMNS = ("status", "model_pd", "log_odds", "drivers", "out_of_domain", "domain_note")


def snapshot_rows(feats: pd.DataFrame) -> np.ndarray:
    """Per feature row: is it its company's newest filing, the one score_rows builds the current snapshot from?
    Those rows, and the snapshots, are the scores whose drivers are stored; older filing scores' drivers are
    computed on request from their stored feature values and model version (GET .../scores/{as_of}/drivers,
    api/scoring.py::model_drivers_of)."""
    order = pd.DataFrame(
        {
            "company_id": feats["company_id"],
            "period_end": pd.to_datetime(feats["period_end"]).dt.date,
            "filed_at": pd.to_datetime(feats["filed_at"]).dt.date,
        },
        index=feats.index,
    )
    newest = order.sort_values(["company_id", "period_end", "filed_at"]).groupby("company_id").tail(1).index
    return feats.index.isin(newest)


def has_model_drivers(drivers: pd.Series) -> np.ndarray:
    """Per stored drivers text: does it hold the model's drivers (base, contributions, other) or only the
    overlay? Written with sorted keys, so "base" comes first when present."""
    return drivers.astype(object).str.startswith('{"base": ', na=False).to_numpy(dtype=bool)


def model_drivers(text: str) -> str:
    """A stored drivers text without its overlay terms (which are recomputed with every score)."""
    return json.dumps({k: v for k, v in json.loads(text).items() if k != "overlay"}, sort_keys=True)


def reusable_scores(
    stored: pd.DataFrame, model_name: str, model_version: str, version_of_code: str
) -> pd.DataFrame:
    """The stored period scores of one model version made by this code, indexed by (company_id, as_of, accession):
    a row whose features are the ones scored before (the same ``feature_digest``) needs no new prediction (the
    model version is immutable). Their ``drivers`` are the stored text, overlay included (model_drivers takes the
    model's part where it is needed)."""
    mine = stored[
        (stored["kind"] == "period")
        & (stored["model_name"] == model_name)
        & (stored["model_version"].astype(str) == str(model_version))
        & (stored["code_version"] == version_of_code)
    ]
    out = mine[["segment", "feature_digest", *MODEL_OUTPUT_COLUMNS]].copy()
    out.index = pd.MultiIndex.from_arrays(
        [mine["company_id"], pd.to_datetime(mine["as_of"]).dt.date, mine["accession"]],
        names=["company_id", "as_of", "accession"],
    )
    return out[~out.index.duplicated(keep="last")]


@dataclass(frozen=True)
class Champions:
    """The champion version of each segment, looked up once when a run starts: every batch of the run, in any
    worker, scores with those versions (a promotion during a long rescore cannot split it between two), and no
    batch asks the registry again. Loaded models are cached per process (model_registry._load_pd_model)."""

    # MlflowResource's configuration (a run's bound resource does not pickle)
    registry: tuple[tuple[str, str], ...]
    # (segment, registered model, version) of each segment that has a champion
    versions: tuple[tuple[str, str, str], ...]

    @classmethod
    def of(cls, mlflow_registry: MlflowResource) -> "Champions":
        versions = []
        for segment in sorted(SEGMENTS):
            registry = mlflow_registry.for_segment(segment)
            version = registry.champion_version()
            if version is not None:
                versions.append((segment, registry.model_name, str(version)))
        return cls(tuple(sorted(mlflow_registry.model_dump().items())), tuple(versions))

    def models(self) -> list[tuple[str, str]]:
        """(registered model, version) of each champion."""
        return [(name, version) for _, name, version in self.versions]

    def load(self, segment: str) -> tuple[str, str, PDModel]:
        """The segment's registered model name, champion version and model; a Failure if it has no champion."""
        config = dict(self.registry)
        found = {s: (name, version) for s, name, version in self.versions}.get(segment)
        if found is None:
            raise dg.Failure(
                f"cannot score the {segment} segment: no '{CHAMPION_ALIAS}' alias on registered model "
                f"{SEGMENTS[segment].registered_model(config['model_name'])!r}"
            )
        name, version = found
        registry = ModelRegistry(config["tracking_uri"], name, config["experiment"], config["artifact_root"])
        return name, version, registry.load(version)


def score_segments(
    feats: pd.DataFrame,
    ratios: pd.DataFrame,
    segments: pd.DataFrame,
    champions: Champions,
    stored: pd.DataFrame | None = None,
    explain: np.ndarray | None = None,
) -> pd.DataFrame:
    """Score each row with its segment's champion: PD, raw log-odds, drivers, domain flag, model name and version,
    and the digest of the feature values it was predicted from (the values themselves only with its drivers).

    ``stored``: the companies' stored scores; a row whose filing was scored before by the same model version and
    code from the same feature values keeps that prediction instead of being predicted again (``reused``).
    ``explain``: per row of ``feats``, whether to compute its drivers (TreeSHAP, ~50 predictions' worth of work);
    default every row. ``drivers`` is the model's drivers as JSON (overlay not yet added) or None for a row not
    explained; a stored row is reused for an explained one only if it kept its drivers."""
    explain_of = pd.Series(
        np.ones(len(feats), dtype=bool) if explain is None else np.asarray(explain, dtype=bool),
        index=feats.index,
    )
    parts = []
    for segment, index in segments.groupby("segment").groups.items():
        model_name, version, model = champions.load(segment)
        frame = ratios.loc[index].reindex(columns=model.feature_names).astype(float)
        digests = pd.Series(value_digests(frame), index=index, dtype=object)
        wanted = explain_of.loc[index]
        reuse = pd.Series(False, index=index)
        previous = None
        if stored is not None and len(stored):
            known = reusable_scores(stored, model_name, version, code_version())
            keys = pd.MultiIndex.from_arrays(
                [
                    feats.loc[index, "company_id"],
                    pd.to_datetime(feats.loc[index, "filed_at"]).dt.date,
                    feats.loc[index, "accession"],
                ]
            )
            previous = known.reindex(keys)
            previous.index = index
            kept_drivers = has_model_drivers(previous["drivers"])
            reuse = (
                (previous["feature_digest"] == digests)
                & (previous["segment"] == segment)
                & (kept_drivers | ~wanted.to_numpy())
            )
        fresh = index[~reuse.to_numpy()]
        part = pd.DataFrame(index=index, columns=list(MODEL_OUTPUT_COLUMNS), dtype=object)
        if len(fresh):
            part.loc[fresh] = _predict(model, frame.loc[fresh], segment, wanted.loc[fresh].to_numpy())
        if previous is not None and reuse.any():
            carried = previous.loc[reuse, list(MODEL_OUTPUT_COLUMNS)].copy()
            explained = wanted.loc[carried.index].to_numpy()
            drivers = np.full(len(carried), None, dtype=object)
            drivers[explained] = [model_drivers(text) for text in carried["drivers"].to_numpy()[explained]]
            carried["drivers"] = drivers
            part.loc[reuse] = carried.to_numpy()
        values = np.full(len(index), None, dtype=object)
        values[wanted.to_numpy()] = json_records(frame[wanted.to_numpy()])
        parts.append(
            pd.DataFrame(
                {
                    "status": part["status"].to_numpy(dtype=object),
                    "model_pd": part["model_pd"].to_numpy(dtype=float),
                    "log_odds": part["log_odds"].to_numpy(dtype=float),
                    "drivers": part["drivers"].to_numpy(dtype=object),
                    "feature_values": values,
                    "feature_digest": digests.to_numpy(dtype=object),
                    "out_of_domain": part["out_of_domain"].to_numpy(dtype=bool),
                    "domain_note": part["domain_note"].to_numpy(dtype=object),
                    "model_name": model_name,
                    "model_version": version,
                    "reused": reuse.to_numpy(dtype=bool),
                },
                index=index,
            )
        )
    return pd.concat(parts).loc[feats.index]


def _predict(model, frame: pd.DataFrame, segment: str, explain: np.ndarray | None = None) -> pd.DataFrame:
    """The model's outputs (MODEL_OUTPUT_COLUMNS) for the rows of ``frame``; drivers only for the rows
    ``explain`` marks (default all), None for the others."""
    scored = model.score(frame, explain=explain)
    known = frame.notna().mean(axis=1).to_numpy()
    enough = known >= MIN_FEATURE_SHARE
    notes = np.asarray(scored["domain_note"].to_numpy(), dtype=object)
    short = np.flatnonzero(~enough)
    if len(short):
        # one note per distinct set of missing features: the share known follows from the set
        missing = frame.isna().to_numpy()[short]
        patterns, first, which = np.unique(missing, axis=0, return_index=True, return_inverse=True)
        texts = [
            f"insufficient data: {known[short[i]]:.0%} of the {segment} model's {frame.shape[1]} features "
            f"known (at least {MIN_FEATURE_SHARE:.0%} needed); missing: "
            + ", ".join(frame.columns[pattern][:12])
            for pattern, i in zip(patterns, first, strict=True)
        ]
        notes[short] = np.asarray(texts, dtype=object)[which.reshape(-1)]
    wanted = np.ones(len(frame), dtype=bool) if explain is None else np.asarray(explain, dtype=bool)
    drivers = np.full(len(frame), None, dtype=object)
    drivers[wanted] = [_json(d) for d in scored["drivers"].to_numpy()[wanted]]
    return pd.DataFrame(
        {
            "status": np.where(enough, "scored", "insufficient_data"),
            "model_pd": scored["pd"].to_numpy(),
            "log_odds": scored["log_odds"].to_numpy(),
            "drivers": drivers,
            "out_of_domain": scored["out_of_domain"].to_numpy(),
            "domain_note": pd.Series(notes, dtype=object).str[:1000].to_numpy(dtype=object),
        },
        index=frame.index,
    )[list(MODEL_OUTPUT_COLUMNS)]


def with_overlay(
    rows: pd.DataFrame, feats: pd.DataFrame, signals: pd.DataFrame, companies: pd.DataFrame
) -> pd.DataFrame:
    """``overlay_pd``: the model PD adjusted for filing behaviour (core/overlays.py), the terms recorded in the
    drivers. A filing's score sees the flags known at its filing date (the features' warnings); the current
    snapshot sees the signals known today and how old the newest statement is. ``drivers`` in: the model's
    drivers as JSON or None (not stored for this row); out: that with the overlay terms added."""
    is_current = (rows["kind"] == "current").to_numpy()
    flags = pd.DataFrame(None, index=rows.index, columns=list(FLAG_COLUMNS), dtype=object)
    # A filing's flags: its feature row's warning columns (counts as whole numbers, None where not known).
    key, names = ["company_id", "accession"], list(FLAG_COLUMNS)
    if set(names) <= set(feats.columns):
        at_filing = feats[key + names].drop_duplicates(key, keep="last")
        found = rows.loc[~is_current, key].merge(at_filing, on=key, how="left")[names]
        for name in names:
            whole = pd.to_numeric(found[name], errors="coerce").astype("Int64").astype(object)
            flags.loc[~is_current, name] = whole.where(whole.notna(), None).to_numpy(dtype=object)
    # A snapshot's flags: its company's signals known on its date.
    dart = companies["dart_corp_code"].notna() if "dart_corp_code" in companies else None
    current = rows.loc[is_current, ["company_id", "as_of"]]
    for as_of, ids in current.groupby("as_of")["company_id"]:
        audit_known = pd.Series(False, index=pd.Index(ids.unique(), name="company_id"))
        if dart is not None:
            audit_known = audit_known.index.to_series().map(dart).eq(True)
        table = warning_flags_table(signals, as_of, audit_known)
        flags.loc[ids.index] = table.loc[ids.to_numpy(), list(FLAG_COLUMNS)].to_numpy()
    age = np.full(len(rows), np.nan)
    age[is_current] = (
        pd.to_datetime(rows.loc[is_current, "as_of"]) - pd.to_datetime(rows.loc[is_current, "filed_at"])
    ).dt.days.to_numpy(dtype=float)
    overlay = overlay_table(flags, age, rows["as_of"])
    overlay_pd = apply_overlay_table(
        rows["model_pd"].to_numpy(dtype=float), overlay["log_odds"].to_numpy(), overlay["any"].to_numpy()
    )
    model = rows["drivers"]
    explained = model.notna().to_numpy()
    drivers = ('{"overlay": ' + overlay["terms"] + "}").to_numpy(dtype=object)
    drivers[explained] = (
        model[explained].str[:-1] + ', "overlay": ' + overlay["terms"][explained] + "}"
    ).to_numpy(dtype=object)
    return rows.assign(overlay_pd=overlay_pd, drivers=drivers)


def score_rows(
    feats: pd.DataFrame,
    companies: pd.DataFrame,
    events: pd.DataFrame,
    signals: pd.DataFrame,
    existing: pd.DataFrame,
    champions: Champions,
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
    scored = score_segments(feats, ratios, segments, champions, stored=existing, explain=snapshot_rows(feats))
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
    rows["grade"] = grades_for_pd(rows["pd"].to_numpy(dtype=float), rows["in_default"].to_numpy(dtype=bool))
    rows["code_version"] = code_version()
    existing = existing.assign(as_of=pd.to_datetime(existing["as_of"]).dt.date)
    rows["alert_pending"] = _pending_flags(existing, rows) if len(existing) else True
    rows["alert_pending"] = rows["alert_pending"] & (rows["status"] == "scored")  # no PD served: no alert
    return rows, reused


def rank_percentiles(current: pd.DataFrame) -> pd.Series:
    """Percentile of each scored current PD among the scored PDs of ``current`` (every company's snapshot of the
    day); null where no PD is served."""
    ranked = current["status"] == "scored"
    pds = current.loc[ranked, "pd"].to_numpy(dtype=float)
    out = pd.Series(np.nan, index=current.index)
    out[ranked] = percentiles_in(pds, pds)
    return out


def percentiles_in(pds: np.ndarray, population: np.ndarray) -> np.ndarray:
    """Each PD's percentile in ``population`` (which holds it): the share of the population at or below it."""
    values = np.sort(population)
    if not len(values):
        return np.full(len(pds), np.nan)
    return np.searchsorted(values, pds, side="right") / len(values) * 100


def rank_among_today(store, conn, current: pd.DataFrame, today: dt.date) -> int:
    """Rank a few companies' new snapshots, written in ``conn``'s transaction, among all of today's (theirs
    included) and store their percentiles; returns how many. The population's PDs are read from the ranking
    index alone (ix_scores_rank), not from the rows: a new filing at 100,000 companies reads no score row."""
    table = TABLES["risk_scores"]
    scored = current[current["status"] == "scored"]
    if scored.empty:
        return 0
    population = conn.execute(
        sa.select(table.c.pd).where(
            table.c.kind == "current", table.c.as_of == today, table.c.status == "scored"
        )
    ).scalars()
    updates = scored[["company_id", "as_of", "model_version", "kind"]].assign(
        percentile=percentiles_in(scored["pd"].to_numpy(dtype=float), np.fromiter(population, dtype=float))
    )
    return store.update("risk_scores", updates, connection=conn)


def _stored_scores(store, batch: list[str], today: dt.date) -> pd.DataFrame:
    """A batch's stored filing scores and today's snapshots (the rows a rescore can meet), without the feature
    values' JSON: their digest tells whether a row's features are the ones scored."""
    table = TABLES["risk_scores"]
    columns = [c.name for c in table.columns if c.name != "feature_values"]
    parts = [
        store.query(
            sa.select(*[table.c[name] for name in columns]).where(
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
    for part in key_chunks(gone, 3):
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


def rerank_snapshots(store, conn, today: dt.date) -> int:
    """Rank today's snapshots together again and store the percentiles that moved; returns how many."""
    table = TABLES["risk_scores"]
    current = pd.DataFrame(
        conn.execute(
            sa.select(
                table.c.company_id, table.c.model_version, table.c.pd, table.c.status, table.c.percentile
            ).where(table.c.kind == "current", table.c.as_of == today)
        ).fetchall(),
        columns=["company_id", "model_version", "pd", "status", "percentile"],
    )
    if current.empty:
        return 0
    fresh = rank_percentiles(current)
    old = current["percentile"].astype(float)
    moved = ~(np.isclose(fresh, old, rtol=0, atol=1e-9) | (fresh.isna() & old.isna()))
    updates = current.loc[moved, ["company_id", "model_version"]].assign(
        as_of=today, kind="current", percentile=fresh[moved]
    )
    return store.update("risk_scores", updates, connection=conn)


def _write_snapshots(store, conn, current: pd.DataFrame, companies: list[str], today: dt.date) -> None:
    table = TABLES["risk_scores"]
    for part in chunks(companies):
        conn.execute(
            sa.delete(table).where(
                table.c.company_id.in_(part), table.c.kind == "current", table.c.as_of == today
            )
        )
    store.upsert("risk_scores", current, connection=conn)


@dataclass(frozen=True)
class ScoreBatch:
    """One batch of companies scored (read and predicted ahead of the writes, in a worker process when the run is
    large: incremental.derived_batches): its score rows, its stored scores, how many predictions were reused and
    the financial firms left out."""

    champions: Champions
    today: dt.date

    def __call__(
        self, store: Warehouse, batch: list[str]
    ) -> tuple[pd.DataFrame, pd.DataFrame, int, list[str]]:
        companies = store.read("companies", where={"company_id": batch}).set_index("company_id")
        feats = store.read("features", where={"company_id": batch}, columns=SCORED_FEATURE_COLUMNS)
        financial = set(companies.index[companies["is_financial"].astype(bool)])
        excluded = sorted(financial & set(feats["company_id"]))
        feats = feats[~feats["company_id"].isin(financial)].reset_index(drop=True)
        stored = _stored_scores(store, batch, self.today)
        rows, reused = score_rows(
            feats,
            companies,
            store.read("default_events", where={"company_id": batch}),
            store.read("warning_signals", where={"company_id": batch}),
            stored,
            self.champions,
            self.today,
        )
        return rows, stored, reused, excluded


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
    resolved = Champions.of(mlflow_registry)
    champions = resolved.models()
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
        return no_company_work(context, store, work, shared)
    batches = work.batches()
    processes = start_of_work(context, store, work, warehouse.derive_workers, len(batches))
    # A bulk change (every company, or a tenth of the market or more: an import) ranks today's percentiles once,
    # across the whole market, after the last batch; a few companies are ranked against the stored snapshots.
    bulk = work.everything or len(work.companies) >= MATERIAL_SHARE * store.count(
        "risk_scores", {"kind": "current", "as_of": today}
    )
    started, done, period_rows, predicted, reused, written = time.perf_counter(), 0, 0, 0, 0, 0
    excluded: list[str] = []

    scored = derived_batches(store, batches, ScoreBatch(resolved, today), processes)
    for number, (batch, (rows, stored, batch_reused, batch_excluded)) in enumerate(scored, 1):
        excluded += batch_excluded
        now = utc_now()
        if len(rows):
            rows["scored_at"] = now
            rows["percentile"] = np.nan
        current = rows[rows["kind"] == "current"] if len(rows) else pd.DataFrame()
        with store.transaction() as conn:
            written += _write_scores(store, conn, rows, stored, champions)
            _write_snapshots(store, conn, current, batch, today)
            if len(current) and not bulk:
                rank_among_today(store, conn, current, today)
            store.clear_stale(conn, "risk_scores", work.marks_of(batch))
        scored_rows = int((rows["kind"] == "period").sum()) if len(rows) else 0
        period_rows += scored_rows
        reused += batch_reused
        predicted += scored_rows - batch_reused
        done += len(batch)
        del rows, stored, current  # derived_batches frees the batch before the next one arrives
        batch_progress(context, work, done, period_rows, started)
        statistics_after_batch(store, "risk_scores", number, len(batches))
    with store.transaction() as conn:
        if bulk:
            reranked = rerank_snapshots(store, conn, today)
            context.log.info(f"risk_scores: today's percentiles ranked across the market ({reranked:,} set)")
        store.clear_stale(conn, "risk_scores", work.unhandled_marks())
    return dg.MaterializeResult(
        metadata={
            "model_versions": ", ".join(f"{name} v{version}" for name, version in champions),
            **work.metadata(),
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


#: How many of today's riskiest snapshots a risk_scores run lists in its metadata.
RISKIEST = 10


def snapshot_summary_queries(today: dt.date) -> tuple[sa.Select, sa.Select]:
    """The reads of _snapshot_summary that ix_scores_rank serves alone (tests/test_snapshot_ranking.py), run after
    every risk_scores run, a new filing's included: today's snapshots by segment, and the PDs of the RISKIEST."""
    table = TABLES["risk_scores"]
    today_rows = sa.and_(table.c.kind == "current", table.c.as_of == today)
    by_segment = (
        sa.select(
            table.c.segment,
            sa.func.count().label("companies"),
            sa.func.avg(table.c.pd).label("mean_pd"),
            sa.func.sum(sa.cast(table.c.out_of_domain, sa.Integer)).label("out_of_domain"),
        )
        .where(today_rows)
        .group_by(table.c.segment)
    )
    riskiest_pds = sa.select(table.c.pd).where(today_rows).order_by(table.c.pd.desc()).limit(RISKIEST)
    return by_segment, riskiest_pds


def riskiest_snapshots(today: dt.date, floor: float) -> sa.Select:
    """Today's RISKIEST snapshots with their companies' names, read from the rows at or above ``floor`` (the
    lowest of the riskiest PDs) only."""
    table, companies = TABLES["risk_scores"], TABLES["companies"]
    return (
        sa.select(
            companies.c.name.label("company"),
            table.c.pd,
            table.c.grade,
            table.c.segment,
            table.c.fiscal_year,
            table.c.out_of_domain,
        )
        .join(companies, companies.c.company_id == table.c.company_id)
        .where(table.c.kind == "current", table.c.as_of == today, table.c.pd >= floor)
        .order_by(table.c.pd.desc(), table.c.company_id)
        .limit(RISKIEST)
    )


def _snapshot_summary(store, today: dt.date) -> dict:
    """Today's snapshots across the market, read back: counts, segments and the riskiest ten."""
    by_segment, riskiest_pds = (store.query(statement) for statement in snapshot_summary_queries(today))
    riskiest = riskiest_snapshots(today, float(riskiest_pds["pd"].min()) if len(riskiest_pds) else 0.0)
    top = (
        store.query(riskiest)
        if len(riskiest_pds)
        else pd.DataFrame(columns=[c.name for c in riskiest.selected_columns])
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


def _handled_frame(keys: list[tuple], names: list[str], **constant: object) -> pd.DataFrame:
    """The key rows an alerts pass compared, with alert_pending cleared (what Warehouse.update takes)."""
    return pd.DataFrame(keys, columns=names).assign(**constant, alert_pending=False)


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
    pending = sorted(
        # not SELECT DISTINCT: for it SQLite scans the whole key index in order (its statistics cannot tell that
        # pending rows are few): 0.3 s at 10,000 companies, seconds at 100,000, for a new filing's one company
        set(
            store.query(
                sa.select(table.c.company_id).where(
                    table.c.kind == "period", table.c.alert_pending == sa.true()
                )
            )["company_id"]
        )
    )
    compared = [
        table.c[name] for name in ("company_id", "as_of", "model_version", "pd", "grade", "alert_pending")
    ]
    alerts, latest, evaluated, done = 0, [], 0, 0  # counts, and the last ten alerts for the preview

    def compare(batch: list[str]) -> tuple[list[dict], list[tuple]]:
        scores = store.query(
            sa.select(*compared).where(
                table.c.company_id.in_(batch),
                table.c.kind == "period",
                sa.func.coalesce(table.c.status, "scored") == "scored",  # no PD served: nothing to compare
            )
        )
        return score_alerts(scores, rule, now)

    batches = [pending[start : start + COMPANY_BATCH] for start in range(0, len(pending), COMPANY_BATCH)]
    for batch, (batch_alerts, handled) in one_batch_ahead(batches, compare):
        # a batch's alerts and the scores it compared are written together: a killed run keeps finished batches,
        # and a whole market's pending flags are never held at once
        with store.transaction() as conn:
            store.upsert("risk_alerts", batch_alerts, connection=conn)
            store.update(
                "risk_scores",
                _handled_frame(handled, ["company_id", "as_of", "model_version"], kind="period"),
                connection=conn,
            )
        alerts, latest = alerts + len(batch_alerts), (latest + batch_alerts)[-10:]
        evaluated, done = evaluated + len(handled), done + len(batch)
        context.log.info(
            f"risk_alerts: {done:,} of {len(pending):,} companies compared, {alerts:,} score alerts"
        )
    signals = store.read("warning_signals", where={"alert_pending": True})
    warnings, signals_handled = [], []
    if len(signals):
        all_scores = store.read("risk_scores", where={"company_id": list(signals["company_id"].unique())})
        existing = store.read("risk_alerts", where={"model_version": WARNING_MODEL_VERSION})
        warnings, signals_handled = warning_alerts(signals, all_scores, existing, now)
    with store.transaction() as conn:
        store.upsert("risk_alerts", warnings, connection=conn)
        store.update(
            "warning_signals",
            _handled_frame(signals_handled, ["company_id", "kind", "reference"]),
            connection=conn,
        )
    frame = pd.DataFrame(latest + warnings)
    preview = (
        frame[["company_id", "as_of", "kind", "previous_grade", "grade", "reasons"]]
        .tail(10)
        .to_markdown(index=False)
        if len(frame)
        else "none"
    )
    return dg.MaterializeResult(
        metadata={
            "new_or_updated_alerts": alerts,
            "warning_alerts": len(warnings),
            "evaluated_scores": evaluated,
            "evaluated_signals": len(signals_handled),
            "preview": dg.MetadataValue.md(preview),
        }
    )
