"""Run the Alembic migrations in db/migrations: the one source of truth for SQLite and MySQL schemas."""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import TYPE_CHECKING

from alembic import command
from alembic.config import Config

if TYPE_CHECKING:
    from risk_assets.storage.warehouse import Warehouse


def migrations_dir() -> Path:
    """db/migrations of the source tree (or RISKGRAPH_MIGRATIONS_DIR in an image that moved it)."""
    override = os.environ.get("RISKGRAPH_MIGRATIONS_DIR")
    if override:
        return Path(override)
    return Path(__file__).resolve().parents[2] / "db" / "migrations"


def alembic_config(url: str | None = None, output: io.StringIO | None = None) -> Config:
    config = Config(output_buffer=output) if output is not None else Config()
    config.set_main_option("script_location", str(migrations_dir()))
    if url:
        config.set_main_option("sqlalchemy.url", url)
    return config


def upgrade(warehouse: Warehouse, revision: str = "head") -> None:
    """Upgrade the warehouse's database to ``revision`` (creating every table on an empty database)."""
    with warehouse.engine.begin() as connection:
        config = alembic_config()
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


def offline_sql(dialect_url: str = "mysql+pymysql://", revision: str = "head") -> str:
    """The DDL the migrations emit for a dialect, without a database (db/init/01_schema.sql)."""
    buffer = io.StringIO()
    config = alembic_config(dialect_url, output=buffer)
    command.upgrade(config, revision, sql=True)
    return buffer.getvalue()
