"""The trainer on a busy machine: quiet, then with a busy process holding one core, for each
thread policy side by side, measured in one run.

Each measurement is a fresh process (so the thread pool starts as a user's would) that
trains the language model of bench/train_throughput.py for ``--chunks`` chunks and prints
its tokens per second; the busy process is a Python loop this script starts before and
stops after. The policies are ``RNNKIT_THREADS=all`` (one thread per core, whatever else
runs), ``RNNKIT_THREADS=1`` (what the default can at best keep with one core busy) and the
default, `rnnkit.train.threads.ThreadPolicy` (the cores others leave free).
The ratios are each policy's busy rate over its own quiet rate, and the default's quiet
rate over all's (its cost on a quiet machine).

Measurements alternate between the policies, ``--rounds`` times each, and the medians
count.

usage: python bench/contention.py [--chunks 24] [--rounds 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parent
POLICIES = {"all threads": "all", "one thread": "1", "default (free cores)": ""}
WORKER = """
import sys, torch
sys.path.insert(0, {bench!r})
from train_throughput import BATCH, BPTT, VOCAB, build, trainer_run
from rnnkit.data.batching import StreamBatches
stream = torch.randint(VOCAB, (BATCH * BPTT * {chunks} + 1,),
                       generator=torch.Generator().manual_seed(0))
device = torch.device("cpu")
print(trainer_run(build(0, device), StreamBatches(stream, BATCH, BPTT), device))
"""


def rate(policy: str, chunks: int) -> float:
    env = {k: v for k, v in os.environ.items() if k not in ("RNNKIT_THREADS", "OMP_NUM_THREADS")}
    if policy:
        env["RNNKIT_THREADS"] = policy
    code = WORKER.format(bench=str(BENCH), chunks=chunks)
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    if out.returncode:
        raise SystemExit(f"the worker failed:\n{out.stderr}")
    return float(out.stdout.split()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--chunks", type=int, default=24, help="chunks each measurement trains")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    def medians() -> dict[str, float]:
        rates: dict[str, list[float]] = {name: [] for name in POLICIES}
        for _ in range(args.rounds):
            for name, policy in POLICIES.items():
                rates[name].append(rate(policy, args.chunks))
        return {name: statistics.median(found) for name, found in rates.items()}

    quiet = medians()
    busy_loop = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        busy = medians()
    finally:
        busy_loop.kill()
        busy_loop.wait()
    print(f"{os.cpu_count()} cores; LSTM language model, {args.chunks} chunks, median of "
          f"{args.rounds}; tokens/s")  # fmt: skip
    print(f"{'':<24} {'quiet':>9} {'one core busy':>14} {'busy/quiet':>11}")
    for name in POLICIES:
        print(f"{name:<24} {quiet[name]:9,.0f} {busy[name]:14,.0f} "
              f"{busy[name] / quiet[name]:11.2f}")  # fmt: skip
    default, every = quiet["default (free cores)"], quiet["all threads"]
    print(f"default/all threads, quiet: {default / every:.3f}   (target >= 0.95; busy/quiet "
          f">= 0.5)")  # fmt: skip


if __name__ == "__main__":
    main()
