"""Dagster resources: the warehouse, the object store, MLflow, and the external sources.

Configured once, in ``defs()`` when the code location loads (``default_resources``): a setting whose variable is
set is passed as ``dg.EnvVar`` (Dagster resolves it in each run and shows only the variable's name, so no URL with a
password or API key lands in a run's config), any other the settings' default. No resource reads the environment.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, ClassVar

import dagster as dg
import pandas as pd
from pydantic import PrivateAttr

# the clients' defaults are the resources' defaults: one set of rate limits
from risk_assets.clients import dart as _dart
from risk_assets.clients import fred as _fred
from risk_assets.clients import prices as _prices
from risk_assets.clients import sec as _sec
from risk_assets.settings import Settings
from risk_assets.storage.objects import ObjectStore, open_object_store
from risk_assets.storage.warehouse import Warehouse

if TYPE_CHECKING:
    from risk_assets.clients import (
        EcosClient,
        FredClient,
        OpenDartClient,
        PriceClient,
        RawSink,
        SecEdgarClient,
    )
    from risk_assets.clients.http import Transport
    from risk_assets.core.macro import MacroSeries
    from risk_assets.core.model import PDModel
    from risk_assets.defs.sources.providers import MarketSession
    from risk_assets.storage.champion_lookup import RegisteredVersion
    from risk_assets.storage.model_registry import ModelRegistry


class WarehouseResource(dg.ConfigurableResource):
    """Tables on SQLite (embedded default) or MySQL (production); one SQLAlchemy URL.

    The first ``get()`` of a run brings the schema to the latest migration (idempotent; a no-op at head), so no
    asset or sensor body migrates and a fresh embedded home needs no separate step."""

    url: str
    migrate: bool = True
    #: Processes that derive a large run's company batches beside the one writing them (-1: one per CPU; 0:
    #: none, one batch ahead in a thread): workers.derived_batches.
    derive_workers: int = -1

    _warehouse: Warehouse | None = PrivateAttr(default=None)

    def get(self) -> Warehouse:
        if self._warehouse is None:
            warehouse = Warehouse(self.url)
            if self.migrate:
                warehouse.create_schema()
            self._warehouse = warehouse
        return self._warehouse

    def teardown_after_execution(self, context: dg.InitResourceContext) -> None:
        if self._warehouse is not None:
            self._warehouse.dispose()


class ObjectStoreResource(dg.ConfigurableResource):
    """Raw filings and large frames: ``file://`` folder or ``s3://bucket/prefix`` (MinIO via endpoint_url)."""

    url: str
    endpoint_url: str = ""
    region_name: str = ""

    def get(self) -> ObjectStore:
        if not self.url.startswith("s3://"):
            return open_object_store(self.url)
        from dagster_aws.s3 import S3Resource

        s3 = S3Resource(endpoint_url=self.endpoint_url or None, region_name=self.region_name or None)
        return open_object_store(self.url, s3_client=s3.get_client())


class MlflowResource(dg.ConfigurableResource):
    """MLflow tracking + registry (a small resource rather than dagster-mlflow's legacy `mlflow_tracking`)."""

    tracking_uri: str
    experiment: str
    model_name: str
    artifact_root: str

    def get(self) -> ModelRegistry:
        # MLflow is imported by the runs that use the registry (~2 s here): a run that ingests or derives does not
        from risk_assets.storage.model_registry import ModelRegistry

        return ModelRegistry(
            tracking_uri=self.tracking_uri,
            model_name=self.model_name,
            experiment=self.experiment,
            artifact_root=self.artifact_root,
        )

    def for_segment(self, segment: str) -> ModelRegistry:
        """The registry of one segment's registered model (core/segments.py names them)."""
        registry = self.get()
        registry.model_name = self.segment_model_name(segment)
        return registry

    def segment_model_name(self, segment: str) -> str:
        from risk_assets.core.segments import SEGMENTS

        return SEGMENTS[segment].registered_model(self.model_name)

    def champion(self, segment: str, objects: ObjectStore | None = None) -> RegisteredVersion | None:
        """The segment's champion version (None without one): from the tracking server's REST API where the
        tracking URI is a server, else through MLflow's client, whose answer from a local SQLite store is
        remembered in ``objects`` until the store changes (storage/champion_lookup.py says why)."""
        from risk_assets.storage.champion_lookup import (
            AliasMemo,
            LookupUnavailable,
            RegisteredVersion,
            alias_version,
        )

        name = self.segment_model_name(segment)
        try:
            return alias_version(self.tracking_uri, name)
        except LookupUnavailable:
            memo = AliasMemo.of(self.tracking_uri, objects)
            if memo is not None:
                known, found = memo.lookup(name)
                if known:
                    return found
            before = memo.state() if memo is not None else None
            registry = self.for_segment(segment)
            version = registry.champion_version()
            found = (
                None
                if version is None
                else RegisteredVersion(name, version, str(registry.version_info(version).run_id or ""))
            )
            if memo is not None:
                memo.remember(name, found, before)
            return found

    def load_version(
        self, segment: str, version: RegisteredVersion, objects: ObjectStore | None = None
    ) -> PDModel:
        """The model of a segment's registered version: its copy in ``objects`` where one was kept, else loaded
        through MLflow and kept there for the next run (a version registered without a run is not kept: its
        number alone does not tell it from a later one registered under the same name)."""
        from risk_assets.storage.champion_lookup import cached_model, keep_model

        keeps = objects if objects is not None and version.run_id else None
        model = cached_model(keeps, version) if keeps is not None else None
        if model is None:
            model = self.for_segment(segment).load(version.version)
            if keeps is not None:
                keep_model(keeps, version, model)
        return model


class ModelSettingsResource(dg.ConfigurableResource):
    """Modelling choices an operator may change without code: the long-run default rate, gate tolerances."""

    long_run_default_rate: float  # RISKGRAPH_LONG_RUN_DEFAULT_RATE: one default, the setting's
    auc_floor: float = 0.75
    auc_tolerance: float = 0.01
    holdout_share: float = 0.2
    seed: int = 20240101

    def target_rate(self) -> float:
        return self.long_run_default_rate


# --- external sources: one resource per source wrapping its client (risk_assets/clients). Base URLs are
# configurable (tests point them at a local server); keys and the SEC User-Agent empty = not configured.


class _SourceClientResource(dg.ConfigurableResource):
    """What every source resource hands its client alike: the request timeout, the retries and the raw sink."""

    timeout_seconds: float = 60.0
    max_retries: int = 4

    def _transport(self, raw_sink: RawSink | None) -> Transport:
        return {"timeout": self.timeout_seconds, "max_retries": self.max_retries, "raw_sink": raw_sink}


class _KeyedSourceResource(_SourceClientResource):
    """A source that needs an API key (empty = not configured)."""

    api_key: str = ""

    def resolved_api_key(self) -> str:
        return self.api_key.strip()

    def is_configured(self) -> bool:
        return bool(self.resolved_api_key())


class SecEdgarResource(_SourceClientResource):
    """SEC EDGAR. ``user_agent``: RISKGRAPH_SEC_USER_AGENT ("Name contact@example.com")."""

    user_agent: str = ""
    base_url_data: str = "https://data.sec.gov"
    base_url_www: str = "https://www.sec.gov"
    max_requests_per_second: float = _sec.MAX_REQUESTS_PER_SECOND

    def resolved_user_agent(self) -> str:
        return self.user_agent.strip()

    def is_configured(self) -> bool:
        return bool(self.resolved_user_agent())

    def client(self, raw_sink: RawSink | None = None) -> SecEdgarClient:
        from risk_assets.clients import SecEdgarClient

        return SecEdgarClient(
            user_agent=self.resolved_user_agent(),
            base_url_data=self.base_url_data,
            base_url_www=self.base_url_www,
            max_requests_per_second=self.max_requests_per_second,
            **self._transport(raw_sink),
        )


class OpenDartResource(_KeyedSourceResource):
    """OpenDART. ``api_key``: OPENDART_API_KEY. The daily cap is counted per process (see the client)."""

    base_url: str = "https://opendart.fss.or.kr/api"
    daily_request_cap: int = _dart.DAILY_REQUEST_CAP
    min_interval_seconds: float = _dart.MIN_INTERVAL_SECONDS

    def client(self, raw_sink: RawSink | None = None) -> OpenDartClient:
        from risk_assets.clients import OpenDartClient

        return OpenDartClient(
            api_key=self.resolved_api_key(),
            base_url=self.base_url,
            daily_request_cap=self.daily_request_cap,
            min_interval_seconds=self.min_interval_seconds,
            **self._transport(raw_sink),
        )


class FredResource(_KeyedSourceResource):
    """FRED / ALFRED. ``api_key``: FRED_API_KEY."""

    base_url: str = "https://api.stlouisfed.org/fred"
    max_requests_per_minute: float = _fred.MAX_REQUESTS_PER_MINUTE

    def client(
        self, publication_lag_days: dict[str, int] | None = None, raw_sink: RawSink | None = None
    ) -> FredClient:
        from risk_assets.clients import FredClient

        return FredClient(
            api_key=self.resolved_api_key(),
            base_url=self.base_url,
            publication_lag_days=publication_lag_days,
            max_requests_per_minute=self.max_requests_per_minute,
            **self._transport(raw_sink),
        )


class EcosResource(_KeyedSourceResource):
    """Bank of Korea ECOS. ``api_key``: ECOS_API_KEY."""

    base_url: str = "https://ecos.bok.or.kr/api"

    def client(
        self, publication_lag_days: dict[str, int] | None = None, raw_sink: RawSink | None = None
    ) -> EcosClient:
        from risk_assets.clients import EcosClient

        return EcosClient(
            api_key=self.resolved_api_key(),
            base_url=self.base_url,
            publication_lag_days=publication_lag_days,
            **self._transport(raw_sink),
        )


class PricesResource(_SourceClientResource):
    """Daily equity prices in the Yahoo chart format (no key). ``history_start``: first day fetched."""

    base_url: str = "https://query1.finance.yahoo.com"
    min_interval_seconds: float = _prices.MIN_INTERVAL_SECONDS
    timeout_seconds: float = 30.0
    history_start: str = "2008-01-01"

    def client(self, raw_sink: RawSink | None = None) -> PriceClient:
        from risk_assets.clients import PriceClient

        return PriceClient(
            base_url=self.base_url,
            min_interval_seconds=self.min_interval_seconds,
            **self._transport(raw_sink),
        )


class MacroSeriesResource(dg.ConfigurableResource):
    """Which macro series feed which feature. Empty: core.macro.DEFAULT_SERIES. Each entry reads
    ``COUNTRY:role:source:series_id:transform:lag[:cycle[:minus]]`` (lag: days, or ``first_release``), e.g.
    ``US:gdp_growth:fred:GDP:yoy:first_release`` or ``KR:policy_rate:ecos:722Y001/0101000:level:31:M``."""

    series: list[str] = []

    def specs(self) -> tuple[MacroSeries, ...]:
        from risk_assets.core.macro import DEFAULT_SERIES, parse_series_spec

        return tuple(parse_series_spec(text) for text in self.series) if self.series else DEFAULT_SERIES


# --- where companies, filings and market data come from: one interface per source kind, a bundled and a live
# implementation, chosen once in Definitions (``source_resources``). The work is in defs/sources/providers.py.


class FilingsSource(dg.ConfigurableResource):
    """Companies and their raw documents: ``BundledFilings`` (the embedded default) or ``LiveFilings``."""

    mode: ClassVar[str] = ""

    def universe(self, store, objects, log) -> list[dict]:
        """companies rows of the universe (raw documents read on the way are stored and indexed)."""
        raise NotImplementedError

    def companies(self, store, objects, keys: list[str], log) -> pd.DataFrame:
        """companies rows of these partitions."""
        return store.read("companies", where={"company_id": keys})

    def store_documents(self, store, objects, companies: pd.DataFrame, log) -> tuple[int, int, list[str]]:
        """Store and index each company's documents, one transaction per company: (documents, bytes, failed)."""
        raise NotImplementedError

    def complete_until(
        self, fetched: pd.DataFrame, source: str, kind_prefix: str, payloads: list[dict]
    ) -> dt.date:
        """Up to when a company's filing list is complete (overdue reports are judged up to this day)."""
        raise NotImplementedError


class BundledFilings(FilingsSource):
    """data/universe.csv and the recorded SEC/OpenDART responses bundled in data/, stored as a fetch stores them.

    ``data_folder``: read them from a folder laid out like risk_assets/data instead (universe.csv, sec/companyfacts,
    sec/submissions, opendart/...), e.g. a larger recorded universe (RISKGRAPH_BUNDLED_DATA); empty: the packaged
    data."""

    mode: ClassVar[str] = "bundled"
    data_folder: str = ""

    def universe(self, store, objects, log) -> list[dict]:
        from risk_assets.defs.sources.providers import bundled_universe

        return bundled_universe(self.data_folder)

    def store_documents(self, store, objects, companies: pd.DataFrame, log) -> tuple[int, int, list[str]]:
        from risk_assets.defs.sources.providers import store_bundled_documents

        return store_bundled_documents(store, objects, companies, log, self.data_folder)

    def complete_until(
        self, fetched: pd.DataFrame, source: str, kind_prefix: str, payloads: list[dict]
    ) -> dt.date:
        from risk_assets.defs.sources.providers import newest_filing_date

        return newest_filing_date(payloads)


class LiveFilings(FilingsSource):
    """The watchlist, enriched from SEC submissions / OpenDART company.json, and each company's documents fetched
    through the clients configured by ``sec`` and ``dart``; every body stored before anything parses it."""

    mode: ClassVar[str] = "live"
    sec: SecEdgarResource
    dart: OpenDartResource

    def universe(self, store, objects, log) -> list[dict]:
        from risk_assets.defs.sources.providers import live_universe

        return live_universe(self.sec, self.dart, store, objects, log)

    def companies(self, store, objects, keys: list[str], log) -> pd.DataFrame:
        from risk_assets.defs.sources.providers import live_companies

        return live_companies(self.sec, self.dart, store, objects, keys, log)

    def store_documents(self, store, objects, companies: pd.DataFrame, log) -> tuple[int, int, list[str]]:
        from risk_assets.defs.sources.providers import fetch_live_documents

        return fetch_live_documents(self.sec, self.dart, store, objects, companies, log)

    def complete_until(
        self, fetched: pd.DataFrame, source: str, kind_prefix: str, payloads: list[dict]
    ) -> dt.date:
        from risk_assets.defs.sources.providers import fetched_on

        return fetched_on(fetched, source, kind_prefix)


class MarketSource(dg.ConfigurableResource):
    """Macro series and daily price charts: ``BundledMarket`` (the embedded default) or ``LiveMarket``."""

    mode: ClassVar[str] = ""

    @contextmanager
    def session(self, capture: RawSink, specs: tuple[MacroSeries, ...] = ()) -> Iterator[MarketSession]:
        """What one run reads (``series_rows``, ``chart_payload``), raw bodies stored through ``capture``."""
        raise NotImplementedError
        yield  # pragma: no cover


class BundledMarket(MarketSource):
    """data/fred (GDP first releases, CPILFESL, WGS10YR) and data/yahoo, through the live path's parsers."""

    mode: ClassVar[str] = "bundled"

    @contextmanager
    def session(self, capture: RawSink, specs: tuple[MacroSeries, ...] = ()) -> Iterator[MarketSession]:
        from risk_assets.defs.sources.providers import bundled_session

        yield bundled_session(capture)


class LiveMarket(MarketSource):
    """FRED / ALFRED, Bank of Korea ECOS and daily prices in the Yahoo chart format, through their clients."""

    mode: ClassVar[str] = "live"
    fred: FredResource
    ecos: EcosResource
    prices: PricesResource

    @contextmanager
    def session(self, capture: RawSink, specs: tuple[MacroSeries, ...] = ()) -> Iterator[MarketSession]:
        from risk_assets.defs.sources.providers import live_session

        with live_session(self.fred, self.ecos, self.prices, capture, specs) as session:
            yield session


def _setting(settings: Settings, field: str, env_vars: bool = True) -> Any:
    """``dg.EnvVar`` of the setting's variable when the environment set it (and ``env_vars``), else its value.

    ``env_vars=False`` for resources used outside a Dagster run (the CLI), where nothing would resolve them."""
    if env_vars and field in settings.model_fields_set:
        alias = Settings.model_fields[field].validation_alias
        return dg.EnvVar(alias.choices[0])
    value = getattr(settings, field)
    return str(value) if value is not None else ""


def source_clients(settings: Settings, env_vars: bool = True) -> dict[str, Any]:
    """The live sources' resources, their keys and the SEC User-Agent from the settings (empty = not configured)."""
    return {
        "sec": SecEdgarResource(user_agent=_setting(settings, "sec_user_agent", env_vars)),
        "dart": OpenDartResource(api_key=_setting(settings, "opendart_api_key", env_vars)),
        "fred": FredResource(api_key=_setting(settings, "fred_api_key", env_vars)),
        "ecos": EcosResource(api_key=_setting(settings, "ecos_api_key", env_vars)),
        "prices": PricesResource(),
    }


def source_resources(mode: str, settings: Settings | None = None, env_vars: bool = True) -> dict[str, Any]:
    """The filings and market sources of a mode, "bundled" or "live" (``RISKGRAPH_DATA_SOURCE``)."""
    settings = settings or Settings.from_env()
    if mode == "bundled":
        folder = _setting(settings, "bundled_data_folder", env_vars)
        return {"filings": BundledFilings(data_folder=folder), "market_source": BundledMarket()}
    if mode == "live":
        clients = source_clients(settings, env_vars)
        return {
            "filings": LiveFilings(sec=clients["sec"], dart=clients["dart"]),
            "market_source": LiveMarket(fred=clients["fred"], ecos=clients["ecos"], prices=clients["prices"]),
        }
    raise ValueError(f"RISKGRAPH_DATA_SOURCE must be 'bundled' or 'live', got {mode!r}")


def default_resources(settings: Settings | None = None, env_vars: bool = True) -> dict[str, Any]:
    """Every resource, configured from the settings (the environment when the code location loads)."""
    settings = settings or Settings.from_env()

    def setting(field: str) -> Any:
        return _setting(settings, field, env_vars)

    return {
        "warehouse": WarehouseResource(url=setting("warehouse_url"), derive_workers=settings.derive_workers),
        "object_store": ObjectStoreResource(
            url=setting("object_store_url"), endpoint_url=setting("s3_endpoint_url")
        ),
        "mlflow_registry": MlflowResource(
            tracking_uri=setting("mlflow_tracking_uri"),
            experiment=setting("mlflow_experiment"),
            model_name=setting("model_name"),
            artifact_root=setting("mlflow_artifact_root"),
        ),
        "model_settings": ModelSettingsResource(long_run_default_rate=settings.long_run_default_rate),
        **source_clients(settings, env_vars),
        "macro_series": MacroSeriesResource(),
        **source_resources(settings.data_source.strip().lower(), settings, env_vars),
    }


@dg.definitions
def defs() -> dg.Definitions:
    """Built when the code location loads (not at import), so the mode in the environment then is the one used."""
    return dg.Definitions(resources=default_resources())
