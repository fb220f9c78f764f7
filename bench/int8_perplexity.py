"""What int8 dynamic quantization costs a trained language model, measured on its test split.

Reads the test split of the run's own text source (the same fixed split as training) with
the run's saved vocabulary, and scores it with the serving path (`StepModel`, state carried
token to token over 10 parallel rows) in float32 and in int8. Prints both perplexities, the
relative cost, and one-keystroke latency of both on one thread.

usage: python bench/int8_perplexity.py RUN [--tokens 20000]
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from rnnkit.data.sources import load_documents, split_documents
from rnnkit.data.tokenizers import encode_documents
from rnnkit.tasks.lm.inference import StepModel, perplexity
from rnnkit.tasks.runner import load_run


def keystroke_ms(step: StepModel, rounds: int = 300) -> float:
    """Median time of one step for one row from a non-zero state."""
    _, states = step([[1, 5, 6, 7]], [None])
    times = []
    for i in range(rounds):
        start = time.perf_counter()
        step([[2 + i % 50]], states)
        times.append((time.perf_counter() - start) * 1e3)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("run", help="a word-level rnnkit train lm run")
    parser.add_argument("--tokens", type=int, default=20000, help="test tokens scored (0: all)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    lm = load_run(args.run)
    data = lm.config.data
    documents = load_documents(data.source, column=data.column, table=data.table)
    _, _, test = split_documents(documents)
    stream = torch.tensor(encode_documents(lm.tokenizer, [d.text for d in test]))
    if args.tokens:
        stream = stream[: args.tokens]
    results = {}
    for name, int8 in (("float32", False), ("int8", True)):
        step = StepModel(lm.model, int8=int8)
        start = time.perf_counter()
        results[name] = perplexity(step, stream)
        seconds = time.perf_counter() - start
        ms = keystroke_ms(step)
        print(f"{name:<8} test perplexity {results[name]:8.2f}   one step {ms:.3f} ms   "
              f"({stream.numel():,} tokens in {seconds:.0f} s)")  # fmt: skip
    cost = results["int8"] / results["float32"] - 1
    print(f"int8 costs {cost:+.2%} perplexity on {args.run}")


if __name__ == "__main__":
    main()
