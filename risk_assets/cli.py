"""The `riskgraph` command line. Each command group lives in its own module under `risk_assets/commands/`
and registers its subcommands here; a subcommand's handler returns the process exit code. Modules whose name
starts with an underscore are helpers of those commands, not command groups."""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
from collections.abc import Sequence

import risk_assets.commands


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="riskgraph", description="Corporate default-risk platform: run the graph, inspect and manage it."
    )
    subparsers = parser.add_subparsers(dest="command", required=True)
    for module in sorted(pkgutil.iter_modules(risk_assets.commands.__path__), key=lambda m: m.name):
        if module.name.startswith("_"):
            continue
        importlib.import_module(f"risk_assets.commands.{module.name}").register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.handler(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
