"""Writing a batch of scores: filing scores rewritten only where they changed, today's snapshots replaced, the
batch's marks cleared, in one transaction, by the process that scored it (a worker on a server warehouse:
derive/workers.py) or the run's."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from risk_assets.derive.scores import ScoreBatch
from risk_assets.storage.schema import TABLES
from risk_assets.storage.stale import in_chunks
from risk_assets.storage.warehouse import Warehouse, utc_now

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


def write_scores(
    store: Warehouse,
    conn: Connection,
    rows: pd.DataFrame,
    stored: pd.DataFrame,
    champions: list[tuple[str, str]],
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
    gone = [
        {"company": company, "as_of": as_of, "version": version}
        for company, as_of, version in kept[~kept.isin(produced)]
    ]
    if gone:  # each by its whole key: SQLite reads a list of keys against a scan of every score
        conn.execute(
            sa.delete(table).where(
                table.c.company_id == sa.bindparam("company"),
                table.c.as_of == sa.bindparam("as_of"),
                table.c.model_version == sa.bindparam("version"),
                table.c.kind == "period",
            ),
            gone,
        )
    changed = period[~unchanged_scores(period, mine)] if len(period) else period
    if len(changed):
        store.upsert("risk_scores", changed, connection=conn)
    return len(changed)


def scores_of_the_day(companies: list[str], day: dt.date, *columns: str) -> Iterable[sa.Select]:
    """Reads of the keys (company_id, model_version, kind) and ``columns`` of some companies' scores dated ``day``
    (snapshots and filings: the caller keeps the kind it wants), found by key (company, date), a list of
    companies a read. With ``kind = 'current'`` in the condition, SQLite plans it through ix_scores_rank (kind,
    as_of) once its statistics say a date has few rows: every snapshot of the day read for each batch, however few
    of them it wants (the PSI check's read of the snapshots' values: 27.6 of its 40.8 s at 100,000 companies)."""
    table = TABLES["risk_scores"]
    statement = sa.select(
        table.c.company_id, table.c.model_version, table.c.kind, *(table.c[name] for name in columns)
    ).where(table.c.as_of == day)
    return in_chunks(statement, table.c.company_id, companies)


def write_snapshots(
    store: Warehouse, conn: Connection, current: pd.DataFrame, companies: list[str], today: dt.date
) -> None:
    """Replace the companies' snapshots of today (under any model version) with ``current``."""
    table = TABLES["risk_scores"]
    stored = [
        {"company": company, "version": version}
        for statement in scores_of_the_day(companies, today)
        for company, version, kind in conn.execute(statement)
        if kind == "current"
    ]
    if stored:  # a second rescore of the day: each deleted by its whole key
        conn.execute(
            sa.delete(table).where(
                table.c.company_id == sa.bindparam("company"),
                table.c.as_of == today,
                table.c.model_version == sa.bindparam("version"),
                table.c.kind == "current",
            ),
            stored,
        )
    store.upsert("risk_scores", current, connection=conn)


# --- today's percentiles ----------------------------------------------------------------------------------------


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


def rank_among_today(store: Warehouse, conn: Connection, current: pd.DataFrame, today: dt.date) -> int:
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


def rerank_snapshots(store: Warehouse, conn: Connection, today: dt.date) -> int:
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


@dataclass(frozen=True)
class WrittenScores:
    """What writing a batch of scores did: filing scores produced and written, predictions reused, financial
    firms left out."""

    period_rows: int
    written: int
    reused: int
    excluded: list[str]


#: Ranks a batch's new snapshots among today's, in the batch's transaction (a few companies' run: the stored
#: snapshots are the population); None in a bulk run, which ranks the whole day once after its last batch.
RankSnapshots = Callable[[Warehouse, Connection, pd.DataFrame, dt.date], int]


def write_score_batch(
    store: Warehouse,
    batch: tuple[list[str], pd.DataFrame],
    scored: tuple[pd.DataFrame, pd.DataFrame, int, list[str]],
    champions: list[tuple[str, str]],
    today: dt.date,
    rank: RankSnapshots | None = None,
) -> WrittenScores:
    """Write one scored batch (ScoreBatch's rows, stored scores, reused count, excluded firms) of ``batch``'s
    companies and clear the marks read for them, in one transaction run again after a lock conflict."""
    companies, marks = batch
    rows, stored, reused, excluded = scored
    if len(rows):
        rows["scored_at"] = utc_now()
        rows["percentile"] = np.nan
    current = rows[rows["kind"] == "current"] if len(rows) else pd.DataFrame()

    def write(conn: Connection) -> int:
        written = write_scores(store, conn, rows, stored, champions)
        write_snapshots(store, conn, current, companies, today)
        if len(current) and rank is not None:
            rank(store, conn, current, today)
        store.clear_stale(conn, "risk_scores", marks)
        return written

    written = store.retried_transaction(write)
    period_rows = int((rows["kind"] == "period").sum()) if len(rows) else 0
    return WrittenScores(period_rows, written, reused, excluded)


@dataclass(frozen=True)
class ScoreAndWrite:
    """Score a batch and write it (picklable: a worker process scores it, and on a server warehouse also writes
    it, side by side with the other batches' writes: derive/workers.py's written_batches). ``rank`` ranks the
    batch's snapshots among today's as it writes them (rank_among_today, for a few companies' run); None leaves
    ranking to the run's end."""

    score: ScoreBatch
    champions: tuple[tuple[str, str], ...]
    rank: RankSnapshots | None = None

    def __call__(self, store: Warehouse, batch: tuple[list[str], pd.DataFrame]) -> WrittenScores:
        return self.write(store, batch, self.derived(store, batch))

    def derived(
        self, store: Warehouse, batch: tuple[list[str], pd.DataFrame]
    ) -> tuple[pd.DataFrame, pd.DataFrame, int, list[str]]:
        """The batch scored, not written (read only)."""
        return self.score(store, batch[0])

    def write(
        self,
        store: Warehouse,
        batch: tuple[list[str], pd.DataFrame],
        scored: tuple[pd.DataFrame, pd.DataFrame, int, list[str]],
    ) -> WrittenScores:
        return write_score_batch(store, batch, scored, list(self.champions), self.score.today, self.rank)
