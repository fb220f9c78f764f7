"""One tiny task per topology, each learned in seconds on a laptop CPU: a smoke test of the
whole road (data, model, training, metric) and the body of ``rnnkit demo``.

    >>> result = run_toy("parity")
    >>> print(format_results([result]))

Each task makes seeded data (`rnnkit.data.synthetic`), builds a small model
(`rnnkit.models`), measures its metric on held-out data, trains with `fit` (the rnnkit
Trainer: Adam, gradient clipping by norm) and measures again. ``chance`` is what a
model that ignores its input can reach.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import NamedTuple

import torch
from torch import nn

from rnnkit import models
from rnnkit.data import synthetic
from rnnkit.data.batching import TensorBatches
from rnnkit.data.synthetic import Data
from rnnkit.models import IGNORE_INDEX
from rnnkit.models.decoding import greedy
from rnnkit.train import distributed
from rnnkit.train.trainer import TrainConfig, Trainer


class ToyResult(NamedTuple):
    """One row of the demo's table; metrics are on held-out data, higher is better."""

    name: str
    topology: str
    metric_name: str
    chance: float  # what ignoring the input reaches
    before: float  # the metric on the test set before training
    after: float  # and after
    seconds: float  # training time


@dataclass(frozen=True)
class ToyTask:
    """A toy task: how to make its data and model, how to score it, and how long to train."""

    name: str
    topology: str
    metric_name: str
    chance: float
    make_data: Callable[[int, int], Data]  # (samples, seed) -> data
    build: Callable[[], nn.Module]
    metric: Callable[[nn.Module, Data], float]
    steps: int = 300
    lr: float = 1e-2
    batch_size: int = 32
    samples: int = 1024
    test_size: int = 256


def _inputs_only(data: Data) -> Data:
    return {k: v for k, v in data.items() if k != "targets"}


@torch.no_grad()
def accuracy(model: nn.Module, data: Data) -> float:
    """Share of the scored targets (not -100) that the argmax of the logits gets right."""
    output, _ = model(**_inputs_only(data))
    logits = getattr(output, "logits", output)
    targets = data["targets"]
    scored = targets != IGNORE_INDEX
    return float((logits.argmax(-1) == targets)[scored].float().mean())


@torch.no_grad()
def exact_match(model: nn.Module, data: Data) -> float:
    """Share of sequences that greedy decoding reproduces exactly, eos included."""
    targets = data["targets"]
    tokens, state = model.start(**_inputs_only(data))
    generated = greedy(model, tokens, state, max_length=targets.shape[1], eos=model.eos).tokens
    produced = torch.full_like(targets, -1)
    produced[:, : generated.shape[1]] = generated
    right = (produced == targets) | (targets == IGNORE_INDEX)
    return float(right.all(dim=1).float().mean())


def evaluate(task: ToyTask, model: nn.Module, data: Data) -> float:
    was_training = model.training
    model.eval()
    try:
        return task.metric(model, data)
    finally:
        model.train(was_training)


def fit(model: nn.Module, data: Data, task: ToyTask, steps: int, seed: int = 0) -> None:
    """``steps`` Adam steps of the rnnkit Trainer on shuffled mini-batches of ``data``,
    the gradient norm clipped to 1, on the CPU, printing nothing."""
    batches = TensorBatches(data, task.batch_size, seed=seed)
    epochs = -(-steps // len(batches))
    config = TrainConfig(
        epochs=epochs, max_steps=steps, lr=task.lr, clip_norm=1.0, seed=seed, quiet=True
    )
    Trainer(model, config, batches, context=distributed.Context()).fit()


@contextlib.contextmanager
def _one_thread() -> Iterator[None]:
    """Tiny models gain nothing from intra-op threads, and on a busy machine the threads
    wait on each other (tiny ops ran about 100 times slower on a shared 2-core box): run
    on one, then give the caller back its setting."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def run_toy(name: str, seed: int = 0, steps: int | None = None) -> ToyResult:
    """Train task ``name`` (one of `TOY_TASKS`) from scratch; ``steps`` overrides its default.

    The global torch RNG is seeded with ``seed`` inside and restored afterwards, so a run is
    reproducible and leaves the caller's random stream alone; it runs on one intra-op
    thread and restores the caller's thread count too.
    """
    if name not in REGISTRY:
        raise ValueError(f"toy task must be one of {', '.join(TOY_TASKS)}, got {name!r}")
    if steps is not None and (isinstance(steps, bool) or not isinstance(steps, int) or steps < 1):
        raise ValueError(
            f"steps must be a positive int or None (the task's default), got {steps!r}"
        )
    task = REGISTRY[name]
    train, test = synthetic.split(task.make_data(task.samples, seed), task.test_size)
    with torch.random.fork_rng(devices=[]), _one_thread():
        torch.manual_seed(seed)
        model = task.build()
        before = evaluate(task, model, test)
        started = time.perf_counter()
        fit(model, train, task, steps or task.steps, seed=seed)
        seconds = time.perf_counter() - started
        after = evaluate(task, model, test)
    return ToyResult(name, task.topology, task.metric_name, task.chance, before, after, seconds)


def format_results(results: list[ToyResult]) -> str:
    """A plain-text table, one row per task."""
    header = ("task", "topology", "metric", "chance", "before", "after", "seconds")
    rows = [header, *(_cells(result) for result in results)]
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = ("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)) for row in rows)
    return "\n".join(line.rstrip() for line in lines)


def _cells(r: ToyResult) -> tuple[str, ...]:
    scores = (f"{value:.3f}" for value in (r.chance, r.before, r.after))
    return (r.name, r.topology, r.metric_name, *scores, f"{r.seconds:.1f}")


PATTERN_PERIOD, PATTERN_SYMBOLS = 3, 6
COUNT_STARTS, COUNT_LENGTH = 8, 5
COUNT_BOS, COUNT_EOS, COUNT_VOCAB = synthetic.special_tokens(COUNT_STARTS + COUNT_LENGTH - 1)
REVERSE_SYMBOLS, REVERSE_MIN, REVERSE_MAX = 8, 3, 6
REVERSE_BOS, REVERSE_EOS, REVERSE_VOCAB = synthetic.special_tokens(REVERSE_SYMBOLS)
SMALL = {"embedding_dim": 16, "hidden_size": 32, "kind": "gru"}


def _pattern_data(samples: int, seed: int) -> Data:
    data = synthetic.repeated_pattern(
        samples, length=24, period=PATTERN_PERIOD, num_symbols=PATTERN_SYMBOLS, seed=seed
    )
    # The first period - 1 targets cannot be known: neither trained on nor scored.
    data["targets"][:, : PATTERN_PERIOD - 1] = IGNORE_INDEX
    return data


def _reverse_model() -> models.Seq2Seq:
    return models.Seq2Seq(
        REVERSE_VOCAB,
        REVERSE_BOS,
        REVERSE_EOS,
        source_vocab=REVERSE_SYMBOLS,
        bidirectional=True,
        attention="additive",
        **SMALL,
    )


_TASKS = [
    ToyTask(
        name="xor",
        topology="one-to-one",
        metric_name="accuracy",
        chance=0.5,
        make_data=lambda n, seed: synthetic.xor_points(n, seed=seed),
        build=lambda: models.MLP(2, 2, hidden_sizes=(32,)),
        metric=accuracy,
    ),
    ToyTask(
        name="parity",
        topology="many-to-one",
        metric_name="accuracy",
        chance=0.5,
        make_data=lambda n, seed: synthetic.sum_mod(n, min_length=4, max_length=8, seed=seed),
        build=lambda: models.SequenceClassifier(2, vocab_size=2, **(SMALL | {"kind": "lstm"})),
        metric=accuracy,
        batch_size=64,
    ),
    ToyTask(
        name="running_parity",
        topology="many-to-many (tagger)",
        metric_name="step accuracy",
        chance=0.5,
        make_data=lambda n, seed: synthetic.running_parity(n, length=12, seed=seed),
        build=lambda: models.SequenceTagger(2, vocab_size=2, **SMALL),
        metric=accuracy,
        steps=100,
    ),
    ToyTask(
        name="pattern",
        topology="many-to-many (language model)",
        metric_name="next-token accuracy",
        chance=1 / PATTERN_SYMBOLS,
        make_data=_pattern_data,
        build=lambda: models.LanguageModel(PATTERN_SYMBOLS, **SMALL),
        metric=accuracy,
        steps=150,
    ),
    ToyTask(
        name="count",
        topology="one-to-many",
        metric_name="exact sequence",
        chance=1 / COUNT_STARTS,  # always the same count: right for one start in 8
        make_data=lambda n, seed: synthetic.counting(n, COUNT_STARTS, COUNT_LENGTH, seed=seed),
        build=lambda: models.SequenceGenerator(
            COUNT_STARTS, COUNT_VOCAB, COUNT_BOS, COUNT_EOS, **SMALL
        ),
        metric=exact_match,
        steps=100,
    ),
    ToyTask(
        name="reverse",
        topology="many-to-many (encoder-decoder)",
        metric_name="exact sequence",
        # Always the likeliest answer: one of the 8^3 shortest, and a quarter are shortest.
        chance=REVERSE_SYMBOLS**-REVERSE_MIN / (REVERSE_MAX - REVERSE_MIN + 1),
        make_data=lambda n, seed: synthetic.reversal(
            n, REVERSE_MIN, REVERSE_MAX, REVERSE_SYMBOLS, seed=seed
        ),
        build=_reverse_model,
        metric=exact_match,
        batch_size=64,
    ),
]
REGISTRY = {task.name: task for task in _TASKS}
TOY_TASKS = tuple(REGISTRY)
