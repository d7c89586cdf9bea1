"""Rules of docs/architecture.md that import-linter cannot see: where the environment is read."""

from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
#: settings.py reads the environment (and builds the `riskgraph serve` children's); commands/graph.py only writes
#: it (DAGSTER_HOME for in-process runs, MLflow's progress bars off). Nothing else may touch it: a setting lives in
#: one place.
ALLOWED = {REPO / "risk_assets" / "settings.py"}


def environment_reads(path: Path) -> list[int]:
    """Line numbers of os.environ / os.getenv uses in a module, but for assignments `os.environ[NAME] = value`."""
    tree = ast.parse(path.read_text(), filename=str(path))
    writes = {
        id(node.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Subscript) and isinstance(node.ctx, ast.Store)
    }
    lines = []
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.value.id == "os"
            and node.attr in ("environ", "getenv", "environb")
            and id(node) not in writes
        ):
            lines.append(node.lineno)
    return sorted(lines)


def test_the_environment_is_read_in_settings_only() -> None:
    modules = sorted((REPO / "risk_assets").rglob("*.py")) + sorted((REPO / "api").rglob("*.py"))
    offenders = {str(p.relative_to(REPO)): environment_reads(p) for p in modules if p not in ALLOWED}
    assert {path: lines for path, lines in offenders.items() if lines} == {}


def test_the_scan_finds_an_environment_read(tmp_path: Path) -> None:
    module = tmp_path / "reads.py"
    module.write_text(
        "import os\nKEY = os.environ.get('X')\nOTHER = os.getenv('Y')\nos.environ['Z'] = '1'\n"
        "COPY = dict(os.environ)\nos.environ.setdefault('W', '2')\n"
    )
    assert environment_reads(module) == [2, 3, 5, 6]  # line 4 writes


#: Libraries that only some steps use: training (matplotlib, scikit-learn's model selection), the registry
#: (MLflow, ~2 s to import here), predicting (scikit-learn) and the statistics of checks and gates (SciPy, ~1.5 s).
#: Every run and every code-location load starts a fresh interpreter that loads the definitions, so what loading
#: them imports is paid on each start: an ingestion run's too, which uses none of them.
STEP_ONLY = ("matplotlib", "sklearn", "mlflow", "scipy")
#: Nor the catalog of the installed libraries' component types that ``dg.load_from_defs_folder`` builds for `dg`'s
#: scaffolding (dagster-aws's components import ``dagster._core.test_utils``; ~0.8 s of each start here).
NOT_LOADED = (*STEP_ONLY, "dagster_aws.components")


def test_loading_the_definitions_imports_no_step_only_library_nor_the_component_catalog() -> None:
    import subprocess
    import sys

    probe = (
        "import sys; from risk_assets.definitions import defs; loaded = defs(); "
        "print('tree kept:', loaded.component_tree is not None); "
        f"print('imported:', ','.join(n for n in {NOT_LOADED!r} if n in sys.modules))"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], cwd=REPO, capture_output=True, text=True, check=True, timeout=300
    )
    said = dict(line.partition(": ")[::2] for line in done.stdout.splitlines() if ": " in line)
    # the defs folder's component tree, as load_from_defs_folder keeps it, and none of the libraries
    assert said.get("tree kept") == "True", done.stdout
    assert "imported" in said and said["imported"].strip() == "", done.stdout
