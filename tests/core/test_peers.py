"""Peer comparison: the narrowest group with enough companies, mid-rank percentiles, risk directions."""

import math

import pandas as pd
import pytest

from risk_assets.core.peers import (
    MIN_PEERS,
    compare,
    midrank_percentile,
    peer_group,
    population_frame,
    size_band,
)


def _population(rows: list[tuple[str, str | None, str | None, float]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["company_id", "sector", "size_band", "pd"])


def test_size_bands_by_real_total_assets():
    assert size_band(math.log(500.0)) == "under $1bn"
    assert size_band(math.log(1_000.0)) == "$1bn-$10bn"  # lower bounds are inclusive
    assert size_band(math.log(99_999.0)) == "$10bn-$100bn"
    assert size_band(math.log(350_000.0)) == "$100bn and over"
    assert size_band(None) is None and size_band(float("nan")) is None


def test_midrank_percentile_counts_ties_half_and_ignores_missing_values():
    assert midrank_percentile(3.0, [1.0, 2.0, 4.0, 5.0]) == 50.0
    assert midrank_percentile(2.0, [1.0, 2.0, 3.0, float("nan"), None]) == pytest.approx(50.0)
    assert midrank_percentile(0.0, [1.0, 2.0]) == 0.0 and midrank_percentile(9.0, [1.0, 2.0]) == 100.0
    assert midrank_percentile(float("nan"), [1.0]) is None and midrank_percentile(1.0, []) is None


def test_group_widens_step_by_step_until_it_has_enough_peers():
    big = "$100bn and over"
    rows = [("me", "Retail", big, 0.02)]
    rows += [(f"retail-big-{i}", "Retail", big, 0.01) for i in range(2)]
    rows += [(f"retail-small-{i}", "Retail", "under $1bn", 0.03) for i in range(3)]
    rows += [(f"tech-big-{i}", "Tech", big, 0.005) for i in range(4)]
    population = _population(rows)

    # 2 retail peers of its size (< 5) -> sector: 5 retailers
    group = peer_group(population, "me")
    assert group.basis == "sector" and len(group.members) == 5 and "me" not in group.members
    # with a bar of 6, sector (5) is too small too -> size band: 2 retail + 4 tech = 6
    assert peer_group(population, "me", min_peers=6).basis == "size band"
    # with 3, the narrowest group is enough
    narrow = peer_group(population, "me", min_peers=2)
    assert narrow.basis == "sector and size band" and set(narrow.members) == {"retail-big-0", "retail-big-1"}
    # nothing is large enough -> every scored company
    assert peer_group(population, "me", min_peers=50).basis == "all scored companies"


def test_an_unknown_sector_or_size_matches_nothing():
    rows = [("me", None, None, 0.02)] + [(f"p{i}", None, None, 0.01) for i in range(MIN_PEERS + 2)]
    group = peer_group(_population(rows), "me")
    assert group.basis == "all scored companies" and group.sector is None and group.size_band is None
    with pytest.raises(KeyError, match="not in the scored population"):
        peer_group(_population(rows), "absent")


def test_compare_reports_value_median_percentile_and_direction():
    snapshots = [
        {
            "company_id": f"c{i}",
            "sector": "Manufacturing",
            "pd": 0.01 * (i + 1),
            "status": "ok",
            "feature_values": {"tl_ta": 0.1 * (i + 1), "ni_ta": None, "log_real_assets": math.log(5_000.0)},
        }
        for i in range(7)
    ]
    snapshots.append(
        {
            "company_id": "thin",
            "sector": "Unknown",
            "pd": 0.5,
            "status": "insufficient_data",
            "feature_values": {},
        }
    )
    population = population_frame(snapshots)
    assert population.set_index("company_id").loc["thin", "sector"] is None  # "Unknown" is no sector
    assert math.isnan(population.set_index("company_id").loc["thin", "pd"])  # insufficient data: no PD

    result = compare(population, "c6")  # the highest PD and leverage of its group
    assert result["basis"] == "sector and size band" and result["peers"] == 6
    by = {row["metric"]: row for row in result["metrics"]}
    assert by["pd"]["percentile"] == 100.0 and by["pd"]["riskier_when"] == "higher"
    assert by["tl_ta"]["value"] == pytest.approx(0.7) and by["tl_ta"]["peer_median"] == pytest.approx(0.35)
    assert by["tl_ta"]["riskier_when"] == "higher"
    assert by["ni_ta"]["value"] is None and by["ni_ta"]["percentile"] is None
    assert by["ni_ta"]["riskier_when"] == "lower" and by["ni_ta"]["peers_with_value"] == 0
