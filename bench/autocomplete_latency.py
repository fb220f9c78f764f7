"""Latency of one autocomplete keystroke: the state cache and int8 against re-reading the prefix.

The model is the size of a real query-completion model: a 2-layer LSTM with 512 units over a
10,000-word vocabulary (random weights: latency does not depend on what was learned). On one
thread, over many random 12-word queries:

- naive:        re-read the whole prefix (<eos> + 12 words) in float32, top-5 of the last step;
- cache fp32:   `Completer` with the 11-word prefix already cached (the user typed it), the
                12th word followed by a space: one recurrent step, the output layer, top-5;
- cache int8:   the same with int8 dynamic quantization (the target: p50 <= 1 ms, and at
                least 5 times faster than naive).

Also printed: every keystroke of typing whole queries letter by letter (most only filter the
cached next-word distribution by the letters of the word being typed), and the one-step
keystroke with three phrase completions of three words.

usage: python bench/autocomplete_latency.py [--queries 300] [--threads 1]
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from pathlib import Path

import torch

from rnnkit.data.tokenizers import SPECIALS, WordTokenizer
from rnnkit.models import LanguageModel
from rnnkit.tasks.lm import TASK
from rnnkit.tasks.lm.engine import Completer
from rnnkit.tasks.lm.inference import StateCache
from rnnkit.tasks.lm.task import LMConfig
from rnnkit.tasks.lm.use import LoadedLM

VOCAB, HIDDEN, LAYERS, WORDS, BLOCK = 10_000, 512, 2, 12, 20


def word_list(n: int, rng: random.Random) -> list[str]:
    """n distinct lowercase pseudo-words of 2 to 9 letters."""
    words: set[str] = set()
    while len(words) < n:
        words.add("".join(rng.choices("abcdefghijklmnopqrstuvwxyz", k=rng.randint(2, 9))))
    return sorted(words)


def build(seed: int) -> tuple[LoadedLM, list[str]]:
    rng = random.Random(seed)
    words = word_list(VOCAB - len(SPECIALS), rng)
    tokenizer = WordTokenizer([*SPECIALS, *words], lowercase=True)
    torch.manual_seed(seed)
    model = LanguageModel(VOCAB, HIDDEN, HIDDEN, kind="lstm", num_layers=LAYERS).eval()
    lm = LoadedLM(TASK, LMConfig(), model, Path("(random weights)"), {}, tokenizer)
    return lm, words


@torch.inference_mode()
def naive(lm: LoadedLM, text: str, k: int = 5) -> list[int]:
    """What a first script does on every keystroke: read the prefix again, take the top k."""
    ids = torch.tensor([[lm.tokenizer.eos_id, *lm.tokenizer.encode(text)]])
    output, _ = lm.model(ids)
    return output.logits[0, -1].log_softmax(-1).topk(k).indices.tolist()


def timed(fn, *args) -> float:
    start = time.perf_counter()
    fn(*args)
    return (time.perf_counter() - start) * 1e3


def summary(name: str, ms: list[float]) -> str:
    ms = sorted(ms)
    p99 = ms[min(len(ms) - 1, round(0.99 * (len(ms) - 1)))]
    return f"{name:<34} p50 {statistics.median(ms):7.3f} ms   p99 {p99:7.3f} ms   n={len(ms)}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    lm, words = build(args.seed)
    rng = random.Random(args.seed + 1)
    queries = [" ".join(rng.choices(words, k=WORDS)) for _ in range(args.queries + BLOCK)]
    fp32, int8 = Completer(lm), Completer(lm, int8=True)
    # One step of a keystroke: the 11 words before it are cached (the user typed them), the
    # 12th is new. Blocks of BLOCK queries per way, in turn: each way runs warm, as a busy
    # server does, and all of them see the same machine conditions over the run.
    ways = {
        "naive": lambda q: naive(lm, q),
        "fp32": lambda q: fp32.complete(q + " ", 5, 0),
        "int8": lambda q: int8.complete(q + " ", 5, 0),
        "phrases": lambda q: int8.complete(q + " ", 5, 3),
    }
    times: dict[str, list[float]] = {name: [] for name in ways}
    for start in range(0, len(queries), BLOCK):
        block = queries[start : start + BLOCK]
        for name, way in ways.items():
            completer = fp32 if name == "fp32" else int8
            completer.cache = StateCache(completer.cache.capacity)  # forget earlier blocks
            for query in block:
                completer.complete(query.rsplit(" ", 1)[0] + " ", 5, 0)
            ms = [timed(way, query) for query in block]
            if start:  # the first block warms up allocators and caches
                times[name] += ms
    typing: list[float] = []
    for query in queries[:20]:  # each typed by a new user: nothing of it is cached
        int8.cache = StateCache(int8.cache.capacity)
        typing += [timed(int8.complete, query[:n], 5, 0) for n in range(1, len(query) + 1)]

    print(f"2x{HIDDEN} LSTM, V={VOCAB:,}, {args.threads} thread(s), {WORDS}-word queries")
    print(summary("naive: re-read the prefix, fp32", times["naive"]))
    print(summary("state cache, fp32 (one step)", times["fp32"]))
    print(summary("state cache + int8 (one step)", times["int8"]))
    print(summary("  + 3 phrase completions", times["phrases"]))
    print(summary("typing letter by letter, int8", typing))
    speedup = statistics.median(times["naive"]) / statistics.median(times["int8"])
    p50 = statistics.median(times["int8"])
    print(f"cache + int8 vs naive: {speedup:.1f}x faster at p50 (target >= 5x); "
          f"p50 {p50:.3f} ms (target <= 1 ms)")  # fmt: skip


if __name__ == "__main__":
    main()
