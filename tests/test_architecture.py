"""Rules of docs/architecture.md that import-linter cannot see: where the environment is read."""

from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
#: settings.py reads the environment; commands/graph.py sets DAGSTER_HOME for in-process runs and hands the
#: environment to the `riskgraph serve` children. Nothing else may read it: a setting lives in one place.
ALLOWED = {REPO / "risk_assets" / "settings.py", REPO / "risk_assets" / "commands" / "graph.py"}


def environment_reads(path: Path) -> list[int]:
    """Line numbers of os.environ / os.getenv uses in a module."""
    lines = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.value.id == "os"
            and node.attr in ("environ", "getenv", "environb")
        ):
            lines.append(node.lineno)
    return sorted(lines)


def test_the_environment_is_read_in_settings_only() -> None:
    modules = sorted((REPO / "risk_assets").rglob("*.py")) + sorted((REPO / "api").rglob("*.py"))
    offenders = {str(p.relative_to(REPO)): environment_reads(p) for p in modules if p not in ALLOWED}
    assert {path: lines for path, lines in offenders.items() if lines} == {}


def test_the_scan_finds_an_environment_read(tmp_path: Path) -> None:
    module = tmp_path / "reads.py"
    module.write_text("import os\nKEY = os.environ.get('X')\nOTHER = os.getenv('Y')\n")
    assert environment_reads(module) == [2, 3]
