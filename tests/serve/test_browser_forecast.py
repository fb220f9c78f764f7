"""The forecaster's page end to end: headless Chromium (tests/browsing.py) on the page that
`create_app` serves for a panel run (two series, one network): the series menu lists both,
a forecast of each shows the dates after that series' end in its own units, and a horizon
the run was not trained for shows the server's message.

Skipped where /usr/bin/chromium or /usr/bin/chromedriver is missing (`make browser`).
"""

import json

import numpy as np
import pandas as pd
import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select

from browsing import chromium, serving, wait
from rnnkit.serve.app import allowed_hosts, create_app
from rnnkit.tasks import runner

SERIES = {"north": (1000.0, 60), "south": (3.0, 48)}  # level and months: different ends


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """A tiny panel run (one network, a few steps: the page needs weights, not skill)."""
    folder = tmp_path_factory.mktemp("panel")
    rows = []
    for name, (level, months) in SERIES.items():
        t = np.arange(months)
        values = level * (1 + 0.1 * np.sin(2 * np.pi * t / 12))
        dates = pd.date_range("2010-01-01", periods=months, freq="MS").strftime("%Y-%m-%d")
        rows += [{"unique_id": name, "ds": d, "y": v} for d, v in zip(dates, values, strict=True)]
    pd.DataFrame(rows).to_csv(folder / "panel.csv", index=False)
    overrides = [f"data.source={json.dumps(str(folder / 'panel.csv'))}", "data.horizon=3",
                 "backtest.folds=3", 'backtest.baselines=["naive"]', "model.ensemble=1",
                 "model.hidden_size=8", "train.max_steps=3", "train.quiet=true"]  # fmt: skip
    runner.train("forecast", folder / "run", overrides=overrides, quiet=True)
    return folder / "run"


@pytest.fixture(scope="module")
def page(tmp_path_factory, run):
    with (
        chromium(tmp_path_factory.mktemp("chromium")) as driver,
        serving(create_app(run, hosts=allowed_hosts("127.0.0.1"))) as url,
    ):
        driver.get(url)
        menu = driver.find_element(By.ID, "series")
        wait(driver, lambda d: menu.is_displayed(), "the series menu did not appear")
        yield driver


def submit(driver) -> None:
    driver.find_element(By.CSS_SELECTOR, "#forecast-form button[type=submit]").click()


def table_rows(driver) -> list[list[str]]:
    """The forecast table's cells, read in one script: the page may replace the rows while
    a test polls them."""
    return driver.execute_script(
        "return [...document.querySelectorAll('#table tbody tr')]"
        ".map((tr) => [...tr.cells].map((td) => td.textContent))"
    )


def test_the_series_menu_forecasts_each_series_of_a_panel(page):
    menu = Select(page.find_element(By.ID, "series"))
    assert [option.text for option in menu.options] == list(SERIES)
    for name, (level, months) in SERIES.items():
        menu.select_by_visible_text(name)
        submit(page)
        first = after(months)  # the month after the series' own end
        wait(page, lambda d, first=first: (table_rows(d) or [[""]])[0][0] == first, name)
        rows = table_rows(page)
        assert [row[0] for row in rows] == [after(months, k) for k in range(3)]
        assert 0.5 * level < float(rows[0][1]) < 1.5 * level  # in the series' own units
    assert page.get_log("browser") == []  # no script errors, no failed requests


def test_a_refused_horizon_shows_the_servers_message(page):
    horizon = page.find_element(By.ID, "horizon")
    page.execute_script("arguments[0].max = 99; arguments[0].value = 7", horizon)
    submit(page)
    error = page.find_element(By.ID, "error")
    wait(page, lambda d: error.is_displayed(), "no error line shown")
    assert "this run forecasts 1 to 3 steps, got 7" in error.text


def after(months: int, k: int = 0) -> str:
    """The date k months after the end of a series of ``months`` months from 2010-01."""
    return str((pd.Timestamp("2010-01-01") + pd.DateOffset(months=months + k)).date())
