"""Ensembles: the median of several networks' forecasts (``model.ensemble=N``).

The M4 competition's best entries forecast with the median of a few networks trained
alike from different random starts, often reading different lengths of the past (N-BEATS:
two to seven horizons): one network's forecast moves with its seed, the median of several
much less. The run's own training is the first member; after it, the others are trained
the same way on the same windows with seeds ``train.seed + 1 .. + N - 1``, member k reading
the last share ``model.lookbacks[(k - 1) % len]`` of each window's input steps, each in
``members/K/`` of the run directory (a run directory of its own: weights, metrics,
checkpoints, so an interrupted run resumes them too). The ensemble forecasts each quantile
as the median of the members' (the mean of the middle two for an even N), in the network's
scaled units; the unscaling and recomposition that follow are monotone, so it is the median
in the data's units too. The intervals are then calibrated on the ensemble's own errors, as
one network's are.
"""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from rnnkit.tasks.forecast.task import (
    SERIES_FILE,
    ForecastConfig,
    batches,
    load_model,
    model_for,
    model_of,
)
from rnnkit.tasks.runner import load_run_weights, read_run_json
from rnnkit.train.distributed import Context, resolve_device
from rnnkit.train.rundir import RunDir
from rnnkit.train.trainer import Trainer

MEMBERS = "members"


class Ensemble(nn.Module):
    """Forecasters whose `predict` is the median of the members' quantiles."""

    def __init__(self, members: list[nn.Module]) -> None:
        super().__init__()
        if not members:
            raise ValueError("an ensemble needs at least one member")
        self.members = nn.ModuleList(members)

    def predict(self, inputs: Tensor, future: Tensor, levels, generator=None) -> Tensor:
        """(S, H, Q) the median over members of their (S, H, Q) forecasts."""
        forecasts = [m.predict(inputs, future, levels, generator) for m in self.members]
        return torch.stack(forecasts).quantile(0.5, dim=0)


def member_dir(run_dir: Path, k: int) -> Path:
    """Where member ``k`` (1-based; 1 is the run itself) of a run is trained."""
    return Path(run_dir) / MEMBERS / str(k)


def train_members(built_model, data, config: Any, run_dir: Path, context: Context) -> float:
    """Train members 2..``model.ensemble`` of a run; seconds taken. ``built_model(k, seed)``
    makes member k's untrained network, ``data(seed)`` the training and validation batches
    (shuffled by the seed); a member with a checkpoint resumes from it. On the main process
    alone, on ``context``'s device: under torchrun the other processes wait meanwhile."""
    start = time.perf_counter()
    for k in range(2, config.model.ensemble + 1):
        where = member_dir(run_dir, k)
        seed = config.train.seed + k - 1
        settings = replace(config.train, seed=seed)
        resume = RunDir(where).checkpoints.exists()
        where.mkdir(parents=True, exist_ok=True)
        train, val = data(seed)
        model = built_model(k, seed)
        trainer = Trainer(model, settings, train, val, run_dir=where, context=context)
        trainer.reporter.message(f"ensemble member {k} of {config.model.ensemble} (seed {seed})")
        trainer.fit(resume=resume)
    return time.perf_counter() - start


def with_members(model: nn.Module, config: Any, model_for, run_dir: Path) -> nn.Module:
    """``model`` (the run's own best weights) with the members' beside it, as an `Ensemble`
    in eval mode; ``model`` alone for a run of one. ``model_for(k)`` makes member k's
    network to load its weights into."""
    if config.model.ensemble <= 1:
        return model
    members, n = [model], config.model.ensemble
    for k in range(2, n + 1):
        if not RunDir(member_dir(run_dir, k)).weights.exists():
            raise ValueError(f"member {k} of the {n} networks of {run_dir} was not trained: "
                             "finish the run with rnnkit train forecast --resume")  # fmt: skip
        member = model_for(k)
        load_run_weights(member_dir(run_dir, k), member)
        members.append(member)
    return Ensemble(members).eval()


def train_ensemble(config: ForecastConfig, prepared: Any, run_dir: Path) -> float:
    """Train the members of ``model.ensemble`` besides the run's own network on the windows
    of ``prepared`` (a series or a panel); seconds."""
    if config.model.ensemble <= 1:
        return 0.0

    def fresh(k: int, seed: int) -> nn.Module:
        torch.manual_seed(seed)
        return model_of(config, prepared, k)

    context = Context(device=resolve_device(config.train.device))

    def data(seed: int):
        return batches(replace(config, train=replace(config.train, seed=seed)), prepared, context)

    return train_members(fresh, data, config, run_dir, context)


def trained_model(config: ForecastConfig, prepared: Any, run_dir: Path) -> tuple[nn.Module, float]:
    """The run's best weights with the ensemble's other members (trained now, when
    ``model.ensemble`` asks for them), and the seconds the members took."""
    saved = read_run_json(run_dir, SERIES_FILE, dict)
    members_s = train_ensemble(config, prepared, run_dir)
    model = with_members(load_model(config, saved, run_dir), config,
                         lambda k: model_for(config, saved, k), run_dir)  # fmt: skip
    return model, members_s


def ensemble_note(config: ForecastConfig, seconds: float) -> str:
    n = config.model.ensemble
    return f"\n(the median of {n} networks; the {n - 1} besides the first: {seconds:.0f} s)"
