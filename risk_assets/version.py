"""The code version recorded with every score and model: package version plus the git commit when known."""

from __future__ import annotations

import subprocess
from functools import lru_cache
from pathlib import Path

from risk_assets import __version__


@lru_cache(maxsize=1)
def code_version() -> str:
    from risk_assets.settings import Settings

    commit = Settings.from_env().git_commit
    if not commit:
        try:
            commit = subprocess.run(
                ["git", "rev-parse", "--short=12", "HEAD"],
                cwd=Path(__file__).resolve().parent,
                capture_output=True,
                text=True,
                timeout=5,
                check=False,
            ).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            commit = ""
    return f"{__version__}+{commit}" if commit else __version__
