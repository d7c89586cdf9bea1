"""Batch derivations over the warehouse, and the worker processes that run them.

What a company-batched asset computes for one batch (market features, features, scores) lives here, not beside
the asset: a worker process unpickles the batch's deriver, so it imports this package and what it needs, never
Dagster or MLflow (about 100 MB and 2 s less per worker than importing the asset modules). Each module reads the
warehouse (storage) and computes with core; the assets (defs) write the batches and report to Dagster.
"""
