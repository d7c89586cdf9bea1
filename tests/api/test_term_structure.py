"""GET /v1/companies/{id}/term-structure: the served curve starts at the current PD and rises with the horizon,
for every bundled company."""

from __future__ import annotations

import pytest

from tests.api.conftest import bearer


@pytest.fixture
def read(keys):
    return bearer(keys["reader"])


def test_every_bundled_company_has_a_monotone_curve_from_its_current_pd(api, read):
    scores = api.get("/v1/scores", params={"limit": 500}, headers=read).json()["items"]
    assert scores
    for score in scores:
        response = api.get(f"/v1/companies/{score['company_id']}/term-structure", headers=read)
        assert response.status_code == 200, response.text
        body = response.json()
        cumulative = [point["cumulative_pd"] for point in body["curve"]]
        assert [point["years"] for point in body["curve"]] == [1, 2, 3, 4, 5]
        assert cumulative[0] == pytest.approx(score["pd"])
        assert all(b >= a for a, b in zip(cumulative, cumulative[1:], strict=False))
        assert sum(point["marginal_pd"] for point in body["curve"]) == pytest.approx(cumulative[-1])
        if score["in_default"]:
            assert cumulative == [1.0] * 5
        else:
            assert cumulative[-1] < 1 and cumulative[-1] > cumulative[0]
    assert "revert" in body["method"] and 0 < body["rho"] < 1


def test_an_unknown_company_is_a_404(api, read):
    response = api.get("/v1/companies/sec-0000000001/term-structure", headers=read)
    assert response.status_code == 404 and response.headers["content-type"] == "application/problem+json"
