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

#: What each step pod of `retrain` asks Kubernetes for when its steps run in pods of their own (Helm values set
#: RISKGRAPH_TRAINING_STEP_PODS): `pd_model` fits every family of every segment (cross-validation, LightGBM, the
#: out-of-time checks) and is the one step that needs a large pod; the others read and write tables. Operators
#: change them per run in the launchpad (`execution.config`) or in this mapping.
TRAINING_STEP_RESOURCES = {
    "step_k8s_config": {
        "container_config": {
            "resources": {"requests": {"cpu": "250m", "memory": "512Mi"}, "limits": {"memory": "1Gi"}}
        }
    },
    "per_step_k8s_config": {
        "pd_model": {
            "container_config": {
                "resources": {"requests": {"cpu": "2", "memory": "4Gi"}, "limits": {"memory": "6Gi"}}
            }
        }
    },
}


def retrain_job(step_pods: bool = False):  # an asset job, resolved against the assets by Definitions
    """The training job; with ``step_pods`` each of its steps runs in a Kubernetes pod of its own (dagster-k8s's
    `k8s_job_executor`, sized by TRAINING_STEP_RESOURCES) so that only `pd_model` gets a large one."""
    executor, config = None, None
    if step_pods:
        from dagster_k8s import k8s_job_executor

        executor, config = k8s_job_executor, {"execution": {"config": TRAINING_STEP_RESOURCES}}
    return dg.define_asset_job(
        "retrain",
        # default_events first: the training labels come from them, and rescore_all runs after the first training
        selection=["default_events", "training_set", "pd_model", "champion_model"],
        description="Rebuild default events and the training set they label, train and register a version, run "
        "the champion gate.",
        executor_def=executor,
        config=config,
    )


# The job as the API and the CLI list it; the code location builds its own with the executor its settings name.
retrain = retrain_job()

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


@dg.definitions
def jobs() -> dg.Definitions:
    """The jobs; `retrain` with step pods when the settings ask for them (read when the code location loads)."""
    from risk_assets.settings import Settings

    # a module with a definitions function contributes only what it returns: every job of this module
    training = retrain_job(Settings.from_env().training_step_pods)
    return dg.Definitions(jobs=[refresh_universe, ingest_filings, refresh_market, training, rescore_all])
