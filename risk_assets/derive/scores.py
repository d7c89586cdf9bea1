"""Scores of a batch of companies: each filing's PD, grade and drivers from its segment's champion, and today's
snapshot per company (defs/scoring/assets.py writes them)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
import pickle
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np
import orjson
import pandas as pd
import sqlalchemy as sa

from risk_assets.core.early_warning import warning_flags_table
from risk_assets.core.feature_table import RATIO_COLUMNS, ratio_frame
from risk_assets.core.fingerprint import value_digests
from risk_assets.core.labels import in_default  # the one definition of "in default"
from risk_assets.core.master_scale import grades_for_pd
from risk_assets.core.model import PDModel
from risk_assets.core.overlays import FLAG_COLUMNS, apply_overlay_table, overlay_table
from risk_assets.core.segments import MIN_FEATURE_SHARE, choose_segments
from risk_assets.derive.features import ROW_COLUMNS
from risk_assets.storage.champion_lookup import RegisteredVersion
from risk_assets.storage.schema import TABLES
from risk_assets.storage.warehouse import Warehouse
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


class MissingChampion(LookupError):
    """A segment to be scored has no champion version (the asset reports it as a failure of the run)."""


#: Champion models unpickled in this process, by the digest of their pickle: a worker unpickles each one once.
_models: dict[str, PDModel] = {}
#: Models kept at most (a long-lived process sees a few promotions a year).
_MODELS_KEPT = 16


def _kept(digest: str, model: PDModel) -> PDModel:
    if digest not in _models and len(_models) >= _MODELS_KEPT:
        _models.pop(next(iter(_models)))
    return _models.setdefault(digest, model)


@dataclass(frozen=True)
class Champions:
    """The champion of each segment, looked up once when a run starts (defs/scoring/assets.py:
    champions_of): every batch of the run, in any worker, scores with those versions (a promotion during a long
    rescore cannot split it between two), and no batch asks the registry again. ``with_models`` adds the models,
    pickled, so that a worker process scores without MLflow: it unpickles each model once; ``with_loader`` loads
    them where a run scores in its own process, only the segments it meets."""

    # (segment, registered model, version) of each segment that has a champion
    versions: tuple[tuple[str, str, str], ...]
    # (segment, why it cannot be scored) of each segment that has none
    missing: tuple[tuple[str, str], ...] = ()
    # (segment, the run that logged its champion version): with the version, the key of the model's kept copy
    runs: tuple[tuple[str, str], ...] = ()
    # (segment, digest, the model pickled) of each champion: added by with_models
    pickled: tuple[tuple[str, str, bytes], ...] = ()
    # a run scoring in its own process only: (segment, registered version) -> the model, for the segments it meets
    loader: Callable[[str, RegisteredVersion], PDModel] | None = field(
        default=None, repr=False, compare=False
    )

    def models(self) -> list[tuple[str, str]]:
        """(registered model, version) of each champion."""
        return [(name, version) for _, name, version in self.versions]

    def registered(self, segment: str) -> RegisteredVersion:
        """The segment's champion version with the run that logged it; MissingChampion if it has none."""
        found = {s: (name, version) for s, name, version in self.versions}.get(segment)
        if found is None:
            raise MissingChampion(dict(self.missing).get(segment, f"cannot score the {segment} segment"))
        return RegisteredVersion(*found, dict(self.runs).get(segment, ""))

    def with_models(self, models: Mapping[str, PDModel]) -> Champions:
        """These champions with their models (segment -> the model of its version), pickled to travel with the
        batches; kept in this process too, so a batch scored here unpickles nothing."""
        pickled = []
        for segment, _, _ in self.versions:
            data = pickle.dumps(models[segment], protocol=pickle.HIGHEST_PROTOCOL)
            digest = hashlib.blake2b(data, digest_size=16).hexdigest()
            _kept(digest, models[segment])
            pickled.append((segment, digest, data))
        return dataclasses.replace(self, pickled=tuple(pickled))

    def with_loader(self, load: Callable[[str, RegisteredVersion], PDModel]) -> Champions:
        """These champions, their models loaded by ``load(segment, registered version)`` when a batch meets the
        segment: for a run that scores in its own process (a new filing meets one segment; loading every champion
        took 0.6 s). Such Champions do not pickle."""
        return dataclasses.replace(self, loader=load)

    def load(self, segment: str) -> tuple[str, str, PDModel]:
        """The segment's registered model name, champion version and model; MissingChampion if it has none."""
        registered = self.registered(segment)
        found = (registered.model_name, registered.version)
        packed = {s: (digest, data) for s, digest, data in self.pickled}.get(segment)
        if packed is None and self.loader is not None:
            return *found, self.loader(segment, registered)
        if packed is None:
            raise ValueError(f"the {segment} champion's model was not added (Champions.with_models)")
        digest, data = packed
        model = _models.get(digest)
        return *found, model if model is not None else _kept(digest, pickle.loads(data))


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


def _stored_scores(store, batch: list[str], today: dt.date) -> pd.DataFrame:
    """A batch's stored filing scores and today's snapshots (the rows a rescore can meet), without the feature
    values' JSON: their digest tells whether a row's features are the ones scored."""
    table = TABLES["risk_scores"]
    columns = [c.name for c in table.columns if c.name != "feature_values"]
    statement = sa.select(*[table.c[name] for name in columns]).where(
        sa.or_(table.c.kind == "period", sa.and_(table.c.kind == "current", table.c.as_of == today))
    )
    return store.query_in_chunks(statement, table.c.company_id, batch, columns=columns)


@dataclass(frozen=True)
class ScoreBatch:
    """One batch of companies scored (read and predicted ahead of the writes, in a worker process when the run is
    large: workers.derived_batches): its score rows, its stored scores, how many predictions were reused and
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
