"""Tests of the production deployment files, run without a Docker engine or a cloudflared binary.

Shared helpers live here (the test modules import them): the repository root, the skip-or-fail rule for
checks whose tool is missing, and a scratch database on the test MySQL/MariaDB server.
"""

from __future__ import annotations

from pathlib import Path

# Moved to tests/support/servers.py (shared with the storage and integration tests); importable here as before.
from tests.support.servers import MySqlServer, scratch_database, unavailable

__all__ = ["REPO", "MySqlServer", "scratch_database", "unavailable"]

REPO = Path(__file__).resolve().parents[2]
