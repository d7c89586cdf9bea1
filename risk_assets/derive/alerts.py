"""A batch of companies' score alerts: their pending filing scores compared with the earlier ones (core/alerts.py)
and written with the flags of the scores compared cleared, in one transaction, by the process that compared them
(a worker on a server warehouse: derive/workers.py) or the run's."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from risk_assets.core.alerts import AlertRule, score_alerts
from risk_assets.storage.schema import TABLES
from risk_assets.storage.warehouse import Warehouse

#: How many of a run's newest alerts its materialisation previews.
PREVIEWED = 10


def handled_frame(keys: list[tuple], names: list[str], **constant: object) -> pd.DataFrame:
    """The key rows an alerts pass compared, with alert_pending cleared (what Warehouse.update takes)."""
    return pd.DataFrame(keys, columns=names).assign(**constant, alert_pending=False)


@dataclass(frozen=True)
class AlertsWritten:
    """What one batch's alerts pass wrote: alerts, the newest of them (the preview), scores compared."""

    alerts: int
    newest: list[dict[str, Any]]
    evaluated: int


@dataclass(frozen=True)
class ScoreAlertBatch:
    """Compare a batch of companies' pending filing scores and write their alerts (picklable: a worker process
    runs it on a server warehouse, where the batches' writes go on side by side)."""

    rule: AlertRule
    now: dt.datetime

    def __call__(self, store: Warehouse, batch: list[str]) -> AlertsWritten:
        return self.write(store, batch, self.derived(store, batch))

    def derived(self, store: Warehouse, batch: list[str]) -> tuple[list[dict[str, Any]], list[tuple]]:
        """The batch's alerts and the keys of the scores compared (read only): of the companies' filing scores
        served with a PD, only what the rule compares."""
        table = TABLES["risk_scores"]
        compared = [
            table.c[name] for name in ("company_id", "as_of", "model_version", "pd", "grade", "alert_pending")
        ]
        scores = store.query(
            sa.select(*compared).where(
                table.c.company_id.in_(batch),
                table.c.kind == "period",
                sa.func.coalesce(table.c.status, "scored") == "scored",  # no PD served: nothing to compare
            )
        )
        return score_alerts(scores, self.rule, self.now)

    def write(
        self, store: Warehouse, batch: list[str], compared: tuple[list[dict[str, Any]], list[tuple]]
    ) -> AlertsWritten:
        """A batch's alerts and the cleared flags of the scores it compared, in one transaction (run again after
        a lock conflict): a killed run keeps finished batches, and a market's flags are never held at once."""
        alerts, handled = compared
        flags = handled_frame(handled, ["company_id", "as_of", "model_version"], kind="period")

        def write(conn: Connection) -> None:
            store.upsert("risk_alerts", alerts, connection=conn)
            store.update("risk_scores", flags, connection=conn)

        store.retried_transaction(write)
        return AlertsWritten(len(alerts), alerts[-PREVIEWED:], len(handled))
