"""The classifier's page end to end: headless Chromium (tests/browsing.py) types two texts
into the page that `create_app` serves for a tiny attention-pooled text classifier, and the
answer shows each text's label, its class probabilities, and its words highlighted by their
attention weights; a request the server refuses shows the server's message.

Skipped where /usr/bin/chromium or /usr/bin/chromedriver is missing (`make browser`).
RNNKIT_SCREENSHOT=path.png saves a picture of the page with its results.
"""

import json
import os
import random

import pytest
from selenium.webdriver.common.by import By

from browsing import chromium, serving, wait
from rnnkit.serve.app import allowed_hosts, create_app
from rnnkit.tasks import runner
from rnnkit.tasks.runner import load_run

LINES = ["a wonderful film, the plot <b>very</b> good", "an awful & boring story"]
READ = 10  # tokens the network reads of a text: the first line has more


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    with chromium(tmp_path_factory.mktemp("chromium")) as driver:
        yield driver


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """A word-level classify run with attention pooling: a review's label is its one
    opinion word among fillers (1 epoch of a 1x8 GRU: the page needs weights, not skill)."""
    folder = tmp_path_factory.mktemp("reviews")
    rng = random.Random(0)
    opinions = {"pos": ["wonderful", "good"], "neg": ["awful", "boring"]}
    fillers = ["a", "the", "film", "plot", "story", "very", "an", "of"]
    rows = [(label, rng.choice(opinions[label])) for label in ["pos", "neg"] * 30]
    lines = [f"{' '.join(rng.choices(fillers, k=5))} {word},{label}" for label, word in rows]
    (folder / "reviews.csv").write_text("\n".join(["text,label", *lines]) + "\n")
    overrides = [f"data.source={json.dumps(str(folder / 'reviews.csv'))}", "data.min_count=1",
                 "model.pooling=attention", "model.hidden_size=8", "model.embedding_dim=8",
                 "model.num_layers=1", "model.head_size=none", "model.head_dropout=0",
                 "train.epochs=1", f"data.max_length={READ}"]  # fmt: skip
    runner.train("classify", folder / "run", overrides=overrides, quiet=True)
    return folder / "run"


@pytest.fixture(scope="module")
def server(run):
    with serving(create_app(run, hosts=allowed_hosts("127.0.0.1"))) as url:
        yield url


@pytest.fixture
def page(browser, server):
    """The driver on a freshly loaded page, once it knows the run can explain."""
    browser.get_log("browser")  # drop what earlier tests left in the console
    browser.get(server)
    hint = browser.find_element(By.ID, "explained")
    wait(browser, lambda d: hint.is_displayed(), "the page did not see that the run explains")
    return browser


def submit(driver) -> None:
    driver.find_element(By.CSS_SELECTOR, "#classify-form button[type=submit]").click()


def test_each_text_shows_its_label_probabilities_and_weighed_words(page, run):
    page.find_element(By.ID, "inputs").send_keys("\n".join(LINES))
    submit(page)
    items = wait(page, lambda d: d.find_elements(By.CSS_SELECTOR, "#results > li"), "no results")
    assert len(items) == len(LINES)
    tokenizer = load_run(run).tokenizer
    for item, line in zip(items, LINES, strict=True):
        assert item.find_element(By.CLASS_NAME, "predicted").text in ("pos", "neg")
        shares = [p.text for p in item.find_elements(By.CSS_SELECTOR, ".probability .value")]
        assert len(shares) == 2 and all(s.endswith("%") for s in shares)
        assert sum(float(s.rstrip("%")) for s in shares) == pytest.approx(100, abs=0.2)
        marks = item.find_elements(By.CSS_SELECTOR, "mark.token")
        words = tokenizer.words(line)
        assert [m.text for m in marks] == words[:READ]
        unread = item.find_elements(By.CLASS_NAME, "unread")
        assert [u.text for u in unread] == ([f"… {len(words) - READ} more not read"]
                                            if len(words) > READ else [])  # fmt: skip
        weights = [float(m.get_attribute("data-weight")) for m in marks]
        assert sum(weights) == pytest.approx(1, abs=1e-5)
        assert all(m.get_attribute("title").endswith("% of the attention") for m in marks)
    assert not page.find_elements(By.CSS_SELECTOR, "#results b")  # text stays text
    assert not page.find_element(By.ID, "error").is_displayed()
    if shot := os.environ.get("RNNKIT_SCREENSHOT"):
        assert page.save_screenshot(shot), f"could not save a screenshot to {shot}"
    assert page.get_log("browser") == []  # no script errors, no failed requests


def test_a_refused_request_shows_the_servers_message(page):
    page.find_element(By.ID, "inputs").send_keys(LINES[0])
    submit(page)
    wait(page, lambda d: d.find_elements(By.CSS_SELECTOR, "#results > li"), "no results")
    # 65 texts: over the 64 one request may carry, which the server refuses with a 422.
    page.execute_script("arguments[0].value = arguments[1]", page.find_element(By.ID, "inputs"),
                        "\n".join(["a good film"] * 65))  # fmt: skip
    submit(page)
    error = page.find_element(By.ID, "error")
    wait(page, lambda d: error.is_displayed(), "no error line shown")
    assert "at most 64 items" in error.text
    assert not page.find_elements(By.CSS_SELECTOR, "#results > li")  # no stale answer
