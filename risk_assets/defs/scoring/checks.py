"""Monitoring of what is served: is the scored population still the one each segment's model was developed on?"""

import json

import dagster as dg
import numpy as np
import orjson
import pandas as pd
import sqlalchemy as sa

from risk_assets.core.fingerprint import value_digests
from risk_assets.core.monitoring import (
    STABILITY_KEY,
    feature_stability,
    score_stability,
    stability_over_time,
)
from risk_assets.core.segments import SEGMENT_NAMES
from risk_assets.defs.incremental import EVERY_COMPANY, MATERIAL_SHARE, previous_metadata_of
from risk_assets.defs.modeling.assets import read_training_set
from risk_assets.defs.resources import MlflowResource, ObjectStoreResource, WarehouseResource
from risk_assets.defs.scoring.assets import risk_scores
from risk_assets.derive.score_writes import scores_of_the_day
from risk_assets.storage.champion_lookup import CHAMPION_ALIAS
from risk_assets.storage.schema import TABLES
from risk_assets.storage.stale import chunks, forced_index

#: Companies whose filing scores the PSI-over-time history reads (drawn by a hash of their id): the history's
#: decile bins are stable well before that, and it keeps the check's reads flat with the size of the market.
HISTORY_COMPANIES = 5000
#: Companies read a statement at a time for the history: ~29 filing scores x 60 values each, so the driver's rows
#: of a statement (Python objects, ~30 bytes a value) stay near 60 MB while the frames read so far wait.
HISTORY_CHUNK = 250
#: What the history reads of each filing score, beside its feature values.
_FILING_COLUMNS = ("as_of", "company_id", "model_pd")


def _history_companies(companies: pd.Series) -> list[str]:
    """Up to HISTORY_COMPANIES company ids, the same ones every run (ordered by a hash, not by name)."""
    unique = pd.Series(sorted(set(companies)))
    if len(unique) <= HISTORY_COMPANIES:
        return unique.tolist()
    order = pd.util.hash_pandas_object(unique, index=False).sort_values().index
    return unique.loc[order[:HISTORY_COMPANIES]].tolist()


def _latest_snapshots(store) -> pd.DataFrame:
    """Every company's snapshot of the newest snapshot day (the companies scored now) with its segment, read from
    the ranking index alone (ix_scores_rank holds kind, as_of, segment and the key): the PD and the feature values
    come with _snapshot_features' reads by key, so each snapshot row is visited once (reading the PD here too was
    a second random page per company: 0.9 of the check's 13.9 s at 10,000 companies on MariaDB)."""
    table = TABLES["risk_scores"]
    newest = sa.select(sa.func.max(table.c.as_of)).where(table.c.kind == "current").scalar_subquery()
    columns = [table.c.company_id, table.c.as_of, table.c.segment]
    statement = sa.select(*columns).where(table.c.kind == "current", table.c.as_of == newest)
    return store.query(forced_index(statement, table, "ix_scores_rank"), columns=[c.name for c in columns])


def _snapshot_features(store, snapshots: pd.DataFrame, names: list[str]) -> tuple[np.ndarray, pd.DataFrame]:
    """The model PD and the feature values of ``snapshots`` (rows of _latest_snapshots, one day), in their order:
    the PDs as an array, the values one float column per name. Read by key a list of companies at a time, the
    JSON decoded a list at a time, never the whole market's text at once."""
    if snapshots.empty:
        return np.empty(0), pd.DataFrame(columns=list(names), dtype=float)
    as_of = snapshots["as_of"].iloc[0]
    parts = []
    for statement in scores_of_the_day(list(snapshots["company_id"]), as_of, "model_pd", "feature_values"):
        texts = store.query(statement)
        texts = texts[texts["kind"] == "current"].reset_index(drop=True)
        part = _feature_frame(texts, names).assign(_model_pd=texts["model_pd"].to_numpy(dtype=float))
        parts.append(part.set_axis(texts["company_id"].to_numpy()))
    values = pd.concat(parts)
    values = values[~values.index.duplicated()].reindex(snapshots["company_id"].to_numpy())
    return values.pop("_model_pd").to_numpy(dtype=float), values.reset_index(drop=True)


def segment_stability(objects, store, mlflow_registry: MlflowResource) -> dict[str, dict]:
    """Per segment: PSI of every feature (CSI) and of the PD between the champion's development sample (its
    training rows) and the companies it scores now (their newest snapshots), and the same per year of its filing
    scores (HISTORY_COMPANIES of them)."""
    current = _latest_snapshots(store)
    table = TABLES["risk_scores"]
    # the companies with a filing score in each segment, read in one pass over the filing scores, not one a
    # segment: each is a scan of every filing score (4 s a segment at 100,000 companies on MariaDB)
    filed_in = store.query(
        sa.select(table.c.segment, table.c.company_id).distinct().where(table.c.kind == "period")
    )
    out = {}
    for segment in SEGMENT_NAMES:
        mine = current[current["segment"] == segment]
        if mine.empty:
            continue
        # the champion as risk_scores finds and loads it: over a tracking server's REST API and from its kept copy
        champion = mlflow_registry.champion(segment, objects)
        if champion is None:
            raise LookupError(
                f"no '{CHAMPION_ALIAS}' alias on registered model {mlflow_registry.segment_model_name(segment)!r}"
            )
        version, model = champion.version, mlflow_registry.load_version(segment, champion, objects)
        development = read_training_set(objects, segment)
        development = development[~development["holdout"]]
        development_pd = model.predict_pd(development)
        model_pd, values = _snapshot_features(store, mine, model.feature_names)
        stability = feature_stability(development[model.feature_names], values, model.feature_names)
        scores = score_stability(development_pd, model_pd)
        champion_filings = sa.and_(
            table.c.kind == "period",
            table.c.model_name == champion.model_name,
            table.c.model_version == str(version),
            table.c.segment == segment,
        )
        picked = _history_companies(filed_in.loc[filed_in["segment"] == segment, "company_id"].astype(object))
        read = [
            _filing_features(store, champion_filings, part, model.feature_names)
            for part in chunks(picked, HISTORY_CHUNK)
        ]
        history = stability_over_time(
            development_pd,
            development[model.feature_names],
            pd.concat([frame for frame, _ in read], ignore_index=True)
            if read
            else pd.DataFrame(columns=[*_FILING_COLUMNS, *model.feature_names]),
            model.feature_names,
        )
        out[segment] = {
            "model": champion.model_name,
            "version": version,
            "companies": len(mine),
            "score": scores,
            "features": json.loads(stability.to_json(orient="records")),
            "history": history,
            "history_recomputed_left_out": sum(left_out for _, left_out in read),
        }
    return out


def _filing_features(
    store, filings: sa.ColumnElement, companies: list[str], names: list[str]
) -> tuple[pd.DataFrame, int]:
    """Some companies' filing scores (``filings``: which ones) with the feature values each was predicted from,
    read from its filing's features row (an older filing score keeps only their digest, not the values), and how
    many were left out because their features row was recomputed since (its values' digest is not the score's;
    a score without a digest, stored before digests, is taken as it is)."""
    scores, features = TABLES["risk_scores"], TABLES["features"]
    values = [features.c[name] for name in names if name in features.c]
    statement = (
        sa.select(*[scores.c[name] for name in _FILING_COLUMNS], scores.c.feature_digest, *values)
        .select_from(
            scores.join(
                features,
                sa.and_(
                    features.c.company_id == scores.c.company_id,
                    features.c.period_end == scores.c.period_end,
                    features.c.accession == scores.c.accession,
                ),
            )
        )
        .where(filings, scores.c.company_id.in_(companies))
    )
    frame = store.query(statement, columns=[*_FILING_COLUMNS, "feature_digest", *(c.name for c in values)])
    frame = frame.reindex(columns=[*_FILING_COLUMNS, "feature_digest", *names]).astype(
        {n: float for n in names}
    )
    digest = frame.pop("feature_digest")
    matches = np.asarray(value_digests(frame[list(names)]), dtype=object) == digest.to_numpy(dtype=object)
    scored_from = digest.isna().to_numpy() | matches
    return frame[scored_from].reset_index(drop=True), int((~scored_from).sum())


def _feature_frame(scores: pd.DataFrame, names: list[str]) -> pd.DataFrame:
    """The feature values each score used (decoded from its JSON column), one float column per model feature:
    filled a row at a time into one array, not a dict per row kept until the frame is built."""
    values = np.full((len(scores), len(names)), np.nan)
    for i, text in enumerate(scores["feature_values"]):
        decoded = orjson.loads(text) if text else {}
        values[i] = [np.nan if (v := decoded.get(name)) is None else v for name in names]
    return pd.DataFrame(values, columns=list(names))


@dg.asset_check(
    asset=risk_scores,
    description="Population stability per segment: the PSI of each feature (CSI) and "
    "of the PD between the champion's development sample and the companies scored now; warns when any "
    "feature shifts (PSI >= 0.25). The figures are kept for the API and the web app.",
)
def population_stability(
    context: dg.AssetCheckExecutionContext,
    warehouse: WarehouseResource,
    object_store: ObjectStoreResource,
    mlflow_registry: MlflowResource,
) -> dg.AssetCheckResult:
    objects = object_store.get()
    scoring = previous_metadata_of(context.instance, risk_scores.key)
    # A run that rescored a few companies (a new filing) leaves the population as it was: the figures of the last
    # run that measured it (every company rescored: a promotion, a new day, new code; or a tenth of them or more:
    # a bulk import) still describe it, and are judged again.
    rescored = int(scoring.get("companies_recomputed", 0) or 0)
    material = rescored > 0 and rescored >= MATERIAL_SHARE * int(scoring.get("current_scores", 0) or 0)
    measured_now = bool(scoring.get(EVERY_COMPANY, True)) or material or not objects.exists(STABILITY_KEY)
    if measured_now:
        figures = segment_stability(objects, warehouse.get(), mlflow_registry)
        objects.put(STABILITY_KEY, json.dumps(figures, default=float).encode(), "application/json")
    else:
        figures = json.loads(objects.get(STABILITY_KEY))
    shifted = {
        segment: [f["feature"] for f in figure["features"] if f["status"] == "shift"]
        for segment, figure in figures.items()
    }
    summary = pd.DataFrame(
        [
            {
                "segment": s,
                "companies": f["companies"],
                "pd_psi": round(f["score"]["psi"], 3),
                "features_shifted": len(shifted[s]),
                "features_watch": sum(x["status"] == "watch" for x in f["features"]),
            }
            for s, f in figures.items()
        ]
    )
    return dg.AssetCheckResult(
        passed=not any(shifted.values()),
        severity=dg.AssetCheckSeverity.WARN,
        metadata={
            "segments": dg.MetadataValue.md(summary.to_markdown(index=False) if len(summary) else "none"),
            "shifted_features": dg.MetadataValue.json(shifted),
            "figures": "measured in this run"
            if measured_now
            else f"of the last run that rescored every company or a tenth of them ({rescored} rescored in this one)",
        },
    )
