"""What the trainer leaves in a run directory, and how a killed run picks up where it was.

``metrics.jsonl``  one JSON record per logged step, evaluation and epoch
``model.safetensors``  the best weights on the monitored metric (the last ones without
                   validation data)
``loss.png``       training and validation loss curves
``checkpoint/``    full training state for ``--resume`` (see `rnnkit.train.checkpoint`)
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from rnnkit.io import append_jsonl, atomic_path, atomic_write_text, save_weights
from rnnkit.train.checkpoint import latest_checkpoint, load_checkpoint, save_checkpoint

if TYPE_CHECKING:
    from rnnkit.train.trainer import Trainer

WEIGHTS, METRICS, PLOT, CHECKPOINTS = "model.safetensors", "metrics.jsonl", "loss.png", "checkpoint"


class RunLog:
    """Writes metrics, weights and plots into a run directory (none without one) and keeps
    this process's records in ``history`` for callers that train in memory."""

    def __init__(self, run_dir: str | Path | None) -> None:
        self.run_dir = Path(run_dir) if run_dir is not None else None
        self.history: list[dict[str, Any]] = []

    def record(self, record: dict[str, Any]) -> None:
        self.history.append(record)
        if self.run_dir is not None:
            append_jsonl(self.run_dir / METRICS, record)

    def records(self) -> list[dict[str, Any]]:
        if self.run_dir is None or not (self.run_dir / METRICS).exists():
            return []
        lines = (self.run_dir / METRICS).read_text(encoding="utf-8").splitlines()
        return [json.loads(line) for line in lines if line.strip()]

    def rewind(self, step: int, epoch: int) -> None:
        """Drop records written after the checkpoint a resumed run starts from."""
        if self.run_dir is None:
            return
        # A checkpoint at (step S, E epochs done) follows every step record up to S and the
        # summaries of epochs 0..E-1; anything else was written by the run after it.
        kept = [
            r
            for r in self.records()
            if (r["kind"] == "epoch" and r["epoch"] < epoch)
            or (r["kind"] != "epoch" and r["step"] <= step)
        ]
        text = "".join(json.dumps(r, sort_keys=True) + "\n" for r in kept)
        atomic_write_text(self.run_dir / METRICS, text)

    def save_best(self, model: torch.nn.Module) -> None:
        if self.run_dir is not None:
            save_weights(self.run_dir / WEIGHTS, model)

    def finish(self, model: torch.nn.Module, has_best: bool) -> None:
        if self.run_dir is None:
            return
        if not has_best:
            save_weights(self.run_dir / WEIGHTS, model)
        plot_losses(self.records(), self.run_dir / PLOT)


def plot_losses(records: list[dict[str, Any]], path: Path) -> None:
    """Training loss per logged step and validation loss per evaluation, on one figure."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    steps = [(r["step"], r["loss"]) for r in records if r["kind"] == "step"]
    val = [(r["step"], r["val_loss"]) for r in records if "val_loss" in r]
    if not steps and not val:
        return
    fig, ax = plt.subplots(figsize=(6, 4), dpi=100)
    if steps:
        ax.plot(*zip(*steps, strict=True), label="train loss", linewidth=1)
    if val:
        ax.plot(*zip(*val, strict=True), "o-", label="validation loss")
    ax.set_xlabel("optimizer step")
    ax.set_ylabel("loss")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png")
    plt.close(fig)


def _state_tensors(state: Any) -> dict[str, torch.Tensor]:
    if state is None:
        return {}
    if isinstance(state, tuple):
        return {"h": state[0], "c": state[1]}
    return {"h": state}


def _state_from(tensors: dict[str, torch.Tensor], device: torch.device) -> Any:
    if "c" in tensors:
        return (tensors["h"].to(device), tensors["c"].to(device))
    return tensors["h"].to(device) if "h" in tensors else None


def snapshot(trainer: Trainer) -> None:
    """Write a full checkpoint (rank 0 only): everything the rest of the run depends on."""
    run_dir = trainer.log.run_dir
    if run_dir is None:
        return
    save_checkpoint(
        run_dir / CHECKPOINTS,
        model=trainer.raw_model,
        optimizer=trainer.optimizer,
        scheduler=trainer.schedule,
        counters=dataclasses.asdict(trainer.counters),
        extra={
            "best": trainer.best,
            "bad_evaluations": trainer.bad_evaluations,
            "bad_steps": trainer.bad_steps,
            "epoch_loss": trainer.epoch_loss,
            "epoch_tokens": trainer.epoch_tokens,
        },
        tensors=_state_tensors(trainer.state),
        keep=trainer.config.keep_checkpoints,
    )


def restore(trainer: Trainer) -> None:
    """Load the newest checkpoint of the run into ``trainer``, RNG states included."""
    run_dir = trainer.log.run_dir
    if run_dir is None or latest_checkpoint(run_dir / CHECKPOINTS) is None:
        raise ValueError(f"there is no checkpoint to resume from in {run_dir}")
    checkpoint = load_checkpoint(
        run_dir / CHECKPOINTS,
        model=trainer.raw_model,
        optimizer=trainer.optimizer,
        scheduler=trainer.schedule,
        map_location=trainer.context.device,
        # The checkpoint holds rank 0's random state. Under torchrun each rank instead draws
        # a fresh stream of its own, so their dropout masks stay different after a resume.
        restore_rng=not trainer.context.distributed,
    )
    if trainer.context.distributed:
        counters = checkpoint.counters
        torch.manual_seed(trainer.config.seed + trainer.context.rank + 7919 * counters["step"])
    trainer.counters = type(trainer.counters)(**checkpoint.counters)
    extra = checkpoint.extra
    trainer.best, trainer.bad_evaluations = extra["best"], extra["bad_evaluations"]
    trainer.bad_steps = extra["bad_steps"]
    trainer.epoch_loss, trainer.epoch_tokens = extra["epoch_loss"], extra["epoch_tokens"]
    trainer.state = _state_from(checkpoint.tensors, trainer.context.device)
    trainer.log.rewind(trainer.counters.step, trainer.counters.epoch)
