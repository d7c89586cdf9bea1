"""Partitions shared across domains: one dynamic partition per company, registered by `company_universe`."""

import dagster as dg

company_partitions = dg.DynamicPartitionsDefinition(name="companies")

#: The run tag naming the rate-limited source a company's fetch uses; dagster.yaml limits concurrent runs per value
#: (each run has its own rate limiter and OpenDART daily counter, so two runs of one source would double its rate).
SOURCE_TAG = "riskgraph/source"


def source_tags(company_id: str) -> dict[str, str]:
    """{SOURCE_TAG: "sec" | "dart"} for a company partition (sec-<CIK>, dart-<corp_code>); {} for anything else."""
    source = company_id.split("-", 1)[0]
    return {SOURCE_TAG: source} if source in ("sec", "dart") else {}
