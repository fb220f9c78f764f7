"""What the benches that compare a task's variants share: ``--variant NAME=K=V,...`` and
training one variant from scratch into a folder, timed."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path


def parse_variant(text: str) -> tuple[str, list[str]]:
    """``NAME=SECTION.KEY=VALUE[,SECTION.KEY=VALUE]`` -> (NAME, settings)."""
    name, _, settings = text.partition("=")
    if not name or not settings:
        raise SystemExit(f"--variant {text!r}: write NAME=SECTION.KEY=VALUE[,SECTION.KEY=VALUE]")
    return name, settings.split(",")


def train(task: str, data: str, settings: list[str], folder: Path) -> tuple[dict, float]:
    """``rnnkit train TASK --data DATA SETTINGS`` into ``folder``: its results.json and the
    seconds the whole command took."""
    command = [sys.executable, "-m", "rnnkit", "train", task, "--quiet",
               "--data", data, "--out", str(folder), *settings]  # fmt: skip
    start = time.perf_counter()
    if subprocess.run(command, stdout=subprocess.DEVNULL).returncode:
        raise SystemExit(f"stopped: {' '.join(command[2:])} failed (its error is above)")
    seconds = time.perf_counter() - start
    return json.loads((folder / "results.json").read_text()), seconds
