"""Settings come from the environment through pydantic-settings, and reach the resources once, when the code location
loads: a set variable as `dg.EnvVar` (resolved in the run, never written into its config), anything else as its
default."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import pydantic
import pytest

from risk_assets.defs.resources import OpenDartResource, WarehouseResource, default_resources
from risk_assets.settings import Settings


def test_unset_or_blank_variables_are_the_defaults_and_the_stores_live_under_home(
    monkeypatch, tmp_path
) -> None:
    monkeypatch.setenv("RISKGRAPH_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("RISKGRAPH_LONG_RUN_DEFAULT_RATE", "  ")
    monkeypatch.setenv("RISKGRAPH_WAREHOUSE_URL", "")
    monkeypatch.setenv("RISKGRAPH_CORS_ORIGINS", "https://a.example, https://b.example,")
    monkeypatch.setenv("RISKGRAPH_LOG_LEVEL", "debug")
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    settings = Settings.from_env()
    home = (tmp_path / "home").resolve()
    assert settings.home == home and settings.long_run_default_rate == 0.02
    assert settings.warehouse_url == f"sqlite:///{home / 'warehouse.db'}"
    assert settings.mlflow_artifact_root == (home / "mlartifacts").as_uri()
    assert settings.dagster_home == home / "dagster"
    assert settings.cors_origins == ("https://a.example", "https://b.example")
    assert settings.log_level == "DEBUG"


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("RISKGRAPH_API_LIMIT_CONCURRENCY", "many"),
        ("RISKGRAPH_API_LIMIT_CONCURRENCY", "0"),
        ("RISKGRAPH_LONG_RUN_DEFAULT_RATE", "2"),
        ("RISKGRAPH_API_CACHE_SECONDS", "-1"),
    ],
)
def test_a_malformed_variable_is_refused_by_name(monkeypatch, variable: str, value: str) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(pydantic.ValidationError) as refused:
        Settings.from_env()
    assert variable in str(refused.value)


def test_secrets_are_out_of_the_settings_repr(monkeypatch) -> None:
    monkeypatch.setenv("OPENDART_API_KEY", "a" * 40)
    settings = Settings.from_env()
    assert settings.opendart_api_key == "a" * 40 and "a" * 40 not in repr(settings)


def test_a_set_variable_reaches_a_run_as_an_env_var_not_as_its_value(monkeypatch, tmp_path: Path) -> None:
    key = "k" * 40
    monkeypatch.setenv("OPENDART_API_KEY", key)
    monkeypatch.setenv("RISKGRAPH_WAREHOUSE_URL", f"sqlite:///{tmp_path / 'set.db'}")
    monkeypatch.delenv("FRED_API_KEY", raising=False)
    resources = default_resources()
    # the resource holds the variable's name, not the key: that is what Dagster shows of it
    assert isinstance(resources["dart"].api_key, dg.EnvVar) and key not in repr(resources["dart"])
    assert isinstance(resources["warehouse"].url, dg.EnvVar)
    assert resources["fred"].api_key == ""  # unset: not configured, no EnvVar that would fail the run
    seen = {}

    @dg.asset
    def probe(dart: OpenDartResource, warehouse: WarehouseResource) -> None:
        seen["configured"], seen["url"] = dart.is_configured(), warehouse.url

    instance = dg.DagsterInstance.ephemeral()
    result = dg.materialize(
        [probe], resources={"dart": resources["dart"], "warehouse": resources["warehouse"]}, instance=instance
    )
    assert result.success and seen == {"configured": True, "url": f"sqlite:///{tmp_path / 'set.db'}"}
    # outside Dagster (the CLI) the same settings give plain values
    assert default_resources(env_vars=False)["dart"].api_key == key
