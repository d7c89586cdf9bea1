"""Partitions shared across domains: one dynamic partition per company, registered by `company_universe`."""

import dagster as dg

company_partitions = dg.DynamicPartitionsDefinition(name="companies")
