"""Free localhost ports for tests that start servers (``from net import free_port``: tests/
is on the import path, as the folder of the root conftest.py), and `rnnkit_serve` on one.

A port found free may be taken by another process before our server binds it: `on_free_port`
starts the server again on another port when it says so, instead of failing the test.
"""

from __future__ import annotations

import contextlib
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import httpx

T = TypeVar("T")
TAKEN = ("address already in use", "eaddrinuse", "cannot listen on")  # what servers then say


class PortTaken(Exception):
    """Raised by a ``start`` given to `on_free_port` when its port was taken meanwhile."""


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nothing listens on at ``host`` just now."""
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def taken(output: str) -> bool:
    """Whether a server's ``output`` says its port was in use."""
    return any(sign in output.lower() for sign in TAKEN)


def on_free_port(start: Callable[[int], T], attempts: int = 5) -> T:
    """``start(port)`` on a free port, again on another while it raises `PortTaken`."""
    for _ in range(attempts - 1):
        try:
            return start(free_port())
        except PortTaken:
            continue
    return start(free_port())


def rnnkit_serve(run: object, *options: object) -> tuple[subprocess.Popen, str]:
    """``rnnkit serve RUN --port PORT OPTIONS`` on a free port, once GET /healthz answers:
    (the process, with its stdout and stderr piped, and the URL). Stop it yourself."""
    rnnkit = Path(sys.executable).parent / "rnnkit"

    def start(port: int) -> tuple[subprocess.Popen, str]:
        command = [rnnkit, "serve", run, "--port", port, *options]
        process = subprocess.Popen(
            [str(c) for c in command], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while process.poll() is None and time.monotonic() < deadline:
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                    return process, url
            time.sleep(0.05)
        if process.poll() is None:
            process.kill()
        _, err = process.communicate()
        if taken(err):
            raise PortTaken(port)
        raise AssertionError(f"rnnkit serve did not come up ({process.returncode}): {err}")

    return on_free_port(start)
