"""The Dagster code location: every definition is loaded from the `defs/` folder.

Built from the project's component tree at the `defs/` folder, with the tree kept on the definitions, which is what
``dg.load_from_defs_folder`` does but for one addition: that also builds a JSON catalog of every component type the
installed Dagster libraries offer (for `dg`'s scaffolding; it imports dagster-aws's components). That catalog cost
~0.8 s of every run's start here (each run loads the definitions in a fresh process) and neither a run nor the UI's
asset graph reads it (docs/traps.md).
"""

from pathlib import Path

import dagster as dg


@dg.definitions
def defs() -> dg.Definitions:
    tree = dg.ComponentTree.for_project(path_within_project=Path(__file__).resolve().parent)
    return dg.Definitions.merge(tree.build_defs(tree.defs_module_path), dg.Definitions(component_tree=tree))
