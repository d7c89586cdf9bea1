"""Scoring: PD, grade and drivers for every filing (as of its filing date) plus a current snapshot; alerts."""

import datetime as dt
import time
from collections.abc import Callable, Iterator
from typing import TypeVar

import dagster as dg
import pandas as pd
import sqlalchemy as sa

from risk_assets.core.alerts import AlertRule
from risk_assets.core.fingerprint import combined_fingerprint
from risk_assets.core.model import PDModel
from risk_assets.core.segments import SEGMENTS
from risk_assets.defs.features.assets import features
from risk_assets.defs.incremental import (
    MATERIAL_SHARE,
    SHARED_TOKEN,
    batch_progress,
    company_batches,
    company_work,
    no_company_work,
    start_of_work,
    statistics_after_batch,
)
from risk_assets.defs.modeling.assets import champion_model
from risk_assets.defs.resources import MlflowResource, ObjectStoreResource, WarehouseResource
from risk_assets.defs.sources.assets import FOLLOW_UPSTREAM, company_universe, default_events, warning_signals
from risk_assets.derive.alerts import PREVIEWED, ScoreAlertBatch, handled_frame
from risk_assets.derive.score_writes import ScoreAndWrite, rank_among_today, rerank_snapshots
from risk_assets.derive.scores import Champions, MissingChampion, ScoreBatch
from risk_assets.derive.workers import worker_count, writes_in_workers, written_batches
from risk_assets.storage.champion_lookup import CHAMPION_ALIAS, RegisteredVersion
from risk_assets.storage.objects import ObjectStore
from risk_assets.storage.schema import TABLES
from risk_assets.storage.warehouse import utc_now
from risk_assets.version import code_version

T = TypeVar("T")


def champions_of(mlflow_registry: MlflowResource, objects: ObjectStore | None = None) -> Champions:
    """Each segment's champion version, looked up once when a run starts (champion_models adds the models when
    the run has companies to score); against a tracking server, or a local store that has not changed since
    the lookup ``objects`` remembers, without importing MLflow (MlflowResource.champion)."""
    versions, runs, missing = [], [], []
    for segment in sorted(SEGMENTS):
        found = mlflow_registry.champion(segment, objects)
        if found is None:
            missing.append(
                (
                    segment,
                    f"cannot score the {segment} segment: no '{CHAMPION_ALIAS}' alias on registered model "
                    f"{mlflow_registry.segment_model_name(segment)!r}",
                )
            )
        else:
            versions.append((segment, found.model_name, found.version))
            runs.append((segment, found.run_id))
    return Champions(tuple(versions), tuple(missing), runs=tuple(runs))


def champion_loader(
    mlflow_registry: MlflowResource, objects: ObjectStore | None = None
) -> Callable[[str, RegisteredVersion], PDModel]:
    """Loads a segment's champion model (segment, its registered version -> model): its copy kept in ``objects``
    where there is one, else through MLflow, then kept (MlflowResource.load_version)."""

    def load(segment: str, registered: RegisteredVersion) -> PDModel:
        return mlflow_registry.load_version(segment, registered, objects)

    return load


def champion_models(
    champions: Champions, mlflow_registry: MlflowResource, objects: ObjectStore | None = None
) -> Champions:
    """``champions`` with their models (champion_loader), so the batches carry them to the workers."""
    load = champion_loader(mlflow_registry, objects)
    return champions.with_models(
        {segment: load(segment, champions.registered(segment)) for segment, _, _ in champions.versions}
    )


def _missing_champion_fails(scored: Iterator[T]) -> Iterator[T]:
    """The scored batches; a segment without a champion, met in any batch, fails the run saying which."""
    try:
        yield from scored
    except MissingChampion as missing:
        raise dg.Failure(str(missing)) from missing


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
    context: dg.AssetExecutionContext,
    warehouse: WarehouseResource,
    mlflow_registry: MlflowResource,
    object_store: ObjectStoreResource,
) -> dg.MaterializeResult:
    store = warehouse.get()
    today = dt.date.today()
    objects = object_store.get()
    resolved = champions_of(mlflow_registry, objects)
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
    batches = [(companies, work.marks_of(companies)) for companies in work.batches()]
    processes = start_of_work(context, store, work, warehouse.derive_workers, len(batches))
    in_workers = writes_in_workers(store, processes)
    # A bulk change (every company, or a tenth of the market or more: an import) ranks today's percentiles once,
    # across the whole market, after the last batch; a few companies are ranked against the stored snapshots,
    # unless workers write the batches (side by side, no batch sees a stable population).
    bulk = (
        in_workers
        or work.everything
        or len(work.companies)
        >= MATERIAL_SHARE * store.count("risk_scores", {"kind": "current", "as_of": today})
    )
    started, done, period_rows, predicted, reused, written = time.perf_counter(), 0, 0, 0, 0, 0
    excluded: list[str] = []

    # workers get the models with the batches; a run in this process loads the segments it meets
    derive = ScoreBatch(
        champion_models(resolved, mlflow_registry, objects)
        if processes
        else resolved.with_loader(champion_loader(mlflow_registry, objects)),
        today,
    )
    task = ScoreAndWrite(derive, tuple(champions), None if bulk else rank_among_today)
    results = written_batches(store, batches, task, processes)
    for number, ((companies, _), batch) in enumerate(_missing_champion_fails(results), 1):
        excluded += batch.excluded
        written += batch.written
        period_rows += batch.period_rows
        reused += batch.reused
        predicted += batch.period_rows - batch.reused
        done += len(companies)
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


def riskiest_companies(today: dt.date, floor: float) -> sa.Select:
    """The RISKIEST companies of today's snapshots, found among those with a PD at or above ``floor`` (the lowest
    of the riskiest PDs): read from ix_scores_rank alone on InnoDB, whose indexes hold the primary key."""
    table = TABLES["risk_scores"]
    return (
        sa.select(table.c.company_id)
        .where(table.c.kind == "current", table.c.as_of == today, table.c.pd >= floor)
        .order_by(table.c.pd.desc(), table.c.company_id)
        .limit(RISKIEST)
    )


def riskiest_snapshots(today: dt.date, companies: list[str]) -> sa.Select:
    """Today's RISKIEST snapshots among ``companies`` (riskiest_companies) with their names, by primary key. Not
    "today's snapshots at or above the floor" in one read: MariaDB plans that through ix_scores_recent (its
    sampled statistics), a row lookup for each of the day's snapshots: 4.3 s of a new filing's 5.4 s risk_scores
    at 100,000 companies, 0.1 s this way."""
    table, names = TABLES["risk_scores"], TABLES["companies"]
    return (
        sa.select(
            table.c.company_id,
            names.c.name.label("company"),
            table.c.pd,
            table.c.grade,
            table.c.segment,
            table.c.fiscal_year,
            table.c.out_of_domain,
        )
        .join(names, names.c.company_id == table.c.company_id)
        .where(table.c.company_id.in_(companies), table.c.as_of == today, table.c.kind == "current")
        .order_by(table.c.pd.desc(), table.c.company_id)
        .limit(RISKIEST)
    )


def _snapshot_summary(store, today: dt.date) -> dict:
    """Today's snapshots across the market, read back: counts, segments and the riskiest ten."""
    by_segment, riskiest_pds = (store.query(statement) for statement in snapshot_summary_queries(today))
    companies = (
        list(store.query(riskiest_companies(today, float(riskiest_pds["pd"].min())))["company_id"])
        if len(riskiest_pds)
        else []
    )
    top = store.query(riskiest_snapshots(today, companies)).drop(columns="company_id")
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
    alerts, latest, evaluated, done = 0, [], 0, 0  # counts, and the newest alerts for the preview
    batches = company_batches(pending)
    task = ScoreAlertBatch(rule, now)
    processes = worker_count(store, warehouse.derive_workers, len(batches))
    in_workers = writes_in_workers(store, processes)
    if processes:
        context.log.info(
            f"risk_alerts: {len(pending):,} companies with scores to compare; {processes} worker processes"
            + (", each writing the batches it compares" if in_workers else "")
        )
    for batch, written in written_batches(store, batches, task, processes):
        alerts, latest = alerts + written.alerts, (latest + written.newest)[-PREVIEWED:]
        evaluated, done = evaluated + written.evaluated, done + len(batch)
        context.log.info(
            f"risk_alerts: {done:,} of {len(pending):,} companies compared, {alerts:,} score alerts"
        )
    signals = store.read("warning_signals", where={"alert_pending": True})
    warnings, signals_handled = [], []
    if len(signals):
        # the signals' companies only, by primary key: every company's warning alerts are a whole-market read
        signalled = list(signals["company_id"].unique())
        all_scores = store.read("risk_scores", where={"company_id": signalled})
        existing = store.read(
            "risk_alerts", where={"company_id": signalled, "model_version": WARNING_MODEL_VERSION}
        )
        warnings, signals_handled = warning_alerts(signals, all_scores, existing, now)
    with store.transaction() as conn:
        store.upsert("risk_alerts", warnings, connection=conn)
        store.update(
            "warning_signals",
            handled_frame(signals_handled, ["company_id", "kind", "reference"]),
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
