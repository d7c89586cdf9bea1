"""The web app at /app/ in a real browser: headless Chromium (Debian's chromium and chromium-driver) driven by
selenium against uvicorn serving the gateway on the session's materialised home, signed in with a read key.

Checks what a user sees: the portfolio lists the bundled companies, search finds Apple by ticker, the company page
draws a PD chart with points and names its drivers, the API's refusals (acknowledge and what-if need other scopes)
are shown as they are, the models page lists the segments, the Korean dictionary switches the labels, and no
request the browser makes leaves 127.0.0.1 (Chrome's performance log). A screenshot of each page goes to
$RISKGRAPH_SCREENSHOTS (default: this module's tmp dir). Without Chromium the module is skipped, except in CI
(CI set), where that is a failure."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.api.conftest import bearer

pytestmark = pytest.mark.integration

APPLE = "sec-0000320193"
BUNDLED = {
    APPLE: "Apple",
    "sec-0001045810": "NVIDIA",
    "sec-0000104169": "Walmart",
    "dart-00126380": "Samsung",
    "sec-0001657853": "Hertz",
    "sec-0001731289": "Nikola",
}


def _browser() -> tuple[str, str] | None:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver")
    return (chromium, driver) if chromium and driver else None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def browser_paths() -> tuple[str, str]:
    found = _browser()
    if found is None:
        message = "chromium and chromedriver are not installed (apt-get install -y chromium chromium-driver)"
        if os.environ.get("CI"):
            pytest.fail(f"{message}: .ci/run installs them, so in CI their absence is a failure")
        pytest.skip(message)
    pytest.importorskip("selenium", reason="selenium is a dev dependency (make setup)")
    return found


@pytest.fixture(scope="module")
def server(api_home: Path, keys: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """uvicorn serving api.main:app on a free loopback port, on the API tests' materialised home."""
    port = _free_port()
    env = {
        k: v
        for k, v in os.environ.items()
        if k
        not in (
            "RISKGRAPH_WAREHOUSE_URL",
            "RISKGRAPH_OBJECT_STORE_URL",
            "MLFLOW_TRACKING_URI",
            "RISKGRAPH_MLFLOW_ARTIFACT_ROOT",
        )
    }
    env.update(RISKGRAPH_HOME=str(api_home), DAGSTER_HOME=str(api_home / "dagster"))
    log = tmp_path_factory.mktemp("webapp-server") / "uvicorn.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "api.main:app", "--host", "127.0.0.1", "--port", str(port)],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=Path(__file__).resolve().parents[2],
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                if httpx.get(f"{base}/health", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"uvicorn did not start: {log.read_text()[-3000:]}")
            time.sleep(0.3)
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()


@pytest.fixture(scope="module")
def screenshots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = Path(os.environ.get("RISKGRAPH_SCREENSHOTS") or tmp_path_factory.mktemp("screenshots"))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture(scope="module")
def driver(browser_paths: tuple[str, str]):
    from selenium import webdriver

    chromium, chromedriver = browser_paths
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for argument in (
        "--headless=new",
        "--no-sandbox",
        "--disable-dev-shm-usage",
        "--window-size=1400,1600",
        "--disable-background-networking",
        "--disable-component-update",
        "--no-first-run",
        "--disable-sync",
        "--disable-default-apps",
    ):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    browser = webdriver.Chrome(options=options, service=webdriver.ChromeService(executable_path=chromedriver))
    browser.set_page_load_timeout(60)
    yield browser
    browser.quit()


def _wait(driver, condition, timeout: float = 30):
    """Poll ``condition``; a row the page re-rendered while it was read (stale) just means: read again."""
    from selenium.common.exceptions import StaleElementReferenceException
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, timeout, ignored_exceptions=(StaleElementReferenceException,)).until(
        condition
    )


def _css(selector: str):
    from selenium.webdriver.common.by import By

    return (By.CSS_SELECTOR, selector)


def _visible_rows(driver) -> list[str]:
    from selenium.webdriver.common.by import By

    return [
        row.get_attribute("data-company-id")
        for row in driver.find_elements(By.CSS_SELECTOR, "#portfolio-table tbody tr")
    ]


@pytest.fixture(scope="module")
def signed_in(driver, server: str, keys: dict[str, str]) -> str:
    """The app opened and signed in with a read key; returns the app's address."""
    from selenium.webdriver.support import expected_conditions as ec

    driver.get(f"{server}/app/")
    _wait(driver, ec.presence_of_element_located(_css("#api-key"))).send_keys(keys["reader"])
    driver.find_element(*_css("#sign-in")).click()
    _wait(driver, ec.presence_of_element_located(_css("#portfolio-table tbody tr")))
    assert driver.execute_script("return sessionStorage.getItem('riskgraph.apiKey')") == keys["reader"]
    return f"{server}/app/"


def test_a_wrong_key_is_refused_plainly(driver, server: str):
    from selenium.webdriver.support import expected_conditions as ec

    driver.get(f"{server}/app/")
    driver.execute_script("sessionStorage.clear()")
    driver.refresh()
    _wait(driver, ec.presence_of_element_located(_css("#api-key"))).send_keys("rgk_000000000000_wrong")
    driver.find_element(*_css("#sign-in")).click()
    error = _wait(driver, ec.presence_of_element_located(_css("[data-testid=error]")))
    assert "401" in error.text and "invalid or revoked API key" in error.text
    assert driver.execute_script("return sessionStorage.getItem('riskgraph.apiKey')") is None


def test_portfolio_lists_every_scored_company(driver, signed_in, api, keys, screenshots):
    served = api.get("/v1/scores", params={"limit": 500}, headers=bearer(keys["reader"])).json()
    rows = _visible_rows(driver)
    assert sorted(rows) == sorted(item["company_id"] for item in served["items"])
    assert set(BUNDLED) <= set(rows)
    apple = driver.find_element(*_css(f"tr[data-company-id='{APPLE}']")).text
    item = next(i for i in served["items"] if i["company_id"] == APPLE)
    assert "Apple" in apple and f"{item['pd'] * 100:.2f}%" in apple and item["agency_band"] in apple
    assert item["filed_at"] in apple and item["segment"] in apple
    changes = api.get("/v1/app/pd-changes", headers=bearer(keys["reader"])).json()["items"]
    change = next(c for c in changes if c["company_id"] == APPLE)
    assert change["previous_pd"] is not None and f"{abs(change['pd_change']) * 100:.2f} pp" in apple
    driver.save_screenshot(str(screenshots / "portfolio.png"))


def _retype(field, text: str) -> None:
    """Replace a field's text as a user would (clear() fires no input event, so the page would not see it)."""
    from selenium.webdriver.common.keys import Keys

    field.send_keys(Keys.CONTROL, "a")
    field.send_keys(Keys.BACKSPACE)
    if text:
        field.send_keys(text)


def test_filters_and_search(driver, signed_in):
    from selenium.webdriver.support.ui import Select

    Select(driver.find_element(*_css("#filter-country"))).select_by_visible_text("KR")
    _wait(driver, lambda d: _visible_rows(d) == ["dart-00126380"])
    Select(driver.find_element(*_css("#filter-country"))).select_by_visible_text("all")
    Select(driver.find_element(*_css("#filter-grade"))).select_by_visible_text("D")
    _wait(driver, lambda d: set(_visible_rows(d)) == {"sec-0001731289", "sec-0000945436"})
    Select(driver.find_element(*_css("#filter-grade"))).select_by_visible_text("all")
    search = driver.find_element(*_css("#search"))
    _retype(search, "AAPL")
    _wait(driver, lambda d: _visible_rows(d) == [APPLE])
    _retype(search, "320193")  # a CIK without its padding
    _wait(driver, lambda d: _visible_rows(d) == [APPLE])
    _retype(search, "00126380")  # Samsung's DART corp code
    _wait(driver, lambda d: _visible_rows(d) == ["dart-00126380"])
    _retype(search, "")
    _wait(driver, lambda d: len(_visible_rows(d)) >= len(BUNDLED))


def test_company_page_chart_drivers_and_refusals(driver, signed_in, api, keys, screenshots):
    from selenium.webdriver.support import expected_conditions as ec

    driver.get(f"{signed_in}#/company/{APPLE}")
    chart = _wait(driver, ec.presence_of_element_located(_css("#pd-chart canvas")))
    history = api.get(
        f"/v1/companies/{APPLE}/scores", params={"model_version": "1"}, headers=bearer(keys["reader"])
    ).json()["scores"]
    assert int(driver.find_element(*_css("#pd-chart")).get_attribute("data-points")) == len(history) > 10
    # the series is drawn: the canvas holds pixels of its colour (#1f5fa8)
    drawn = driver.execute_script(
        "const c = arguments[0]; const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;"
        "let n = 0; for (let i = 0; i < d.length; i += 4) if (d[i] === 31 && d[i+1] === 95 && d[i+2] === 168) n++;"
        "return n;",
        chart,
    )
    assert drawn > 200
    profile = api.get(f"/v1/companies/{APPLE}", headers=bearer(keys["reader"])).json()
    labels = [e.text for e in driver.find_elements(*_css("#drivers .driver-label"))]
    assert labels == [c["label"] for c in profile["latest_score"]["drivers"]["contributions"]] and all(labels)
    assert driver.find_elements(*_css("#feature-values tr[data-feature='mve_tl']"))
    # the statement the score rests on (FY or TTM, and how old it is) and the 1-5 year term structure
    statement = driver.find_element(*_css("#latest-score")).text
    latest = profile["latest_score"]
    assert (
        f"({latest['period_type']})" in statement and f"{latest['statement_age_days']} days ago" in statement
    )
    term = api.get(f"/v1/companies/{APPLE}/term-structure", headers=bearer(keys["reader"])).json()
    shown = [row.text.split() for row in driver.find_elements(*_css("#term-structure tr.term-point"))]
    assert [cells[0] for cells in shown] == ["1", "2", "3", "4", "5"]
    assert [cells[1] for cells in shown] == [f"{p['cumulative_pd']:.2%}" for p in term["curve"]]
    # peers: every metric the API compares, and the group it compared within
    peers = api.get(f"/v1/companies/{APPLE}/peers", headers=bearer(keys["reader"])).json()
    rows = driver.find_elements(*_css("#peers tr.peer-metric"))
    assert [row.get_attribute("data-metric") for row in rows] == [m["metric"] for m in peers["metrics"]]
    basis = driver.find_element(*_css("#peer-basis")).text
    assert f"among {peers['peers']} other scored companies" in basis and peers["sector"] in basis
    driver.save_screenshot(str(screenshots / "company.png"))
    driver.execute_script("document.getElementById('peers').scrollIntoView()")
    driver.save_screenshot(str(screenshots / "company-peers.png"))
    driver.execute_script("window.scrollTo(0, 0)")

    # the what-if needs the score scope: the API's refusal is shown as it is
    driver.find_element(*_css("#what-if input[data-item='revenue']")).send_keys("1000")
    driver.find_element(*_css("#what-if-score")).click()
    error = _wait(driver, ec.presence_of_element_located(_css("#what-if [data-testid=error]")))
    assert "403" in error.text and "this key lacks the 'score' scope" in error.text


def test_acknowledging_with_a_read_key_shows_the_refusal(driver, signed_in):
    from selenium.webdriver.support import expected_conditions as ec

    driver.get(f"{signed_in}#/company/sec-0000945436")  # SunEdison: alerts before its bankruptcy
    button = _wait(driver, ec.element_to_be_clickable(_css("#alerts button.ack")))
    button.click()
    error = _wait(driver, ec.presence_of_element_located(_css("#alerts [data-testid=error]")))
    assert "403" in error.text and "this key lacks the 'admin' scope" in error.text
    events = driver.find_element(*_css("#default-events")).text
    assert "2016-04-21" in events and "bankruptcy" in events


def test_models_page_lists_segments(driver, signed_in, api, keys, screenshots):
    from selenium.webdriver.support import expected_conditions as ec

    driver.get(f"{signed_in}#/models")
    _wait(driver, ec.presence_of_element_located(_css(".segment table.versions")))
    _wait(driver, lambda d: len(d.find_elements(*_css("img.figure"))) >= 2)
    segments = {e.get_attribute("data-segment") for e in driver.find_elements(*_css(".card.segment"))}
    assert segments == {"listed_market", "listed_statements", "sme"}
    listed = driver.find_element(*_css(".card.segment[data-segment='listed_market']")).text
    served = api.get("/v1/models/segments", headers=bearer(keys["reader"])).json()["items"]
    market = next(s for s in served if s["segment"] == "listed_market")
    assert market["model_name"] in listed and market["champion"]["decision"]["decision"] in listed
    assert driver.find_elements(*_css("#stability [data-segment='listed_market']"))
    # PSI over time: a chart and one row per year the champion scored filings
    stability = api.get("/v1/models/stability", headers=bearer(keys["reader"])).json()["items"]
    history = next(s for s in stability if s["segment"] == "listed_market")["history"]
    _wait(driver, ec.presence_of_element_located(_css("#psi-listed_market canvas")))
    years = driver.find_elements(*_css(".psi-history[data-segment='listed_market'] tr.psi-year"))
    assert [int(row.get_attribute("data-year")) for row in years] == [p["year"] for p in history]
    driver.save_screenshot(str(screenshots / "models.png"))
    driver.execute_script(
        "document.querySelector(\".psi-history[data-segment='listed_market']\").scrollIntoView()"
    )
    driver.save_screenshot(str(screenshots / "models-psi.png"))


def test_korean(driver, signed_in, screenshots):
    from selenium.webdriver.support.ui import Select

    driver.get(f"{signed_in}#/portfolio")
    Select(driver.find_element(*_css("#lang"))).select_by_visible_text("한국어")
    _wait(driver, lambda d: d.find_element(*_css("#nav-portfolio")).text == "포트폴리오")
    _wait(driver, lambda d: "부도확률" in d.find_element(*_css("#portfolio-table thead")).text)
    assert driver.execute_script("return document.documentElement.lang") == "ko"
    driver.save_screenshot(str(screenshots / "portfolio-ko.png"))
    Select(driver.find_element(*_css("#lang"))).select_by_visible_text("English")
    _wait(driver, lambda d: d.find_element(*_css("#nav-portfolio")).text == "Portfolio")


def test_no_request_leaves_loopback_and_nothing_is_blocked(driver, signed_in):
    """Every request the browser made in this module went to the gateway (or stayed in the page: data:, blob:),
    and the page's policy blocked nothing it needed."""
    urls = []
    for entry in driver.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        if message["method"] == "Network.requestWillBeSent":
            urls.append(message["params"]["request"]["url"])
    assert any(url.endswith("/vendor/uplot/uPlot.esm.js") for url in urls)
    origin = signed_in.removesuffix("/app/")
    outside = [url for url in urls if not url.startswith((origin + "/", "data:", "blob:"))]
    assert outside == []
    problems = [
        e["message"]
        for e in driver.get_log("browser")
        if e["level"] == "SEVERE"
        and (
            "Content Security Policy" in e["message"]
            or ("Failed to load" in e["message"] and "/v1/" not in e["message"])
        )
    ]
    assert problems == []


def test_both_dictionaries_have_the_same_keys(driver, signed_in):
    missing = driver.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "import('./js/i18n.js').then((m) => done({ko: Object.keys(m.en).filter((k) => !(k in m.ko)),"
        " en: Object.keys(m.ko).filter((k) => !(k in m.en)), n: Object.keys(m.en).length}));"
    )
    assert missing["ko"] == [] and missing["en"] == [] and missing["n"] > 50


# Without a browser: how the gateway serves the app.


def test_the_app_is_served_with_its_own_policy(api):
    import base64
    import hashlib
    import re

    page = api.get("/app/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    policy = page.headers["content-security-policy"]
    import_map = re.search(r'<script type="importmap">(.*?)</script>', page.text, re.S).group(1)
    digest = base64.b64encode(hashlib.sha256(import_map.encode()).digest()).decode()
    assert (
        f"'sha256-{digest}'" in policy and "default-src 'none'" in policy and "connect-src 'self'" in policy
    )
    assert "unsafe-inline" not in policy and "http" not in policy
    # every URL the page and its import map name is relative (served here)
    assert not re.search(r'(src|href)="(https?:)?//', page.text) and "//" not in import_map
    moved = api.get("/app", follow_redirects=False)
    assert moved.status_code == 308 and moved.headers["location"] == "/app/"
    script = api.get("/app/vendor/preact/preact.mjs")
    assert script.status_code == 200 and script.headers["content-type"].startswith("text/javascript")
    assert "content-security-policy" not in api.get("/v1/scores").headers  # the API's answers are unchanged
    assert api.get("/app/../api/main.py").status_code == 404


def test_vendored_files_match_source_md():
    import hashlib
    import re

    vendor = Path(__file__).resolve().parents[2] / "api" / "static" / "app" / "vendor"
    listed = re.findall(r"^([0-9a-f]{64})  (\S+)$", (vendor / "SOURCE.md").read_text(), re.M)
    assert len(listed) == 5
    for digest, name in listed:
        assert hashlib.sha256((vendor / name).read_bytes()).hexdigest() == digest, name
    for package, licence in (("preact", "MIT License"), ("htm", "Apache License"), ("uplot", "MIT License")):
        assert licence in (vendor / package / "LICENSE").read_text()
