"""The classic experiments on vanishing and exploding gradients, ready to run.

`flow_experiment`: the same small model for each cell kind (Elman RNN, LSTM, GRU) on a
long-memory task, its gradient flow measured at initialisation (and optionally after a short
training) under two weight initialisations:

- ``"uniform"``: torch's default, every recurrent weight and bias uniform(-1/sqrt(H),
  1/sqrt(H)). The Elman RNN's recurrent matrix then has a spectral radius near 1/sqrt(3),
  and its gradient vanishes by about that factor per step.
- ``"orthogonal"``: rnnkit's default (`Recurrent`): orthogonal recurrent blocks, Xavier input
  blocks, zero biases. Both keep rnnkit's LSTM forget-gate bias of 1.

`clipping_experiment`: a relu RNN whose recurrent matrix is the identity times a gain above 1
(IRNN, Le et al. 2015, scaled up), so activations and gradients grow by about the gain per
step, trained on the adding problem with SGD with and without gradient-norm clipping.

`rnnkit.diagnostics.diagnose.run_diagnose` runs both and writes the report.

Shapes: N batch, T time, I input features, H hidden units.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from rnnkit.data import synthetic
from rnnkit.data.batching import TensorBatches
from rnnkit.diagnostics.gradient_flow import measure_gradient_flow
from rnnkit.diagnostics.problems import NUM_COPY, PROBLEMS
from rnnkit.layers import Kind
from rnnkit.models import IGNORE_INDEX, SequenceRegressor
from rnnkit.train.distributed import Context
from rnnkit.train.trainer import TrainConfig, Trainer, TrainingDiverged

KINDS: tuple[Kind, ...] = ("rnn_tanh", "lstm", "gru")  # the kinds compared by default
INITS = ("uniform", "orthogonal")
TASKS = tuple(PROBLEMS)
MOMENTUM = 0.9  # SGD momentum in the clipping experiment


def make_data(task: str, n: int, length: int, seed: int) -> synthetic.Data:
    """n sequences of T = ``length`` steps of the problem ``task`` (`PROBLEMS`)."""
    return PROBLEMS[task].make(n, length, seed)


def build_model(task: str, kind: Kind, hidden_size: int, init: str) -> nn.Module:
    """The model of the problem ``task``, recurrent weights initialised by ``init``."""
    model = PROBLEMS[task].model(kind, hidden_size)
    layer = model.encoder.rnn
    layer.orthogonal = init == "orthogonal"  # read by reset_parameters
    layer.reset_parameters()
    return model


def _seeded(seed: int, build, *args) -> nn.Module:
    """``build(*args)`` under ``seed``, leaving the caller's global RNG as it was."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return build(*args)


def flow_experiment(
    task: str = "adding",
    length: int = 100,
    kinds: Sequence[Kind] = KINDS,
    inits: Sequence[str] = INITS,
    hidden_size: int = 64,
    batch_size: int = 32,
    seed: int = 0,
    train_steps: int = 0,
) -> list[dict[str, Any]]:
    """Gradient flow of one model per kind and init on one seeded batch (N = batch_size).

    Every model starts from the same ``seed``. On copy-memory the measured batch scores only
    the recall (the last NUM_COPY steps; the others are set to -100), so the gradient reaching
    the earlier steps comes through time alone. With ``train_steps`` > 0 each is then trained
    that many steps (Adam, lr 1e-3, clip_norm 1, fresh data) and measured again on the same
    batch. Returns one entry per model and stage: `GradientFlow.to_dict` plus ``init`` and
    ``stage`` (``"initial"`` or ``"trained"``).
    """
    batch = make_data(task, batch_size, length, seed)
    if task == "copy":  # score the recall only: earlier steps are reached through time alone
        batch["targets"][:, :-NUM_COPY] = IGNORE_INDEX
    entries = []
    for kind in kinds:
        for init in inits:
            model = _seeded(seed, build_model, task, kind, hidden_size, init)
            flow = measure_gradient_flow(model, batch).to_dict()
            entries.append({"init": init, "stage": "initial", **flow})
            if train_steps > 0:
                data = make_data(task, train_steps * batch_size, length, seed + 1)
                _train_briefly(model, data, train_steps, batch_size, seed)
                flow = measure_gradient_flow(model, batch).to_dict()
                entries.append({"init": init, "stage": "trained", **flow})
    return entries


def _train_briefly(
    model: nn.Module, data: synthetic.Data, steps: int, batch_size: int, seed: int
) -> None:
    """``steps`` optimizer steps of Adam (lr 1e-3, clip_norm 1) on ``data``, on the CPU."""
    config = TrainConfig(
        epochs=1,
        max_steps=steps,
        batch_size=batch_size,
        lr=1e-3,
        clip_norm=1.0,
        quiet=True,
        device="cpu",
        seed=seed,
    )
    Trainer(model, config, TensorBatches(data, batch_size, seed=seed), context=Context()).fit()


def exploding_relu(hidden_size: int, gain: float) -> SequenceRegressor:
    """A relu `SequenceRegressor` for the adding problem with W_hh = gain * identity.

    With non-negative inputs every active unit feeds itself with weight ``gain``, so the
    state and the gradient grow by about ``gain`` per step: gain**(T-1) over T steps.
    """
    model = SequenceRegressor(input_size=2, kind="rnn_relu", hidden_size=hidden_size)
    with torch.no_grad():
        model.encoder.rnn.rnn.weight_hh_l0.copy_(gain * torch.eye(hidden_size))
    return model


def clipping_experiment(
    length: int = 100,
    hidden_size: int = 64,
    gain: float = 1.1,
    steps: int = 100,
    lr: float = 0.01,
    clip_norm: float = 1.0,
    batch_size: int = 32,
    seed: int = 0,
) -> dict[str, Any]:
    """Train `exploding_relu` on the adding problem with the Trainer, unclipped and clipped.

    Both runs use the same seed, data and optimizer (SGD with momentum 0.9: Adam rescales
    every step by its gradient's running size, which hides an explosion). Returns plain data:
    the settings, ``flow`` (the gradient flow at initialisation) and ``runs``, one per
    clip_norm (None, then ``clip_norm``), each with the per-step ``step``, ``loss`` and
    pre-clip ``grad_norm`` lists (non-finite steps are skipped and not listed), ``skipped``
    (their count), ``diverged_at`` (the step at which the Trainer gave up, or None) and
    ``message`` (its TrainingDiverged message, or None).
    """
    batch = make_data("adding", batch_size, length, seed)
    model = _seeded(seed, exploding_relu, hidden_size, gain)
    result: dict[str, Any] = {
        "task": "adding",
        "length": length,
        "hidden_size": hidden_size,
        "gain": gain,
        "init": "identity",
        "optimizer": "sgd",
        "momentum": MOMENTUM,
        "lr": lr,
        "steps": steps,
        "clip_norm": clip_norm,
        "batch_size": batch_size,
        "seed": seed,
    }
    flow = measure_gradient_flow(model, batch).to_dict()
    result["flow"] = {"init": "identity", "gain": gain, "stage": "initial", **flow}
    data = TensorBatches(make_data("adding", steps * batch_size, length, seed + 1), batch_size)
    runs = []
    for clip in (None, clip_norm):
        config = TrainConfig(
            epochs=1,
            max_steps=steps,
            batch_size=batch_size,
            optimizer="sgd",
            lr=lr,
            momentum=MOMENTUM,
            clip_norm=clip,
            log_every=1,
            quiet=True,
            device="cpu",
            seed=seed,
        )
        runs.append(_train_run(_seeded(seed, exploding_relu, hidden_size, gain), config, data))
    result["runs"] = runs
    return result


def _train_run(model: nn.Module, config: TrainConfig, data: TensorBatches) -> dict[str, Any]:
    """One Trainer run in memory; its step records read back from the trainer's history."""
    trainer = Trainer(model, config, data, context=Context())
    diverged_at, message = None, None
    try:
        trainer.fit()
    except TrainingDiverged as e:
        diverged_at, message = trainer.counters.step + 1, str(e)
    history = trainer.log.history
    records = [r for r in history if r["kind"] == "step"]
    return {
        "clip_norm": config.clip_norm,
        "step": [r["step"] for r in records],
        "loss": [r["loss"] for r in records],
        "grad_norm": [r["grad_norm"] for r in records],
        "skipped": trainer.counters.skipped,
        "diverged_at": diverged_at,
        "message": message,
    }
