"""A fresh, empty embedded warehouse per test (imports and the user's panel write to it)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from risk_assets.storage.warehouse import Warehouse


@pytest.fixture
def warehouse(tmp_path: Path) -> Iterator[Warehouse]:
    store = Warehouse(f"sqlite:///{tmp_path / 'warehouse.db'}")
    store.create_schema()
    yield store
    store.dispose()
