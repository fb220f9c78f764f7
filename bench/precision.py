"""bf16 against fp32 on this CPU, for training and for inference, measured in one run.

Training: the demo's language model (`rnnkit.demo.DEMO_OVERRIDES`: 2 x 256 LSTM, adaptive
softmax over 10,000 words, 12 epochs of the standard library's docstrings) trained with
``train.precision=fp32`` and then ``bf16``, each from the same seed: seconds per epoch
(median), the whole run, and the test perplexity beside the Kneser-Ney trigram's.

Inference, on the bf16-trained run: its test perplexity computed in fp32 and under bf16
autocast (the evaluation the trainer runs, 10 rows carried along the test stream) with the
tokens per second of each, and one keystroke's step (`StepModel`, one row, one thread) in
fp32, under bf16 autocast and in int8, the median of 300.

usage: python bench/precision.py [--out runs/precision] [--epochs 12] [--inference-only RUN]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import torch

from rnnkit.data.batching import StreamBatches
from rnnkit.demo import DEMO_OVERRIDES
from rnnkit.tasks import runner
from rnnkit.tasks.lm.inference import StepModel
from rnnkit.tasks.lm.task import eval_batch, prepare_corpus
from rnnkit.train.precision import cpu_bf16_flags, describe_cpu
from rnnkit.train.trainer import evaluate_loss

sys.path.insert(0, str(Path(__file__).resolve().parent))
from int8_perplexity import keystroke_ms


def train(out: Path, precision: str, epochs: int) -> dict:
    """Train the demo model at ``precision`` into ``out``; its timings and scores."""
    overrides = [*DEMO_OVERRIDES, f"train.epochs={epochs}", f"train.precision={precision}"]
    start = time.perf_counter()
    _, result = runner.train("lm", out, quiet=True, overrides=overrides)
    total = time.perf_counter() - start
    epochs_s = [
        record["seconds"]
        for line in (out / "metrics.jsonl").read_text().splitlines()
        if (record := json.loads(line)).get("kind") == "epoch"
    ]
    test, trigram = result.results["test_ppl"], result.results["ngram_test_ppl"]
    return {"epoch_s": statistics.median(epochs_s), "total_s": total, "test": test,
            "trigram": trigram}  # fmt: skip


def inference(run: Path) -> None:
    lm = runner.load_run(run)
    corpus = prepare_corpus(lm.config.data)
    test = StreamBatches(corpus.test, eval_batch(corpus.test), lm.config.data.bptt)
    print(f"\ninference, {run} ({corpus.test.numel():,} test tokens)")
    for name, bf16 in (("fp32", False), ("bf16", True)):
        start = time.perf_counter()
        with torch.autocast("cpu", torch.bfloat16, enabled=bf16):
            loss = evaluate_loss(lm.model, test)["val_loss"]
        rate = corpus.test.numel() / (time.perf_counter() - start)
        print(f"  {name}  test perplexity {torch.tensor(loss).exp():8.3f}   {rate:9,.0f} tok/s")
    torch.set_num_threads(1)
    for name, int8, bf16 in (("fp32", False, False), ("bf16", False, True), ("int8", True, False)):
        with torch.autocast("cpu", torch.bfloat16, enabled=bf16):
            ms = keystroke_ms(StepModel(lm.model, int8=int8))
        print(f"  one keystroke, {name}: {ms:.3f} ms (one thread, median of 300)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", default="runs/precision", help="folder for the two runs")
    parser.add_argument("--epochs", type=int, default=12)
    parser.add_argument("--inference-only", metavar="RUN", help="skip training; measure RUN")
    args = parser.parse_args()
    print(describe_cpu(), f"(bf16 instructions: {', '.join(cpu_bf16_flags()) or 'none'})")
    if args.inference_only:
        inference(Path(args.inference_only))
        return
    taken = [Path(args.out) / p for p in ("fp32", "bf16") if (Path(args.out) / p).exists()]
    if taken:
        raise SystemExit(f"{taken[0]} exists: choose another --out, or remove it")
    rows = {p: train(Path(args.out) / p, p, args.epochs) for p in ("fp32", "bf16")}
    print(f"\ntraining, the demo's model, {args.epochs} epochs")
    print(f"{'':6} {'s/epoch':>8} {'run s':>7} {'test ppl':>9} {'trigram':>8} {'below':>6}")
    for name, row in rows.items():
        below = 1 - row["test"] / row["trigram"]
        print(f"{name:6} {row['epoch_s']:8.1f} {row['total_s']:7.0f} {row['test']:9.3f} "
              f"{row['trigram']:8.3f} {below:6.1%}")  # fmt: skip
    fp32, bf16 = rows["fp32"], rows["bf16"]
    print(f"bf16: {fp32['epoch_s'] / bf16['epoch_s']:.2f}x faster per epoch, test perplexity "
          f"{bf16['test'] / fp32['test'] - 1:+.2%}")  # fmt: skip
    inference(Path(args.out) / "bf16")


if __name__ == "__main__":
    main()
