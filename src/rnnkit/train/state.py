"""What the trainer leaves in a run directory, and how a killed run picks up where it was.

``metrics.jsonl``  one JSON record per logged step, evaluation and epoch
``model.safetensors``  the best weights on the monitored metric (the last ones without
                   validation data)
``loss.png``       training and validation loss curves
``checkpoint/``    full training state for ``--resume`` (see `rnnkit.train.checkpoint`)

A checkpoint holds the trainer's `Progress` whole, the carried stream state as tensors, and
the RNG states of every rank, so a resumed run (one process or many) continues bit-identically.
"""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
import torch.distributed as dist

from rnnkit.io import append_jsonl, atomic_path, atomic_write_text, save_weights
from rnnkit.train.checkpoint import latest_checkpoint, rng_state, save_checkpoint
from rnnkit.train.checkpoint_load import Checkpoint, CheckpointError, load_checkpoint
from rnnkit.train.rundir import RunDir

if TYPE_CHECKING:
    from rnnkit.train.trainer import Trainer


@dataclass
class Counters:
    epoch: int = 0  # epochs completed
    batch: int = 0  # micro-batches consumed in the current epoch (the data position)
    step: int = 0  # optimizer steps
    micro: int = 0  # micro-batches (forward + backward passes)
    chunk: int = 0  # truncated-BPTT chunks
    skipped: int = 0  # steps skipped by the non-finite guard


@dataclass
class Progress:
    """How far a run has come: everything the rest of the run depends on besides the model,
    optimizer, schedule, RNGs and carried state. Saved and restored whole (plain JSON)."""

    counters: Counters = field(default_factory=Counters)
    best: float | None = None  # the best value of the monitored metric so far
    bad_evaluations: int = 0  # evaluations without improvement (early stopping)
    bad_steps: int = 0  # consecutive non-finite steps (the guard)
    epoch_loss: float = 0.0  # running sums over the steps taken in the current epoch
    epoch_tokens: int = 0
    stopped_early: bool = False

    @classmethod
    def from_dict(cls, saved: dict[str, Any]) -> Progress:
        """The inverse of ``dataclasses.asdict``."""
        return cls(**(saved | {"counters": Counters(**saved["counters"])}))


class RunLog:
    """Writes metrics, weights and plots into a run directory (none without one) and keeps
    this process's records in ``history`` for callers that train in memory."""

    def __init__(self, run_dir: str | Path | None) -> None:
        self.run_dir = Path(run_dir) if run_dir is not None else None
        self.files = RunDir(self.run_dir) if self.run_dir is not None else None
        self.history: list[dict[str, Any]] = []

    def record(self, record: dict[str, Any]) -> None:
        # JSON has no NaN or infinity: a non-finite loss is written as null.
        record = {k: None if _non_finite(v) else v for k, v in record.items()}
        self.history.append(record)
        if self.files is not None:
            append_jsonl(self.files.metrics, record)

    def records(self) -> list[dict[str, Any]]:
        """The records on disk. A torn last line (the process died mid-write) is dropped."""
        path = self.files.metrics if self.files is not None else None
        if path is None or not path.exists():
            return []
        lines = [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
        records = []
        for number, line in enumerate(lines, start=1):
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError:
                if number < len(lines):
                    raise ValueError(f"{path} line {number} is not valid JSON") from None
        return records

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
        atomic_write_text(self.files.metrics, text)

    def save_best(self, model: torch.nn.Module) -> None:
        if self.files is not None:
            save_weights(self.files.weights, model)

    def finish(self, model: torch.nn.Module, has_best: bool) -> None:
        if self.files is None:
            return
        if not has_best:
            save_weights(self.files.weights, model)
        plot_losses(self.records(), self.files.plot("loss"))


def _non_finite(value: Any) -> bool:
    return isinstance(value, float) and not math.isfinite(value)


def plot_losses(records: list[dict[str, Any]], path: Path) -> None:
    """Training loss per logged step and validation loss per evaluation, on one figure."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    steps = [
        (r["step"], r["loss"]) for r in records if r["kind"] == "step" and r["loss"] is not None
    ]
    val = [(r["step"], r["val_loss"]) for r in records if r.get("val_loss") is not None]
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


def _gather_state(trainer: Trainer) -> dict[str, torch.Tensor]:
    """The carried stream state of every rank, rows in rank order (all ranks must call it)."""
    tensors = _state_tensors(trainer.state)
    if not trainer.context.distributed or not tensors:
        return tensors
    gathered = {}
    for name, tensor in tensors.items():
        parts = [torch.empty_like(tensor) for _ in range(trainer.context.world_size)]
        dist.all_gather(parts, tensor.contiguous())
        gathered[name] = torch.cat(parts, dim=1)  # (L*D, N_global, H)
    return gathered


def _own_rows(tensors: dict[str, torch.Tensor], trainer: Trainer) -> dict[str, torch.Tensor]:
    if not trainer.context.distributed:
        return tensors
    rank, world = trainer.context.rank, trainer.context.world_size
    return {name: t.chunk(world, dim=1)[rank] for name, t in tensors.items()}


def _gather_rng(trainer: Trainer) -> list[Any]:
    """The RNG states of every rank in rank order, on rank 0 (all ranks must call it)."""
    own = rng_state()
    if not trainer.context.distributed:
        return [own]
    states: list[Any] = [None] * trainer.context.world_size
    dist.gather_object(own, states if trainer.context.is_main else None, dst=0)
    return states


def snapshot(trainer: Trainer) -> None:
    """Write a full checkpoint: everything the rest of the run depends on. Every rank calls
    it (the carried states and RNG states are gathered); rank 0 alone writes."""
    if trainer.run_dir is None:
        return
    tensors, rng = _gather_state(trainer), _gather_rng(trainer)
    if not trainer.context.is_main:
        return
    save_checkpoint(
        RunDir(trainer.run_dir).checkpoints,
        model=trainer.raw_model,
        optimizer=trainer.optimizer,
        scheduler=trainer.schedule,
        counters=dataclasses.asdict(trainer.progress.counters),  # they name the file
        extra={
            "progress": dataclasses.asdict(trainer.progress),
            "train": dataclasses.asdict(trainer.config),
        },
        tensors=tensors,
        keep=trainer.config.keep_checkpoints,
        rng=rng,
    )


def _progress(checkpoint: Checkpoint) -> Progress:
    """The `Progress` saved in ``checkpoint``, translated from the layout of format 1."""
    extra = checkpoint.extra
    try:
        if checkpoint.version == 1:  # the counters, and the other fields loose in extra
            return Progress(
                Counters(**checkpoint.counters),
                best=extra["best"],
                bad_evaluations=extra["bad_evaluations"],
                bad_steps=extra["bad_steps"],
                epoch_loss=extra["epoch_loss"],
                epoch_tokens=extra["epoch_tokens"],
                stopped_early=extra.get("stopped_early", False),
            )
        return Progress.from_dict(extra["progress"])
    except (KeyError, TypeError) as e:
        raise CheckpointError(
            f"checkpoint {checkpoint.path} was not written by rnnkit's trainer "
            f"(its progress cannot be read: {e})"
        ) from e


# How this process talks and where it runs may change between a run and its resumption.
_MAY_CHANGE = frozenset({"quiet", "device"})


def _check_same_settings(saved: dict[str, Any] | None, trainer: Trainer) -> None:
    """The train settings a resumed run reads (its ``config.json``, which a hand may have
    edited) must be those its checkpoint was written with."""
    if saved is None:  # written before checkpoints kept their settings
        return
    now = dataclasses.asdict(trainer.config)
    changed = [f"train.{k}: {saved[k]!r} -> {now.get(k)!r}" for k in saved
               if k not in _MAY_CHANGE and saved[k] != now.get(k)]  # fmt: skip
    if changed:
        raise ValueError(
            f"the settings of {trainer.run_dir} changed since its checkpoint was written "
            f"({'; '.join(changed)}); a resumed run continues the run as it was: undo the "
            "change in config.json, or train a new run with another --out"
        )


def restore(trainer: Trainer) -> None:
    """Load the newest checkpoint of the run into ``trainer``, RNG states included."""
    run_dir = trainer.run_dir
    if run_dir is None or latest_checkpoint(RunDir(run_dir).checkpoints) is None:
        raise ValueError(f"there is no checkpoint to resume from in {run_dir}")
    checkpoint = load_checkpoint(
        RunDir(run_dir).checkpoints,
        model=trainer.raw_model,
        optimizer=trainer.optimizer,
        scheduler=trainer.schedule,
        map_location=trainer.context.device,
        rank=trainer.context.rank,  # each rank continues its own random stream
    )
    progress = _progress(checkpoint)
    _check_same_settings(checkpoint.extra.get("train"), trainer)
    if not checkpoint.rng_restored:
        # No state for this rank: a format-1 checkpoint (rank 0's alone) or one written with
        # fewer processes. Draw a fresh stream per rank so dropout masks stay different.
        step = progress.counters.step
        torch.manual_seed(trainer.config.seed + trainer.context.rank + 7919 * step)
    trainer.progress = progress
    trainer.state = _state_from(_own_rows(checkpoint.tensors, trainer), trainer.context.device)
    trainer.log.rewind(progress.counters.step, progress.counters.epoch)
