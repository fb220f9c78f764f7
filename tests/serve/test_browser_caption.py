"""The image captioner's page end to end: headless Chromium (tests/browsing.py) picks a
picture on the page that `create_app` serves for a tiny caption run trained on coloured
squares in corners (tests/captioning.py); the answer shows the picture, the caption the run
gives it, and one attention map a word (and the end) drawn on a canvas. A file that is not
an image shows the server's reason, one over the server's limit says so.

Skipped where /usr/bin/chromium or /usr/bin/chromedriver is missing (`make browser`).
RNNKIT_SCREENSHOT=path.png saves a picture of the page with its caption and maps.
"""

import json
import os
import random
import urllib.error
import urllib.request

import numpy as np
import pytest
import torch
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By

from browsing import chromium, serving, wait
from captioning import corner_image, train_corners
from rnnkit.serve.app import allowed_hosts, create_app
from rnnkit.tasks.caption.routes import MAX_BYTES
from rnnkit.tasks.caption.use import caption, read_run_image
from rnnkit.tasks.runner import load_run

TIMES = "\N{MULTIPLICATION SIGN}"  # of the page's sizes: 32×32

# For each map: its size, how many colours it holds, and the colour at the centre of each
# grid cell, of the map and of the plain picture drawn the same way on a canvas that size.
READ_MAPS = """
const [h, w] = arguments[0];
const picture = document.getElementById("caption-image");
return [...document.querySelectorAll("#attention-maps canvas")].map((map) => {
  const plain = document.createElement("canvas");
  plain.width = map.width;
  plain.height = map.height;
  const context = plain.getContext("2d");
  context.imageSmoothingEnabled = true;
  context.imageSmoothingQuality = "high";
  context.drawImage(picture, 0, 0, map.width, map.height);
  const drawn = map.getContext("2d").getImageData(0, 0, map.width, map.height).data;
  const under = context.getImageData(0, 0, map.width, map.height).data;
  const colours = new Set();
  for (let i = 0; i < drawn.length; i += 4) {
    colours.add((drawn[i] << 16) | (drawn[i + 1] << 8) | drawn[i + 2]);
  }
  const centre = (data, i, j) => {
    const x = Math.floor(((j + 0.5) * map.width) / w);
    const y = Math.floor(((i + 0.5) * map.height) / h);
    const at = 4 * (y * map.width + x);
    return [data[at], data[at + 1], data[at + 2]];
  };
  const centres = (data) => Array.from({ length: h }, (_, i) =>
    Array.from({ length: w }, (_, j) => centre(data, i, j)));
  return { size: [map.width, map.height], colours: colours.size, word: map.dataset.word,
           drawn: centres(drawn), plain: centres(under) };
});
"""


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """A caption run with soft attention on the corner pictures (one thread: the machine
    is shared), and what it is: beam 2, 32x32 colour pictures."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return train_corners(tmp_path_factory.mktemp("corners"))
    finally:
        torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def served(tmp_path_factory, run):
    """Chromium, and the base URL of the app serving the run."""
    app = create_app(run, hosts=allowed_hosts("127.0.0.1"))
    with chromium(tmp_path_factory.mktemp("chromium")) as driver, serving(app) as url:
        yield driver, url


@pytest.fixture
def page(served, run):
    """The driver on a freshly loaded page that has read /healthz (the run's beam)."""
    driver, url = served
    driver.get_log("browser")  # drop what earlier tests left in the console
    driver.get(url)
    beam = driver.find_element(By.ID, "beam")
    expected = str(load_run(run).config.model.beam)
    wait(driver, lambda d: beam.get_attribute("value") == expected, "no beam from /healthz")
    return driver


def picture(folder, corner: str, seed: int = 3):
    """A PNG of a square in ``corner``, written in ``folder``."""
    path = folder / f"{corner.replace(' ', '-')}.png"
    corner_image(corner, random.Random(seed)).save(path)
    return path


def pick(driver, path) -> None:
    driver.find_element(By.ID, "image-file").send_keys(str(path))


def shown_caption(driver) -> str:
    result = driver.find_element(By.ID, "caption-result")
    wait(driver, lambda d: result.is_displayed(), "no caption shown")
    return driver.find_element(By.ID, "caption-text").text


def test_a_picked_image_shows_its_caption_and_where_each_word_looked(page, run, tmp_path):
    loaded = load_run(run)
    assert page.find_element(By.ID, "beam").get_attribute("value") == "2"
    model_line = page.find_element(By.ID, "model").text
    assert f"32{TIMES}32 colour" in model_line
    assert f"soft attention over 8{TIMES}8" in model_line
    path = picture(tmp_path, "bottom right")
    pick(page, path)
    expected = caption(loaded, [read_run_image(loaded, path)], beam=2, attention=True)[0]
    assert expected["caption"] in ("bottom right", "the bottom right corner")  # it learnt
    assert shown_caption(page) == expected["caption"]
    image = page.find_element(By.ID, "caption-image")
    assert image.get_attribute("src").startswith("blob:")  # the user's own file, as given
    wait(page, lambda d: d.execute_script("return arguments[0].naturalWidth", image) == 32)

    words = expected["words"]  # ["bottom", "right", "<eos>"]
    labels = page.find_elements(By.CSS_SELECTOR, "#attention-maps figcaption")
    assert [label.text for label in labels] == [*words[:-1], "(end)"]
    maps = page.execute_script(READ_MAPS, [8, 8])
    assert [m["word"] for m in maps] == words
    for drawn, weights in zip(maps, expected["attention"], strict=True):
        assert drawn["size"] == [112, 112] and drawn["colours"] > 20  # drawn, not one colour
        seen, plain = np.array(drawn["drawn"], float), np.array(drawn["plain"], float)
        assert (seen <= plain + 4).all()  # the veil only darkens
        peak = np.unravel_index(np.argmax(weights), (8, 8))
        assert np.abs(seen[peak] - plain[peak]).max() <= 4  # where the word looked: clear
        # Elsewhere each cell keeps more of its light the more the word looked there.
        lit = plain.sum(-1) >= 60  # cells bright enough to tell (the background: about 86)
        kept = seen.sum(-1)[lit] / plain.sum(-1)[lit]
        assert lit.sum() >= 16 and np.corrcoef(kept, np.array(weights)[lit])[0, 1] > 0.95
    assert maps[0]["drawn"] != maps[-1]["drawn"]  # each word's own weights

    # Hovering a word of the caption picks out its map.
    figures = page.find_elements(By.CSS_SELECTOR, "#attention-maps .caption-map")
    for i, word in enumerate(page.find_elements(By.CSS_SELECTOR, "#caption-text .caption-word")):
        ActionChains(page).move_to_element(word).perform()
        lit = [j for j, f in enumerate(figures) if "lit" in f.get_attribute("class").split()]
        assert lit == [i]
    assert not page.find_element(By.ID, "no-attention").is_displayed()
    assert not page.find_element(By.ID, "error").is_displayed()
    if shot := os.environ.get("RNNKIT_SCREENSHOT"):
        assert page.save_screenshot(shot), f"could not save a screenshot to {shot}"
    assert page.get_log("browser") == []  # no script errors, no failed requests


def test_a_file_that_is_not_an_image_shows_the_servers_reason(page, served, tmp_path):
    pick(page, picture(tmp_path, "top left"))
    assert shown_caption(page) in ("top left", "the top left corner")
    notes = tmp_path / "notes.txt"
    notes.write_text("not an image at all")
    request = urllib.request.Request(served[1] + "caption", data=notes.read_bytes())
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=10)
    assert refused.value.code == 422
    reason = json.loads(refused.value.read())["detail"]
    assert reason == "the upload is not an image Pillow can read (not a format it knows)"
    pick(page, notes)
    error = page.find_element(By.ID, "error")
    wait(page, lambda d: error.is_displayed(), "no error line shown")
    assert error.text == reason
    assert not page.find_element(By.ID, "caption-result").is_displayed()


def test_an_image_over_the_servers_limit_says_so(page, tmp_path):
    big = tmp_path / "big.png"
    big.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(MAX_BYTES))
    pick(page, big)
    error = page.find_element(By.ID, "error")
    wait(page, lambda d: error.is_displayed(), "no error line shown")
    assert "over the size the server takes" in error.text
