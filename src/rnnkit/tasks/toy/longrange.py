"""Long-range memory benchmarks as trainable tasks: ``rnnkit train adding`` and ``... copy``.

Both are the classic tests of whether a recurrent network can carry information across
many steps, where the Elman RNN's gradient vanishes and the LSTM and GRU keep it:

- adding (Hochreiter & Schmidhuber, 1997): sum the two marked values of a sequence of T
  numbers; predicting 1 every time scores a mean squared error of about 0.167.
- copy (Arjovsky et al., 2016): reproduce 10 symbols after ``length - 20`` blank steps; a
  memoryless model scores 10 log(8) / length nats per step.

``data.length`` is T, the steps of every sequence, as in ``rnnkit diagnose --length``; the
problems themselves are defined once in `rnnkit.diagnostics.problems`.

    rnnkit train adding --out runs/adding model.kind=gru data.length=200
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from torch import nn

from rnnkit.config import RecurrentConfig
from rnnkit.data.batching import TensorBatches
from rnnkit.diagnostics import problems
from rnnkit.diagnostics.problems import Problem
from rnnkit.layers import Kind
from rnnkit.tasks.base import Built, Task, register
from rnnkit.train.distributed import Context
from rnnkit.train.trainer import TrainConfig


@dataclass
class ModelConfig(RecurrentConfig):
    kind: Kind = "lstm"
    hidden_size: int = 64


@dataclass
class DataConfig:
    length: int = 100  # T, the steps of each sequence (copy: the delay is T - 20)
    train_samples: int = 8192
    val_samples: int = 1024
    seed: int = 0  # the data's own seed; train.seed seeds the model and the shuffling


def _train_defaults() -> TrainConfig:
    return TrainConfig(epochs=10, batch_size=64, lr=5e-3, clip_norm=1.0, log_every=10)


@dataclass
class LongRangeConfig:
    model: ModelConfig = field(default_factory=ModelConfig)
    data: DataConfig = field(default_factory=DataConfig)
    train: TrainConfig = field(default_factory=_train_defaults)


class LongRangeTask(Task):
    """A long-memory problem of `rnnkit.diagnostics.problems` as a trainable task."""

    config_class = LongRangeConfig

    def __init__(self, problem: Problem, summary: str) -> None:
        self.problem, self.name, self.summary = problem, problem.name, summary

    def upgrade(self, saved: dict[str, Any], version: int) -> dict[str, Any]:
        saved = super().upgrade(saved, version)
        data = saved.get("data", {})
        if version < 2 and self.problem is problems.COPY and "length" in data:
            # Format 1 kept copy's blank delay in data.length; it is T now.
            saved = saved | {"data": data | {"length": data["length"] + 2 * problems.NUM_COPY}}
        return saved

    def model(self, config: LongRangeConfig, artefacts: dict[str, Any]) -> nn.Module:
        return self.problem.model(**config.model.layer_args())

    def build(self, config: LongRangeConfig, context: Context) -> Built:
        data = config.data
        if data.train_samples < 1 or data.val_samples < 1:
            raise ValueError("data.train_samples and data.val_samples must be positive")
        train = self.problem.make(data.train_samples, data.length, data.seed)
        val = self.problem.make(data.val_samples, data.length, data.seed + 1)
        shard = {"rank": context.rank, "world_size": context.world_size}
        batch = config.train.batch_size
        return Built(
            self.model(config, {}),
            TensorBatches(train, batch, seed=config.train.seed, **shard),
            TensorBatches(val, batch, shuffle=False, **shard),
        )


ADDING = register(
    LongRangeTask(problems.ADDING, "the adding problem: sum two marked numbers of a long sequence")
)
COPY = register(
    LongRangeTask(problems.COPY, "copy memory: recall 10 symbols after a long blank delay")
)
