"""The trainer on a busy machine: quiet, then with a busy process holding one core, for each
thread policy side by side, measured in one run.

Two workloads, each measured in a fresh process (so the thread pool starts as a user's
would):

- the language model of bench/train_throughput.py trained for ``--chunks`` chunks: its
  tokens per second;
- ``rnnkit train forecast`` on US real GDP (statsmodels' ``macrodata``, 203 quarters, written
  to a CSV first) with an 8-quarter horizon and one network (``model.ensemble=1``): small
  work, where a busy machine hurts most;
  the whole command's wall time, the backtest and the statistical baselines included.

The busy process is a Python loop this script starts before and stops after. The policies
are ``RNNKIT_THREADS=all`` (one thread per core, whatever else runs), ``RNNKIT_THREADS=1``
(what the default can at best keep with one core busy) and the default,
`rnnkit.train.threads.ThreadPolicy` (the cores others leave free). The ratios are each
policy's busy speed over its own quiet speed, and the default's quiet speed over all's (its
cost on a quiet machine). Measurements alternate between the policies, ``--rounds`` times
each, and the medians count.

usage: python bench/contention.py [--chunks 24] [--rounds 3] [--only lm|forecast]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))
from forecast_panel import gdp_csv  # noqa: E402

POLICIES = {"all threads": "all", "one thread": "1", "default (free cores)": ""}
LM_WORKER = """
import sys, torch
sys.path.insert(0, {bench!r})
from train_throughput import BATCH, BPTT, VOCAB, build, trainer_run
from rnnkit.data.batching import StreamBatches
stream = torch.randint(VOCAB, (BATCH * BPTT * {chunks} + 1,),
                       generator=torch.Generator().manual_seed(0))
device = torch.device("cpu")
print(trainer_run(build(0, device), StreamBatches(stream, BATCH, BPTT), device))
"""


def _env(policy: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("RNNKIT_THREADS", "OMP_NUM_THREADS")}
    if policy:
        env["RNNKIT_THREADS"] = policy
    return env


def _run(command: list[str], policy: str) -> str:
    out = subprocess.run(command, env=_env(policy), capture_output=True, text=True)
    if out.returncode:
        raise SystemExit(f"the worker failed:\n{out.stderr[-2000:]}")
    return out.stdout


def lm_rate(policy: str, chunks: int) -> float:
    """Tokens per second of the trainer on the language model."""
    code = LM_WORKER.format(bench=str(BENCH), chunks=chunks)
    return float(_run([sys.executable, "-c", code], policy).split()[-1])


def forecast_speed(policy: str, csv: Path) -> float:
    """Runs of ``rnnkit train forecast`` per minute (the inverse of its wall time)."""
    with tempfile.TemporaryDirectory() as folder:
        command = [sys.executable, "-m", "rnnkit", "train", "forecast", "--data", str(csv),
                   "--horizon", "8", "--quiet", "--out", str(Path(folder) / "run"),
                   "model.ensemble=1"]  # fmt: skip
        start = time.perf_counter()
        _run(command, policy)
        return 60 / (time.perf_counter() - start)


def measure(speed: Callable[[str], float], rounds: int) -> tuple[dict, dict]:
    """Median speed of each policy, quiet and with one core busy."""

    def medians() -> dict[str, float]:
        found: dict[str, list[float]] = {name: [] for name in POLICIES}
        for _ in range(rounds):
            for name, policy in POLICIES.items():
                found[name].append(speed(policy))
        return {name: statistics.median(values) for name, values in found.items()}

    quiet = medians()
    busy_loop = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        busy = medians()
    finally:
        busy_loop.kill()
        busy_loop.wait()
    return quiet, busy


def report(title: str, unit: str, quiet: dict, busy: dict, show: Callable[[float], str]) -> None:
    print(f"\n{title} ({unit})")
    print(f"{'':<24} {'quiet':>9} {'one core busy':>14} {'busy/quiet':>11}")
    for name in POLICIES:
        print(f"{name:<24} {show(quiet[name]):>9} {show(busy[name]):>14} "
              f"{busy[name] / quiet[name]:11.2f}")  # fmt: skip
    default, every = quiet["default (free cores)"], quiet["all threads"]
    print(f"default/all threads, quiet: {default / every:.3f}   (target >= 0.95; busy/quiet "
          f">= 0.5)")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--chunks", type=int, default=24, help="chunks each LM measurement trains")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--only", choices=("lm", "forecast"), help="one workload alone")
    args = parser.parse_args()
    print(f"{os.cpu_count()} cores; median of {args.rounds}")
    if args.only != "forecast":
        quiet, busy = measure(lambda policy: lm_rate(policy, args.chunks), args.rounds)
        title = f"LSTM language model, {args.chunks} chunks of the trainer"
        report(title, "tokens/s", quiet, busy, lambda v: f"{v:,.0f}")
    if args.only != "lm":
        with tempfile.TemporaryDirectory() as folder:
            csv = gdp_csv(Path(folder))
            quiet, busy = measure(lambda policy: forecast_speed(policy, csv), args.rounds)
        title = "rnnkit train forecast, US real GDP (203 quarters), horizon 8"
        report(title, "seconds per run", quiet, busy, lambda v: f"{60 / v:.1f}")


if __name__ == "__main__":
    main()
