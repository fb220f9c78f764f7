"""Long-range memory benchmarks as trainable tasks: ``rnnkit train adding`` and ``... copy``.

Both are the classic tests of whether a recurrent network can carry information across
many steps, where the Elman RNN's gradient vanishes and the LSTM and GRU keep it:

- adding (Hochreiter & Schmidhuber, 1997): sum the two marked values of a sequence of T
  numbers; predicting 1 every time scores a mean squared error of about 0.167.
- copy (Arjovsky et al., 2016): reproduce 10 symbols after ``length`` blank steps; a
  memoryless model scores 10 log(8) / (length + 20) nats per step.

    rnnkit train adding --out runs/adding model.kind=gru data.length=200
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from rnnkit.data import synthetic
from rnnkit.data.batching import TensorBatches
from rnnkit.models import SequenceRegressor, SequenceTagger
from rnnkit.tasks.base import Built, Task, register
from rnnkit.train.distributed import Context
from rnnkit.train.trainer import TrainConfig

COPY_SYMBOLS, COPY_LENGTH = 8, 10


@dataclass
class ModelConfig:
    kind: Literal["rnn_tanh", "rnn_relu", "lstm", "gru"] = "lstm"
    hidden_size: int = 64
    num_layers: int = 1
    dropout: float = 0.0

    def layer_args(self) -> dict[str, object]:
        return {
            "kind": self.kind,
            "hidden_size": self.hidden_size,
            "num_layers": self.num_layers,
            "dropout": self.dropout,
        }


@dataclass
class DataConfig:
    length: int = 100  # T for adding; the blank delay for copy
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


def _batches(config: LongRangeConfig, make, context: Context) -> tuple[TensorBatches, ...]:
    data = config.data
    if data.length < 2 or data.train_samples < 1 or data.val_samples < 1:
        raise ValueError("data.length must be at least 2 and the sample counts positive")
    train = make(data.train_samples, data.seed)
    val = make(data.val_samples, data.seed + 1)
    shard = {"rank": context.rank, "world_size": context.world_size}
    batch = config.train.batch_size
    return (
        TensorBatches(train, batch, seed=config.train.seed, **shard),
        TensorBatches(val, batch, shuffle=False, **shard),
    )


class AddingTask(Task):
    name = "adding"
    summary = "the adding problem: sum two marked numbers of a long sequence"
    config_class = LongRangeConfig

    def model(self, config: LongRangeConfig, artefacts: dict[str, Any]) -> SequenceRegressor:
        return SequenceRegressor(input_size=2, **config.model.layer_args())

    def build(self, config: LongRangeConfig, context: Context) -> Built:
        length = config.data.length
        train, val = _batches(
            config, lambda n, seed: synthetic.adding_problem(n, length, seed), context
        )
        return Built(self.model(config, {}), train, val)


class CopyTask(Task):
    name = "copy"
    summary = "copy memory: recall 10 symbols after a long blank delay"
    config_class = LongRangeConfig

    def model(self, config: LongRangeConfig, artefacts: dict[str, Any]) -> SequenceTagger:
        return SequenceTagger(
            COPY_SYMBOLS + 1,  # blank and the symbols
            vocab_size=COPY_SYMBOLS + 2,  # and the delimiter
            **config.model.layer_args(),
        )

    def build(self, config: LongRangeConfig, context: Context) -> Built:
        delay = config.data.length

        def make(n: int, seed: int) -> synthetic.Data:
            return synthetic.copy_memory(n, delay, COPY_LENGTH, COPY_SYMBOLS, seed=seed)

        train, val = _batches(config, make, context)
        return Built(self.model(config, {}), train, val)


ADDING = register(AddingTask())
COPY = register(CopyTask())
