"""Named asset jobs: what operators, the CLI and the API launch.

Partitioned and unpartitioned assets cannot share a job, so the main path is five jobs run in order by
`riskgraph materialize`: refresh_universe -> ingest_filings (all company partitions, one run) ->
refresh_market -> retrain -> rescore_all.
"""

import dagster as dg

from risk_assets.defs.partitions import company_partitions

refresh_universe = dg.define_asset_job(
    "refresh_universe",
    selection=["company_universe"],
    description="Load the company universe and register partitions.",
)

ingest_filings = dg.define_asset_job(
    "ingest_filings",
    selection=["raw_filings", "statements"],
    partitions_def=company_partitions,
    description="Fetch and normalise one company's filings (or a range of companies in one run).",
)

retrain = dg.define_asset_job(
    "retrain",
    # default_events first: the training labels come from them, and rescore_all runs after the first training
    selection=["default_events", "training_set", "pd_model", "champion_model"],
    description="Rebuild default events and the training set they label, train and register a version, run the "
    "champion gate.",
)

refresh_market = dg.define_asset_job(
    "refresh_market",
    selection=["macro_indicators", "market_prices"],
    description="Fetch macro series (FRED/ECOS, with release dates) and daily equity prices (scheduled daily).",
)

rescore_all = dg.define_asset_job(
    "rescore_all",
    selection=[
        "default_events",
        "warning_signals",
        "market_features",
        "features",
        "risk_scores",
        "risk_alerts",
    ],
    description="Recompute events, warning signals, market and statement features, score every filing and the "
    "current snapshot with the champion, raise alerts.",
)

MAIN_SEQUENCE = ("refresh_universe", "ingest_filings", "refresh_market", "retrain", "rescore_all")
