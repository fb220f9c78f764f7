"""The six toy tasks of ``rnnkit tour``, one per topology, each learned in seconds on a
CPU: seeded data from `rnnkit.data.synthetic`, a small model from `rnnkit.models`, a metric
on held-out data (higher is better) and ``chance``, what a model that ignores its input
can reach. `rnnkit.tasks.toy.tour` trains them and registers each as a task.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

from rnnkit import models
from rnnkit.data import synthetic
from rnnkit.data.synthetic import Data
from rnnkit.models import IGNORE_INDEX
from rnnkit.models.decoding import greedy


@dataclass(frozen=True)
class Toy:
    """A toy task: how to make its data and model, how to score it, and how long to train."""

    name: str
    topology: str
    what: str  # the task in a few words
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
    Toy(
        name="xor",
        topology="one-to-one",
        what="label 2-D points by the XOR of their coordinates' signs",
        metric_name="accuracy",
        chance=0.5,
        make_data=lambda n, seed: synthetic.xor_points(n, seed=seed),
        build=lambda: models.MLP(2, 2, hidden_sizes=(32,)),
        metric=accuracy,
    ),
    Toy(
        name="parity",
        topology="many-to-one",
        what="the sum of a bit sequence modulo 2",
        metric_name="accuracy",
        chance=0.5,
        make_data=lambda n, seed: synthetic.sum_mod(n, min_length=4, max_length=8, seed=seed),
        build=lambda: models.SequenceClassifier(2, vocab_size=2, **(SMALL | {"kind": "lstm"})),
        metric=accuracy,
        batch_size=64,
    ),
    Toy(
        name="running_parity",
        topology="many-to-many (tagger)",
        what="the parity of the bits so far, at every step",
        metric_name="step accuracy",
        chance=0.5,
        make_data=lambda n, seed: synthetic.running_parity(n, length=12, seed=seed),
        build=lambda: models.SequenceTagger(2, vocab_size=2, **SMALL),
        metric=accuracy,
        steps=100,
    ),
    Toy(
        name="pattern",
        topology="many-to-many (language model)",
        what="continue a repeating pattern of symbols",
        metric_name="next-token accuracy",
        chance=1 / PATTERN_SYMBOLS,
        make_data=_pattern_data,
        build=lambda: models.LanguageModel(PATTERN_SYMBOLS, **SMALL),
        metric=accuracy,
        steps=150,
    ),
    Toy(
        name="count",
        topology="one-to-many",
        what="count on from a start number",
        metric_name="exact sequence",
        chance=1 / COUNT_STARTS,  # always the same count: right for one start in 8
        make_data=lambda n, seed: synthetic.counting(n, COUNT_STARTS, COUNT_LENGTH, seed=seed),
        build=lambda: models.SequenceGenerator(
            COUNT_STARTS, COUNT_VOCAB, COUNT_BOS, COUNT_EOS, **SMALL
        ),
        metric=exact_match,
        steps=100,
    ),
    Toy(
        name="reverse",
        topology="many-to-many (encoder-decoder)",
        what="reverse a sequence of symbols",
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
TOYS = {toy.name: toy for toy in _TASKS}
