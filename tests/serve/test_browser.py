"""The autocomplete page end to end: headless Chromium, driven by Selenium, types into the page
that `create_app` serves, picks a suggestion with the keyboard, and the pick reaches the store.

One server (uvicorn on a free localhost port, in a thread) and one browser serve the whole
module (both from tests/browsing.py). Skipped where /usr/bin/chromium or /usr/bin/chromedriver
is missing: `make browser` installs them, or says why it could not in
.venv/browser-unavailable. Selenium Manager never runs (the driver's path is given), so
nothing is downloaded.

RNNKIT_SCREENSHOT=path.png saves a picture of the page with its suggestions open.
"""

import os
import sqlite3
from contextlib import closing
from pathlib import Path

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

from browsing import chromium, serving, wait
from rnnkit.serve.app import allowed_hosts, create_app

QUERY = "what is the best food to eat in las"


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    with chromium(tmp_path_factory.mktemp("chromium")) as driver:
        yield driver


@pytest.fixture(scope="module")
def server(vegas_run, tmp_path_factory):
    """The base URL of `create_app(vegas_run)` served by uvicorn, and its store, as
    ``rnnkit serve RUN --feedback`` serves it."""
    store = tmp_path_factory.mktemp("store") / "queries.db"
    app = create_app(vegas_run, store=store, feedback=True, hosts=allowed_hosts("127.0.0.1"))
    with serving(app) as url:
        yield url, store


@pytest.fixture
def page(browser, server):
    """The driver on a freshly loaded page, its search box focused."""
    browser.get_log("browser")  # drop what earlier tests left in the console
    browser.get(server[0])
    box = browser.find_element(By.CSS_SELECTOR, "[role=combobox]")
    wait(browser, lambda d: d.switch_to.active_element == box)
    return browser


def box(driver):
    return driver.find_element(By.CSS_SELECTOR, "[role=combobox]")


def listbox(driver):
    return driver.find_element(By.CSS_SELECTOR, "[role=listbox]")


def options(driver):
    return driver.find_elements(By.CSS_SELECTOR, "[role=listbox] [role=option]")


def type_slowly(driver, text: str) -> None:
    """One keystroke per WebDriver call, so the page sees the text grow as a user's would."""
    field = box(driver)
    for key in text:
        field.send_keys(key)


def set_text(driver, text: str) -> None:
    """The box holds ``text`` at once, as after a paste."""
    driver.execute_script(
        "arguments[0].value = arguments[1];"
        "arguments[0].dispatchEvent(new Event('input', {bubbles: true}));",
        box(driver),
        text,
    )


def wait_for_list(driver, query: str) -> list:
    """The options once the open list answers ``query`` (and not a query typed before it)."""
    wait(
        driver,
        lambda d: listbox(d).get_attribute("data-query") == query and listbox(d).is_displayed(),
        f"no suggestions shown for {query!r}",
    )
    return options(driver)


def selected(driver) -> list[int]:
    """The indices of the options marked aria-selected, checked against aria-activedescendant."""
    opts = options(driver)
    marked = [i for i, o in enumerate(opts) if o.get_attribute("aria-selected") == "true"]
    active = box(driver).get_attribute("aria-activedescendant")
    assert [opts[i].get_attribute("id") for i in marked] == ([active] if active else [])
    return marked


def stored_count(store: Path, text: str) -> int:
    """How often ``text`` was accepted: its rows in the store's ``feedback`` table (waiting
    for admission), read with sqlite3 directly."""
    if not store.exists():
        return 0
    with closing(sqlite3.connect(store)) as db:
        sql = "SELECT COUNT(*) FROM feedback WHERE completion = ?"
        return db.execute(sql, (text,)).fetchone()[0]


def test_accepting_a_suggestion_fills_the_box_and_records_it(page, server):
    type_slowly(page, QUERY)
    first = wait_for_list(page, QUERY)[0]
    assert first.get_attribute("data-text") == QUERY + " vegas"
    assert first.find_element(By.TAG_NAME, "b").text.strip() == "vegas"  # the added part, bold
    assert first.find_element(By.CLASS_NAME, "probability").text.endswith("%")
    assert page.find_elements(By.CSS_SELECTOR, "[role=option].phrase"), "no phrase completions"

    box(page).send_keys(Keys.ARROW_DOWN)
    assert selected(page) == [0]
    if shot := os.environ.get("RNNKIT_SCREENSHOT"):
        assert page.save_screenshot(shot), f"could not save a screenshot to {shot}"
    box(page).send_keys(Keys.ENTER)

    accepted = QUERY + " vegas "
    assert box(page).get_attribute("value") == accepted
    assert page.switch_to.active_element == box(page)
    wait(
        page,
        lambda d: listbox(d).get_attribute("data-query") == accepted,
        "no new suggestions fetched after accepting",
    )
    wait(
        page,
        lambda d: stored_count(server[1], accepted.strip()) >= 1,
        "the accepted completion did not reach the store",
    )
    assert page.find_element(By.ID, "error").is_displayed() is False
    assert page.get_log("browser") == []  # no script errors, no failed requests


def test_a_partial_word_is_completed_and_a_click_accepts(page, server):
    type_slowly(page, "eat in la")
    opts = wait_for_list(page, "eat in la")
    completed = {o.get_attribute("data-text"): o for o in opts}
    assert "eat in las" in completed, list(completed)
    assert completed["eat in las"].find_element(By.TAG_NAME, "b").text == "s"
    completed["eat in las"].click()
    assert box(page).get_attribute("value") == "eat in las "
    assert page.switch_to.active_element == box(page)
    wait(page, lambda d: stored_count(server[1], "eat in las") >= 1, "the click was not recorded")


def test_arrow_keys_wrap_and_escape_closes(page):
    type_slowly(page, "the best food")
    n = len(wait_for_list(page, "the best food"))
    assert n >= 2 and selected(page) == []
    field = box(page)
    field.send_keys(Keys.ARROW_UP)
    assert selected(page) == [n - 1]  # from nothing, up goes to the last one
    field.send_keys(Keys.ARROW_DOWN)
    assert selected(page) == [0]  # and down from the last one wraps to the first
    field.send_keys(Keys.ARROW_UP)
    assert selected(page) == [n - 1]
    field.send_keys(Keys.ESCAPE)
    assert not listbox(page).is_displayed()
    assert field.get_attribute("aria-expanded") == "false"
    assert field.get_attribute("aria-activedescendant") is None
    assert field.get_attribute("value") == "the best food"


def test_an_answer_to_an_older_query_is_dropped(page):
    # The answer for "the best" comes late and cannot be aborted: the page must ignore it.
    page.execute_script("""
        const fetchNow = window.fetch;
        window.fetch = (url, init) => {
            if (!String(url).includes("q=the+best&")) return fetchNow(url, init);
            window.lateAsked = true;
            const late = new Promise((resolve) => setTimeout(resolve, 300));
            return late.then(() => fetchNow(url)).finally(() => { window.lateArrived = true; });
        };
    """)
    set_text(page, "the best")
    wait(page, lambda d: d.execute_script("return window.lateAsked"))
    set_text(page, "the best food")
    wait_for_list(page, "the best food")
    # The page counts the answers it dropped: wait for it to have read the late one.
    wait(page, lambda d: listbox(d).get_attribute("data-dropped") == "1", "not dropped")
    assert listbox(page).get_attribute("data-query") == "the best food"


def test_a_rejected_query_shows_the_servers_message(page):
    set_text(page, "las vegas " * 60)  # over the 500 characters a query may have
    error = page.find_element(By.ID, "error")
    wait(page, lambda d: error.is_displayed(), "no error line shown")
    assert "limit" in error.text
    assert not listbox(page).is_displayed()
