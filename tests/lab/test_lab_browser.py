"""The report in a real browser: Debian's chromium, headless, driven by playwright.

Loads the tiny report from disk (offline), moves a slider and sees the plot change, checks
the explorer's f and f' against the catalogue, toggles a training plot's series, and fails on
any console error. Skips, saying why, where playwright, plotly or chromium is missing.
"""

import shutil
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("plotly", reason="plotly (lab extra) draws the interactive page")
sync_api = pytest.importorskip(
    "playwright.sync_api", reason="playwright (dev extra) drives the browser")

from relukit import catalogue  # noqa: E402
from relukit.lab.sections.atlas import EXPLORER  # noqa: E402

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]

pytestmark = [
    pytest.mark.skipif(not Path(CHROMIUM).exists(),
                       reason="no chromium browser here: `apt-get install -y chromium` "
                              "(.ci/run does it)"),
    pytest.mark.xdist_group("browser"),
]

XS = -6 + 0.05 * np.arange(241)


@pytest.fixture(scope="module")
def page(tiny_report):
    out, index = tiny_report
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        pg = browser.new_page(viewport={"width": 1100, "height": 900})
        errors = []
        pg.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        pg.on("pageerror", lambda e: errors.append(str(e)))
        requests = []
        pg.on("request", lambda r: requests.append(r.url))
        pg.goto(Path(index).resolve().as_uri())
        pg.wait_for_selector("#explore-elu .main-svg", timeout=60_000)
        pg.errors, pg.requests = errors, requests
        yield pg
        browser.close()


def _y(page, name, trace):
    return np.array(page.evaluate(
        f"() => document.getElementById('explore-{name}').data[{trace}].y"), dtype=float)


def test_explorer_draws_the_catalogues_f_and_derivative(page):
    for name in EXPLORER:
        act = catalogue.get(name)
        assert np.allclose(_y(page, name, 0), act(XS), rtol=1e-9, atol=1e-12), name
        assert np.allclose(_y(page, name, 1), act.derivative(XS), rtol=1e-9, atol=1e-12), name


def test_moving_a_slider_redraws_the_plot(page):
    before_svg = page.inner_html("#explore-elu .main-svg")
    page.eval_on_selector("#explore-elu-alpha",
                          "s => { s.value = '2'; s.dispatchEvent(new Event('input')); }")
    page.wait_for_function(
        "() => document.getElementById('explore-elu').data[0].y[0] < -1.5")
    assert np.allclose(_y(page, "elu", 0), catalogue.get("elu")(XS, alpha=2.0), rtol=1e-9)
    assert np.allclose(_y(page, "elu", 1), catalogue.get("elu").derivative(XS, alpha=2.0),
                       rtol=1e-9)
    assert page.inner_html("#explore-elu .main-svg") != before_svg  # the drawing changed
    assert page.text_content("#explore-elu-alpha-value") == "2"


def test_training_plots_are_interactive(page):
    fig = "#fig-gradient-flow"
    page.wait_for_selector(f"{fig} .plot .main-svg")
    assert page.eval_on_selector(f"{fig} img.static", "e => getComputedStyle(e).display") \
        == "none"  # the interactive plot replaces the PNG on screen
    page.click(f"{fig} .legendtoggle >> nth=0")  # click a legend entry: hide that series
    page.wait_for_function(
        "() => document.querySelector('#fig-gradient-flow .plot').data[0].visible"
        " === 'legendonly'")


def test_no_console_errors_and_nothing_fetched(page):
    assert page.errors == []
    assert all(u.startswith(("file:", "data:", "about:")) for u in page.requests), page.requests
