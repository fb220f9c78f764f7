"""The two long-memory problems, defined once: their data and their model.

Both ``rnnkit diagnose`` (the gradient-flow experiments) and the trainable tasks
``rnnkit train adding`` / ``rnnkit train copy`` read them from here, so ``length`` means the
same everywhere: T, the steps of every sequence.

- adding (Hochreiter & Schmidhuber, 1997): sum the two marked values of T numbers; a
  `SequenceRegressor` over (value, marker) pairs. Predicting 1 every time scores a mean
  squared error of about 0.167.
- copy (Arjovsky et al., 2016): recall ``NUM_COPY`` symbols after T - 2 * NUM_COPY blank
  steps; a `SequenceTagger` over token ids. A memoryless model scores
  NUM_COPY * log(NUM_SYMBOLS) / T nats per step.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from torch import nn

from rnnkit.data import synthetic
from rnnkit.layers import Kind
from rnnkit.models import SequenceRegressor, SequenceTagger

NUM_COPY, NUM_SYMBOLS = 10, 8  # copy-memory: symbols to remember, size of their alphabet


@dataclass(frozen=True)
class Problem:
    """A long-memory problem: ``make(n, length, seed)`` data and ``model(kind, ...)``."""

    name: str
    shortest: int  # the smallest length T it is defined for
    make_data: Callable[[int, int, int], synthetic.Data]
    build: Callable[..., nn.Module]

    def make(self, n: int, length: int, seed: int = 0) -> synthetic.Data:
        """n sequences of T = ``length`` steps, from ``seed``."""
        if length < self.shortest:
            raise ValueError(f"{self.name}: length must be at least {self.shortest}, got {length}")
        return self.make_data(n, length, seed)

    def model(
        self, kind: Kind, hidden_size: int, num_layers: int = 1, dropout: float = 0.0
    ) -> nn.Module:
        return self.build(kind=kind, hidden_size=hidden_size, num_layers=num_layers,
                          dropout=dropout)  # fmt: skip


def _copy(n: int, length: int, seed: int) -> synthetic.Data:
    return synthetic.copy_memory(n, length - 2 * NUM_COPY, NUM_COPY, NUM_SYMBOLS, seed=seed)


ADDING = Problem(
    "adding",
    shortest=2,
    make_data=lambda n, length, seed: synthetic.adding_problem(n, length, seed),
    build=lambda **layer: SequenceRegressor(input_size=2, **layer),
)
COPY = Problem(
    "copy",
    shortest=2 * NUM_COPY + 1,
    make_data=_copy,
    # The blank and the symbols are the classes; the delimiter is one more input id.
    build=lambda **layer: SequenceTagger(NUM_SYMBOLS + 1, vocab_size=NUM_SYMBOLS + 2, **layer),
)
PROBLEMS = {problem.name: problem for problem in (ADDING, COPY)}
