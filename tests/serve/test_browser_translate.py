"""The translator's page end to end: headless Chromium (tests/browsing.py) types two
sentences into the page that `create_app` serves for a tiny translate run, and the answer
lists each sentence with the translation the run gives it; a request the server refuses
shows the server's message. Skipped where Chromium is missing (`make browser`)."""

import json

import pytest
from selenium.webdriver.common.by import By

from browsing import chromium, serving, wait
from rnnkit.serve.app import allowed_hosts, create_app
from rnnkit.tasks import runner
from rnnkit.tasks.runner import load_run
from rnnkit.tasks.translate.use import translate

LINES = ["le chat <b>mange</b>", "le chien & le chat"]


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """A translate run of one epoch on a few pairs: the page needs answers, not skill."""
    folder = tmp_path_factory.mktemp("pairs")
    words = [("le chat mange", "the cat eats"), ("le chien dort", "the dog sleeps"),
             ("le chat dort", "the cat sleeps"), ("le chien mange", "the dog eats")]  # fmt: skip
    (folder / "pairs.txt").write_text("".join(f"{a}\t{b}\n" for a, b in words * 10))
    overrides = [f"data.source={json.dumps(str(folder / 'pairs.txt'))}", "train.epochs=1",
                 "model.hidden_size=8", "model.embedding_dim=8", "data.vocab_size=260",
                 "model.beam=2", "data.val_fraction=0.2", "data.test_fraction=0.2"]  # fmt: skip
    runner.train("translate", folder / "run", overrides=overrides, quiet=True)
    return folder / "run"


@pytest.fixture(scope="module")
def page(tmp_path_factory, run):
    with (chromium(tmp_path_factory.mktemp("chromium")) as driver,
          serving(create_app(run, hosts=allowed_hosts("127.0.0.1"))) as url):  # fmt: skip
        driver.get(url)
        beam = driver.find_element(By.ID, "beam")
        wait(driver, lambda d: beam.get_attribute("value") == "2", "the page did not read /healthz")
        yield driver


def submit(driver, text: str) -> None:
    box = driver.find_element(By.ID, "sentences")
    driver.execute_script("arguments[0].value = arguments[1]", box, text)
    driver.find_element(By.CSS_SELECTOR, "#translate-form button[type=submit]").click()


def test_each_sentence_is_shown_with_its_translation(page, run):
    submit(page, "\n".join(LINES))
    items = wait(page, lambda d: d.find_elements(By.CSS_SELECTOR, "#translations > li"),
                 "no translations")  # fmt: skip
    expected = translate(load_run(run), LINES, beam=2)
    shown = [(i.find_element(By.CLASS_NAME, "from").text, i.find_element(By.CLASS_NAME, "to").text)
             for i in items]  # fmt: skip
    assert shown == list(zip(LINES, expected, strict=True))  # markup stays text
    assert not page.find_elements(By.CSS_SELECTOR, "#translations b")
    assert page.get_log("browser") == []  # no script errors, no failed requests


def test_a_refused_request_shows_the_servers_message(page):
    submit(page, "\n".join(["le chat"] * 33))  # over the 32 one request may carry
    error = page.find_element(By.ID, "error")
    wait(page, lambda d: error.is_displayed(), "no error line shown")
    assert "at most 32 items" in error.text
    assert not page.find_elements(By.CSS_SELECTOR, "#translations > li")
