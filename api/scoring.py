"""Ad-hoc scoring with the champion: canonical items -> ratios (core.ratios.compute_ratios) -> PD, grade, drivers.

Loading a model from MLflow takes a second; reading the alias a few milliseconds. So loaded models are cached per
version for the life of the process, and the `champion` alias is re-read at most every
``api_champion_recheck_seconds``: a promotion reaches the API within that interval, and no request waits on MLflow
in between. If MLflow is unreachable when the alias is re-read, the cached champion keeps answering.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from api.convert import drivers_out, finite_or_none
from risk_assets.core.master_scale import agency_band, grade_for_pd
from risk_assets.core.ratios import compute_ratios

if TYPE_CHECKING:
    from risk_assets.core.model import PDModel
    from risk_assets.storage.model_registry import ModelRegistry

log = logging.getLogger("riskgraph.api")


class ChampionUnavailable(RuntimeError):
    """No champion to score with (none registered yet, or MLflow unreachable before the first load)."""


class ChampionCache:
    def __init__(
        self,
        registry_factory: Callable[[], ModelRegistry],
        recheck_seconds: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._registry_factory = registry_factory
        self._registry: ModelRegistry | None = None
        self._recheck_seconds = recheck_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._models: dict[str, PDModel] = {}
        self._version: str | None = None
        self._checked_at = -math.inf
        self.model_name = ""
        # One scoring at a time per process: LightGBM releases the GIL, and this avoids relying on the
        # thread-safety of a shared booster for no gain on two cores.
        self.scoring_lock = threading.Lock()

    def _due(self) -> bool:
        return self._version is None or self._clock() - self._checked_at >= self._recheck_seconds

    def peek(self) -> tuple[str, PDModel] | None:
        """(version, model) when it can be had without touching MLflow (loaded, no alias re-check due)."""
        if self._due():
            return None
        return self._version, self._models[self._version]  # type: ignore[index]

    def current(self) -> tuple[str, PDModel]:
        """(version, model) of the champion, re-reading the alias when the interval has passed."""
        if self._due():
            with self._lock:
                if self._due():
                    self._refresh()
        assert self._version is not None
        return self._version, self._models[self._version]

    def _refresh(self) -> None:
        try:
            if self._registry is None:
                self._registry = self._registry_factory()
                self.model_name = self._registry.model_name
            version = self._registry.champion_version()
            if version is None:
                raise ChampionUnavailable(f"model {self._registry.model_name!r} has no champion version yet")
            if version not in self._models:
                self._models[version] = self._registry.load(version)
        except ChampionUnavailable:
            if self._version is None:
                raise
            log.warning("champion alias vanished; still answering with version %s", self._version)
            version = self._version
        except Exception as error:  # MLflow down or a broken artifact: keep the last good champion
            if self._version is None:
                log.exception("cannot load the champion model")
                raise ChampionUnavailable("the model registry is unavailable") from error
            log.warning(
                "cannot re-read the champion alias (%s); still answering with version %s",
                type(error).__name__,
                self._version,
            )
            version = self._version
        self._version = version
        self._checked_at = self._clock()


@dataclass
class Scored:
    """Per row: PD, raw log-odds, domain flag and note, base and per-feature contributions."""

    pd: np.ndarray
    log_odds: np.ndarray
    out_of_domain: np.ndarray
    domain_notes: list[str]
    base: np.ndarray
    contributions: np.ndarray  # rows x model.feature_names


def _boosters(model: PDModel) -> list[Any] | None:
    """The LightGBM boosters behind a model: one, or a bag of seeds whose mean is the model; None otherwise."""
    if model.family != "lightgbm":
        return None
    members = getattr(model.estimator, "members", None) or [model.estimator]
    boosters = [getattr(member, "booster_", None) for member in members]
    return boosters if all(booster is not None for booster in boosters) else None


def score_matrix(model: PDModel, x: np.ndarray) -> Scored:
    """Score a raw feature matrix (columns = ``model.feature_names``, NaN = missing).

    For a LightGBM model (or a bag of them) this reads the boosters directly with one OpenMP thread: the same
    arithmetic as ``PDModel.score`` (training-median imputation, TreeSHAP contributions averaged over the bag,
    calibration, domain envelope) without its DataFrame round trips, and without LightGBM's default of one thread
    per core, which on two cores costs ~10 ms per call in thread start-up. tests/api/test_scoring.py checks both paths give the same numbers on the
    bundled companies. Other families go through ``PDModel.score``.
    """
    names = list(model.feature_names)
    boosters = _boosters(model)
    if boosters and model.calibration is not None and model.domain is not None:
        filled = model.imputer.transform(x) if model.imputer is not None else x
        values = np.mean(
            [
                booster.predict(filled, raw_score=True, pred_contrib=True, num_threads=1)
                for booster in boosters
            ],
            axis=0,
        )
        contributions, base = values[:, : len(names)], values[:, len(names)]
        raw = base + contributions.sum(axis=1)
        flags, notes = model.domain.check(x, names)
        return Scored(
            model.calibration.pd(raw), raw, np.asarray(flags, dtype=bool), list(notes), base, contributions
        )
    frame = pd.DataFrame(x, columns=names)
    base, contribution_frame = model.contributions(frame)
    contributions = contribution_frame.to_numpy()
    raw = base + contributions.sum(axis=1)
    flags, notes = model.check_domain(frame)
    return Scored(
        model.calibration.pd(raw),
        raw,
        np.asarray(flags, dtype=bool),
        list(notes),
        np.asarray(base),
        contributions,
    )


def top_drivers(scored: Scored, row: int, names: Sequence[str], top: int) -> dict[str, Any]:
    """The ``top`` largest contributions of one row by absolute size, and the rest summed (as PDModel.score)."""
    values = scored.contributions[row]
    order = np.argsort(-np.abs(values))[:top]
    return {
        "base": float(scored.base[row]),
        "contributions": {names[j]: float(values[j]) for j in order},
        "other": float(values.sum() - values[order].sum()),
    }


def choose_request_segment(entry: dict[str, Any]) -> tuple[str, str]:
    """The segment of a statement sent to POST /v1/score: the caller's, or chosen from its items."""
    from risk_assets.core.segments import LISTED_MARKET, LISTED_STATEMENTS

    if entry.get("segment"):
        return entry["segment"], "chosen by the caller"
    market_value = (entry.get("items") or {}).get("market_value_equity")
    if market_value is not None and market_value > 0:
        return LISTED_MARKET, "market_value_equity given: a listed company with market data"
    return LISTED_STATEMENTS, (
        "no market_value_equity: a listed company scored on its statements (send "
        "segment=sme for a private company)"
    )


def feature_rows(segment: str, statements: Sequence[dict[str, Any]]) -> list[dict[str, float]]:
    """The model inputs of each statement, computed by the same code as the pipeline: the field features
    (core/field_features.py) for the listed segments, the Polish attributes (core/ratios.py) for the SME one."""
    import datetime as dt

    from risk_assets.core.field_features import compute_field_features
    from risk_assets.core.segments import SME

    if segment == SME:
        return [compute_ratios(entry["items"], entry.get("prior_years") or ()) for entry in statements]
    default_year = dt.date.today().year - 1
    rows = []
    for k, entry in enumerate(statements):
        year = int(entry.get("fiscal_year") or default_year)
        currency = entry.get("currency") or "USD"
        history = [dict(entry["items"])] + [dict(prior) for prior in entry.get("prior_years") or ()]
        for back, items in enumerate(history):
            rows.append(
                {
                    **items,
                    "company_id": f"request-{k}",
                    "fiscal_year": year - back,
                    "currency": currency,
                    "_statement": k if back == 0 else -1,
                }
            )
    frame = pd.DataFrame(rows)
    features = compute_field_features(frame)
    current = features[frame["_statement"].to_numpy() >= 0]
    return current.to_dict("records")


def score_statements(
    models: PDModel | dict[str, tuple[str, str, PDModel]], statements: Sequence[dict[str, Any]], top: int
) -> list[dict[str, Any]]:
    """Score canonical-item dicts ({"reference", "items", "prior_years", [segment, currency, fiscal_year]}).

    ``models``: segment -> (registered model name, version, model) for the segment suite, or one PDModel (the
    statements are then scored with it on the Polish attributes)."""
    if not isinstance(models, dict):
        return _score_with(models, statements, top, compute_ratios)
    chosen = [choose_request_segment(entry) for entry in statements]
    results: list[dict[str, Any] | None] = [None] * len(statements)
    for segment in dict.fromkeys(segment for segment, _ in chosen):
        positions = [i for i, (s, _) in enumerate(chosen) if s == segment]
        name, version, model = models[segment]
        mine = [statements[i] for i in positions]
        rows = feature_rows(segment, mine)
        scored = _score_with(model, mine, top, None, rows)
        for i, result in zip(positions, scored, strict=True):
            results[i] = {
                **result,
                "segment": segment,
                "segment_reason": chosen[i][1],
                "model_name": name,
                "model_version": version,
            }
    return [r for r in results if r is not None]


def _score_with(
    model: PDModel,
    statements: Sequence[dict[str, Any]],
    top: int,
    ratio_function,
    rows: list[dict[str, float]] | None = None,
) -> list[dict[str, Any]]:
    names = list(model.feature_names)
    ratios = (
        rows
        if rows is not None
        else [ratio_function(entry["items"], entry.get("prior_years") or ()) for entry in statements]
    )
    x = np.array([[row.get(name, math.nan) for name in names] for row in ratios], dtype=float)
    scored = score_matrix(model, x)
    results = []
    for i, (entry, row_ratios) in enumerate(zip(statements, ratios, strict=True)):
        pd_value = float(scored.pd[i])
        results.append(
            {
                "reference": entry.get("reference"),
                "pd": pd_value,
                "grade": grade_for_pd(pd_value),
                "agency_band": agency_band(pd_value),
                "log_odds": float(scored.log_odds[i]),
                "out_of_domain": bool(scored.out_of_domain[i]),
                "domain_note": scored.domain_notes[i],
                "drivers": drivers_out(top_drivers(scored, i, names, top), row_ratios),
                "ratios": {name: finite_or_none(row_ratios.get(name)) for name in names},
            }
        )
    return results


def stored_model(registry_getter: Callable[[], ModelRegistry], model_name: str, version: str) -> PDModel:
    """A registered model version (immutable), loaded once per process (storage.model_registry caches loads)."""
    import copy

    registry = copy.copy(registry_getter())
    registry.model_name = model_name
    return registry.load(str(version))


def model_drivers_of(model: PDModel, feature_values: dict[str, Any]) -> dict[str, Any]:
    """The model's drivers of one stored score, from its stored feature values (base, top contributions, other),
    exactly as scoring computes them: the same PDModel.score on the same floats (the feature values are stored
    with Python's float repr, which reads back to the same float)."""
    frame = pd.DataFrame([feature_values]).reindex(columns=model.feature_names).astype(float)
    return model.score(frame)["drivers"].iloc[0]
