"""Small models and data the trainer tests share (imported by them and by train_script.py)."""

from typing import NamedTuple

import torch
from torch import nn

from rnnkit.data.batching import TensorBatches
from rnnkit.layers import Recurrent


class Output(NamedTuple):
    prediction: torch.Tensor
    state: object


class StreamRegressor(nn.Module):
    """Recurrent -> linear read-out, mean squared error; carries its state across chunks."""

    def __init__(self, kind="lstm", input_size=3, hidden_size=5, num_layers=1, dropout=0.0):
        super().__init__()
        self.rnn = Recurrent(kind, input_size, hidden_size, num_layers=num_layers)
        self.drop = nn.Dropout(dropout)
        self.head = nn.Linear(hidden_size, 1)

    def forward(self, inputs, targets=None, state=None):
        out, state = self.rnn(inputs, state)
        prediction = self.head(self.drop(out)).squeeze(-1)  # (N, T)
        loss = None if targets is None else ((prediction - targets) ** 2).mean()
        return Output(prediction, state), loss


class FloatStream:
    """Chunks of a float stream (N, S, I) with targets (N, S): the trainer's stream protocol."""

    stateful = True

    def __init__(self, inputs, targets, bptt):
        self.inputs, self.targets, self.bptt = inputs, targets, bptt

    def __len__(self):
        return -(-self.inputs.shape[1] // self.bptt)

    def epoch(self, epoch, start=0):
        for i in range(start, len(self)):
            cols = slice(i * self.bptt, (i + 1) * self.bptt)
            reset = torch.full((self.inputs.shape[0],), i == 0)
            yield {"inputs": self.inputs[:, cols], "targets": self.targets[:, cols], "reset": reset}


class SequenceRegressor(nn.Module):
    """Many-to-one: predict the sum of a sequence; dropout so that RNG state matters."""

    def __init__(self, dropout=0.2):
        super().__init__()
        self.rnn = Recurrent("gru", 1, 16)
        self.drop = nn.Dropout(dropout)
        self.head = nn.Linear(16, 1)

    def forward(self, inputs, targets=None):
        out, _ = self.rnn(inputs)
        prediction = self.head(self.drop(out[:, -1])).squeeze(-1)
        loss = None if targets is None else ((prediction - targets) ** 2).mean()
        return prediction, loss


def sum_task(samples=256, steps=8, seed=0, batch_size=32, **kw):
    generator = torch.Generator().manual_seed(seed)
    inputs = torch.rand(samples, steps, 1, generator=generator)
    data = {"inputs": inputs, "targets": inputs.sum(dim=(1, 2)) - steps / 2}  # mean 0
    return TensorBatches(data, batch_size=batch_size, seed=seed, **kw)


def quiet_config(**kw):
    """A TrainConfig for tests: CPU, nothing printed unless asked."""
    from rnnkit.train.trainer import TrainConfig

    return TrainConfig(**({"quiet": True, "device": "cpu"} | kw))
