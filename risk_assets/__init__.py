"""riskgraph: a Dagster asset graph that turns financial statements into calibrated default probabilities."""

__version__ = "0.1.0"
