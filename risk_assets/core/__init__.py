"""Pure computations (no Dagster import): concept maps, ratios, classic scores, metrics, master scale.

The asset graph, the API and the tests all call these directly.
"""
