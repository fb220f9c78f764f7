"""What the training loop takes and gives back; the loop itself is `rnnkit.train.trainer`.

`TrainConfig` (how to train), `TrainResult` (what a run gives back), the default evaluation
`evaluate_loss` (an `Evaluator`), and the verdicts of the non-finite guard: `TrainingDiverged`,
built by `diverged` with the advice every such message ends in, and `monitored_value`, which
checks an evaluation before the loop trusts it.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

import torch
from torch import nn

from rnnkit.data.batching import count_scored
from rnnkit.layers import reset_state
from rnnkit.models.common import evaluating
from rnnkit.train.precision import Precision
from rnnkit.train.state import Counters

__all__ = [
    "Evaluator",
    "TrainConfig",
    "TrainResult",
    "TrainingDiverged",
    "diverged",
    "evaluate_loss",
    "monitored_value",
]


class TrainingDiverged(ValueError):
    """The loss or the gradient stayed non-finite for ``max_bad_steps`` steps in a row, the
    validation loss was not finite, or a run without validation ended on non-finite steps."""


def diverged(what: str, lr: float) -> TrainingDiverged:
    """The error for a run that stopped being finite: ``what`` happened, and what to try."""
    return TrainingDiverged(
        f"training diverged: {what}; lower train.lr (now {lr:g}) or clip gradients "
        f"(train.clip_norm=1.0)"
    )


@dataclass
class TrainConfig:
    """How to train. Every field can be set from TOML or the command line (``train.lr=3e-4``).

    Steps are optimizer steps; a step consumes ``accumulate`` micro-batches.
    """

    epochs: int = 10
    max_steps: int | None = None  # stop early after this many optimizer steps
    batch_size: int = 32  # global: split across processes under torchrun
    optimizer: Literal["adam", "adamw", "sgd", "rmsprop"] = "adam"
    lr: float = 1e-3
    weight_decay: float = 0.0
    momentum: float = 0.9  # sgd and rmsprop
    schedule: Literal["constant", "cosine", "step", "plateau"] = "constant"
    warmup_steps: int = 0
    min_lr_ratio: float = 0.0  # cosine decays to lr * min_lr_ratio
    step_size: int = 1000  # step schedule: multiply by gamma every step_size steps
    gamma: float = 0.5  # step and plateau decay factor
    patience: int = 2  # plateau: evaluations without improvement before decaying
    clip_norm: float | None = 1.0  # clip the global gradient norm (None: off)
    clip_value: float | None = None  # clip each gradient entry to [-v, v] (None: off)
    accumulate: int = 1  # micro-batches per optimizer step
    early_stopping: int | None = None  # evaluations without improvement before stopping
    monitor: str = "val_loss"
    monitor_mode: Literal["min", "max"] = "min"
    eval_every: int | None = None  # steps between evaluations (None: at each epoch end)
    log_every: int = 10  # steps between metrics.jsonl records
    checkpoint_every: int = 200  # steps between checkpoints (and at each epoch end)
    keep_checkpoints: int = 2
    max_bad_steps: int = 5  # consecutive non-finite steps before giving up
    # bf16 autocast: auto turns it on on a GPU, and on a CPU with bf16 instructions for the
    # tasks whose scores hold in bf16 (see rnnkit.train.precision)
    precision: Precision = "auto"
    device: str = "auto"
    seed: int = 0
    quiet: bool = False

    def __post_init__(self) -> None:
        at_least_one = (
            "epochs", "batch_size", "accumulate", "log_every", "max_bad_steps",
            "checkpoint_every", "keep_checkpoints", "step_size",
        )  # fmt: skip
        for name in at_least_one:
            if getattr(self, name) < 1:
                raise ValueError(f"train.{name} must be at least 1, got {getattr(self, name)}")
        for name in ("max_steps", "eval_every", "early_stopping"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise ValueError(f"train.{name} must be at least 1 or None (off), got {value}")
        if self.warmup_steps < 0 or self.patience < 0:
            raise ValueError("train.warmup_steps and train.patience must not be negative")
        if not (self.lr > 0 and math.isfinite(self.lr)):
            raise ValueError(f"train.lr must be positive, got {self.lr}")
        if not 0 < self.gamma <= 1 or not 0 <= self.min_lr_ratio <= 1:
            raise ValueError(
                f"train.gamma must be in (0, 1] and train.min_lr_ratio in [0, 1], "
                f"got {self.gamma} and {self.min_lr_ratio}"
            )
        for name in ("clip_norm", "clip_value"):
            value = getattr(self, name)
            if value is not None and value <= 0:
                raise ValueError(f"train.{name} must be positive or None (off), got {value}")


@dataclass
class TrainResult:
    counters: Counters
    best: float | None
    history: list[dict[str, Any]] = field(default_factory=list)
    stopped_early: bool = False
    results: dict[str, Any] = field(default_factory=dict)  # a task's final scores, if any


def monitored_value(metrics: dict[str, float], config: TrainConfig, step: int) -> float:
    """The value of ``config.monitor`` in ``metrics``, once the evaluation is known sound.

    Raises ValueError when the evaluation does not give the monitored metric, and
    `TrainingDiverged` when its validation loss is not finite (such weights are broken).
    """
    value = metrics.get(config.monitor)
    if value is None:
        raise ValueError(
            f"train.monitor is {config.monitor!r} but the evaluation gives {', '.join(metrics)}"
        )
    if "val_loss" in metrics and not math.isfinite(metrics["val_loss"]):
        what = f"the validation loss is {metrics['val_loss']} at step {step}"
        raise diverged(f"{what}; these weights were not saved", config.lr)
    return value


Evaluator = Callable[[nn.Module, Any], dict[str, float]]


def evaluate_loss(model: nn.Module, data: Any) -> dict[str, float]:
    """Mean loss over ``data``, each batch weighted by what its loss averages over (scored
    targets: steps of a stream, samples of a classifier); the state carried along a stream."""
    total, steps, state = 0.0, 0, None
    with evaluating(model), torch.no_grad():
        for batch in data.epoch(0):
            batch = {k: v.to(_device(model)) for k, v in batch.items()}
            if data.stateful:
                state = reset_state(state, batch.pop("reset"))
                output, loss = model(**batch, state=state)
                state = output.state
            else:
                _, loss = model(**batch)
            scored = count_scored(batch)
            total, steps = total + float(loss) * scored, steps + scored
    return {"val_loss": total / max(steps, 1)}


def _device(model: nn.Module) -> torch.device:
    return next(model.parameters()).device
