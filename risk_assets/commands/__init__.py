"""Command groups of the `riskgraph` CLI: one module per group, each with ``register(subparsers)``."""
