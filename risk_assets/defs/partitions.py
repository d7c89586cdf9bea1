"""Partitions shared across domains: one dynamic partition per company, registered by `company_universe`."""

import dagster as dg

company_partitions = dg.DynamicPartitionsDefinition(name="companies")

#: How a backfill of the company assets (raw_filings, statements: one shared policy, so one run does both for
#: the same companies) is cut into runs: up to 100 companies per run, each run one run worker of the daemon's queue
#: (dagster.yaml: max_concurrent_runs). Why 100: a run costs a few seconds before its first company (a worker
#: process importing the code location, resources, the warehouse's migration check) and a bundled company well under
#: a second, a live one a few seconds (SEC's 9 requests/s, OpenDART's pacing), so 100 companies keep that overhead
#: small while a failed run re-does (idempotently) at most 100 companies and shows as one row of a few minutes in
#: the UI; and a full universe of a few thousand companies becomes tens of runs, enough to keep every run slot busy.
#: The 14 bundled companies stay one run. `riskgraph materialize` is unaffected: it runs one range over every
#: company through the range tags (commands/graph.py), which the policy does not limit.
COMPANY_BACKFILL_POLICY = dg.BackfillPolicy.multi_run(max_partitions_per_run=100)

#: The run tag naming the rate-limited source a company's fetch uses; dagster.yaml limits concurrent runs per value
#: (each run has its own rate limiter and OpenDART daily counter, so two runs of one source would double its rate).
#: Only the filings sensor's runs carry it: a backfill run covers a range of companies, often of both sources.
SOURCE_TAG = "riskgraph/source"

#: The Dagster concurrency pool of every step that calls SEC or OpenDART (company_universe, raw_filings). The
#: deployment instances give it one slot (dagster.yaml: concurrency.pools, op granularity), so across all runs one
#: such step fetches at a time while the parsing in `statements` runs in as many runs as the queue allows. One pool
#: for both sources, not one each: a step has one pool, and a backfill run's range of companies mixes SEC and
#: OpenDART filers (docs/production.md, "Backfills spread over run workers").
FETCH_POOL = "source_fetch"


def source_tags(company_id: str) -> dict[str, str]:
    """{SOURCE_TAG: "sec" | "dart"} for a company partition (sec-<CIK>, dart-<corp_code>); {} for anything else."""
    source = company_id.split("-", 1)[0]
    return {SOURCE_TAG: source} if source in ("sec", "dart") else {}
