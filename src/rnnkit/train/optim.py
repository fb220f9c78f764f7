"""Optimizers, learning-rate schedules and gradient clipping, built from a TrainConfig."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import torch
from torch import nn

if TYPE_CHECKING:
    from rnnkit.train.config import TrainConfig

OPTIMIZERS = ("adam", "adamw", "sgd", "rmsprop")
SCHEDULES = ("constant", "cosine", "step", "plateau")


def build_optimizer(model: nn.Module, config: TrainConfig) -> torch.optim.Optimizer:
    """Adam, AdamW, SGD with (Nesterov-free) momentum or RMSprop over the trainable params."""
    params = [p for p in model.parameters() if p.requires_grad]
    kind, lr, decay = config.optimizer, config.lr, config.weight_decay
    # One fused kernel updates every parameter: a small recurrent model on a CPU otherwise
    # spends a sixth of each step in Adam's per-tensor loop.
    fused = all(p.device.type in ("cpu", "cuda") and p.is_floating_point() for p in params)
    if kind == "adam":
        return torch.optim.Adam(params, lr=lr, weight_decay=decay, fused=fused or None)
    if kind == "adamw":
        return torch.optim.AdamW(params, lr=lr, weight_decay=decay, fused=fused or None)
    if kind == "sgd":
        return torch.optim.SGD(params, lr=lr, momentum=config.momentum, weight_decay=decay)
    if kind == "rmsprop":
        return torch.optim.RMSprop(params, lr=lr, momentum=config.momentum, weight_decay=decay)
    raise ValueError(f"optimizer must be one of {', '.join(OPTIMIZERS)}, got {kind!r}")


class Schedule:
    """Linear warm-up, then constant, cosine or step decay, stepped once per optimizer step.

    ``plateau`` instead divides the rate by ``1/gamma`` when the validation loss has not
    improved for ``patience`` evaluations; it is stepped with that loss (``on_validation``).
    The state is plain numbers, so it checkpoints as JSON and resumes exactly.
    """

    def __init__(self, optimizer: torch.optim.Optimizer, config: TrainConfig, total_steps: int):
        if config.schedule not in SCHEDULES:
            raise ValueError(
                f"schedule must be one of {', '.join(SCHEDULES)}, got {config.schedule!r}"
            )
        self.optimizer, self.config = optimizer, config
        self.total_steps = max(total_steps, 1)
        self.step_count = 0
        self.plateau_scale = 1.0
        self.best = math.inf
        self.bad_evaluations = 0
        self._apply()

    def lr(self) -> float:
        cfg, step = self.config, self.step_count
        if step < cfg.warmup_steps:
            return cfg.lr * (step + 1) / cfg.warmup_steps
        decay_steps = max(self.total_steps - cfg.warmup_steps, 1)
        progress = min((step - cfg.warmup_steps) / decay_steps, 1.0)
        if cfg.schedule == "cosine":
            floor = cfg.lr * cfg.min_lr_ratio
            return floor + (cfg.lr - floor) * 0.5 * (1 + math.cos(math.pi * progress))
        if cfg.schedule == "step":
            return cfg.lr * cfg.gamma ** ((step - cfg.warmup_steps) // cfg.step_size)
        return cfg.lr * self.plateau_scale

    def step(self) -> None:
        """Called after each optimizer step."""
        self.step_count += 1
        self._apply()

    def on_validation(self, loss: float) -> None:
        if self.config.schedule != "plateau":
            return
        if loss < self.best - 1e-12:
            self.best, self.bad_evaluations = loss, 0
        else:
            self.bad_evaluations += 1
            if self.bad_evaluations >= self.config.patience:  # as early stopping counts
                self.plateau_scale *= self.config.gamma
                self.bad_evaluations = 0
        self._apply()

    def _apply(self) -> None:
        for group in self.optimizer.param_groups:
            group["lr"] = self.lr()

    def state_dict(self) -> dict[str, float]:
        return {
            "step_count": self.step_count,
            "plateau_scale": self.plateau_scale,
            "best": self.best,
            "bad_evaluations": self.bad_evaluations,
        }

    def load_state_dict(self, state: dict[str, float]) -> None:
        self.step_count = int(state["step_count"])
        self.plateau_scale = float(state["plateau_scale"])
        self.best = float(state["best"])
        self.bad_evaluations = int(state["bad_evaluations"])
        self._apply()


def clip_gradients(
    parameters: list[nn.Parameter], max_norm: float | None, max_value: float | None
) -> float:
    """Clip in place (by value, then by global norm) and return the norm *before* clipping.

    The pre-clip norm is what users watch for explosions, so it is measured even when no
    clipping is configured. It is summed in float64: an exploding float32 gradient can be
    finite while the sum of its squares overflows, and clipping must still rescue it.
    """
    grads = [p.grad for p in parameters if p.grad is not None]
    norm = _total_norm(grads)
    if max_value is not None:
        torch.nn.utils.clip_grad_value_(grads, max_value)
    if max_norm is not None:
        after_value = _total_norm(grads) if max_value is not None else norm
        scale = min(max_norm / (after_value + 1e-6), 1.0)  # torch's clip_grad_norm_ formula
        if scale < 1.0:
            torch._foreach_mul_(grads, scale)
    return norm


def _total_norm(grads: list[torch.Tensor]) -> float:
    """The L2 norm of all gradients together, accumulated in float64."""
    if not grads:
        return 0.0
    norms = torch.stack([torch.linalg.vector_norm(g, dtype=torch.float64) for g in grads])
    return float(torch.linalg.vector_norm(norms))
