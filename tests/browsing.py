"""What the headless-browser tests share: Chromium driven by Selenium, and an app served by
uvicorn on a free localhost port in a thread.

    with chromium(profile_dir) as driver, serving(create_app(run)) as url:
        driver.get(url)
        wait(driver, lambda d: ..., "what did not happen")

`chromium` skips the test where /usr/bin/chromium or /usr/bin/chromedriver is missing: `make
browser` installs them, or says why it could not in .venv/browser-unavailable. Selenium
Manager never runs (the driver's path is given), so nothing is downloaded. The test modules
import this one by name: pytest puts tests/, the folder of the root conftest.py, on sys.path.
"""

import os
import socket
import threading
import time
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import pytest
import uvicorn
from selenium import webdriver
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.support.ui import WebDriverWait

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
UNAVAILABLE = Path(__file__).resolve().parents[1] / ".venv" / "browser-unavailable"
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
VIEWPORT = (900, 560)  # the page's size in CSS pixels, for the screenshot
WAIT_S = 10


def missing_browser() -> str:
    """Why the browser cannot run here, or "" when it can."""
    missing = [str(p) for p in (CHROMIUM, CHROMEDRIVER) if not os.access(p, os.X_OK)]
    if not missing:
        return ""
    reason = f"{' and '.join(missing)} missing (`make browser` installs them)"
    if UNAVAILABLE.is_file():
        reason += f": {UNAVAILABLE.read_text().strip()}"
    return reason


@contextmanager
def chromium(profile: Path, extra_args: Sequence[str] = ()) -> Iterator[webdriver.Chrome]:
    """Headless Chromium with its profile in ``profile``, its viewport `VIEWPORT`, its
    console's errors kept for ``get_log("browser")``; the test is skipped without one.
    ``extra_args``: more command-line switches (a fake microphone, ...)."""
    if reason := missing_browser():
        pytest.skip(reason)
    options = Options()
    options.binary_location = str(CHROMIUM)
    options.set_capability("goog:loggingPrefs", {"browser": "SEVERE"})  # the console's errors
    for arg in [*CHROMIUM_ARGS, f"--user-data-dir={profile}", *extra_args]:
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(executable_path=str(CHROMEDRIVER)), options=options)
    try:
        # The window's size counts the browser's own frame: add it to get the viewport wanted.
        frame = driver.execute_script("return [outerWidth - innerWidth, outerHeight - innerHeight]")
        driver.set_window_size(VIEWPORT[0] + frame[0], VIEWPORT[1] + frame[1])
        yield driver
    finally:
        driver.quit()


@contextmanager
def serving(app) -> Iterator[str]:
    """The base URL (``http://127.0.0.1:PORT/``) of ``app`` served by uvicorn in a thread,
    once its ``/healthz`` answers; the server is stopped on the way out."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))  # the port is held from here on: no race for a free one
    url = f"http://127.0.0.1:{sock.getsockname()[1]}/"
    uv = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
    thread = threading.Thread(target=uv.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + WAIT_S
    while True:
        try:
            with urllib.request.urlopen(url + "healthz", timeout=1) as response:
                assert response.status == 200
                break
        except OSError:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"the server at {url} did not come up") from None
            time.sleep(0.02)
    try:
        yield url
    finally:
        uv.should_exit = True
        thread.join(WAIT_S)
        sock.close()
    assert not thread.is_alive(), "the server did not stop"


def wait(driver, condition, message: str = ""):
    """``condition(driver)`` once it is true, checked every 20 ms (Selenium's default: 500)."""
    return WebDriverWait(driver, WAIT_S, poll_frequency=0.02).until(condition, message)
