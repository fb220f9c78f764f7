"""Training a task into a run directory: what ``rnnkit train TASK`` calls.

A task is a small object with a config dataclass (sections ``model``, ``data``, ``train``,
the last a `TrainConfig`) and a ``build`` method that turns a config into a model and data:

    class MyTask:
        name = "mine"
        config_class = MyConfig
        def build(self, config, context) -> Built: ...

The runner owns everything tasks share: reading the config (defaults, then a TOML file,
then ``section.key=value`` overrides), creating the run directory atomically, joining the
torchrun process group, training, and resuming a run where its checkpoint left off.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import torch
from torch import nn

from rnnkit.config import build, from_dict, to_dict
from rnnkit.io import atomic_write_json
from rnnkit.train import distributed
from rnnkit.train.rundir import create_run_dir, open_run_dir
from rnnkit.train.trainer import Trainer, TrainResult, evaluate_loss


@dataclass
class Built:
    """What a task hands the trainer."""

    model: nn.Module
    train_data: Any
    val_data: Any = None
    evaluate: Callable[[nn.Module, Any], dict[str, float]] = evaluate_loss
    files: dict[str, Any] = field(default_factory=dict)  # JSON files for the run directory


class Task(Protocol):
    name: str
    config_class: type

    def build(self, config: Any, context: distributed.Context) -> Built: ...


REGISTRY: dict[str, Task] = {}


def register(task: Task) -> Task:
    REGISTRY[task.name] = task
    return task


def get_task(name: str) -> Task:
    if name not in REGISTRY:
        raise ValueError(f"task must be one of {', '.join(sorted(REGISTRY))}, got {name!r}")
    return REGISTRY[name]


def load_config(task: Task, toml: str | Path | None = None, overrides: Iterable[str] = ()) -> Any:
    """The task's defaults, then the TOML file, then the overrides; strictly checked."""
    return build(task.config_class, toml=toml, overrides=overrides)


def train(
    task_name: str,
    out: str | Path,
    toml: str | Path | None = None,
    overrides: Iterable[str] = (),
    resume: bool = False,
    quiet: bool = False,
) -> tuple[Path, TrainResult]:
    """Train ``task_name`` into the run directory ``out``, or resume the run there.

    A new run refuses an existing ``out`` (nothing is overwritten). A resumed run reads its
    own ``config.json``; overrides are refused there, because a resumed run must continue
    the run that was started, not a different one. ``quiet`` silences the progress output
    either way.
    """
    task = get_task(task_name)
    out = Path(out)
    if resume:
        if toml is not None or list(overrides):
            raise ValueError("--resume continues a run as it was configured; drop the overrides")
        _, saved = open_run_dir(out)
        config = from_dict(task.config_class, saved["config"])
    else:
        config = load_config(task, toml, overrides)
        if out.exists():
            raise ValueError(
                f"run directory {out} already exists; resume it with --resume or choose "
                "another --out"
            )
    if quiet:
        config.train.quiet = True
    context = distributed.setup(config.train.device)
    try:
        torch.manual_seed(config.train.seed)  # the same initial weights on every rank and rerun
        built = task.build(config, context)  # bad data fails here, before anything is written
        if context.is_main and not resume:
            create_run_dir(out, {"task": task.name, "config": to_dict(config)})
            for name, content in built.files.items():
                atomic_write_json(out / name, content)
        _barrier(context)
        trainer = Trainer(
            built.model,
            config.train,
            built.train_data,
            built.val_data,
            run_dir=out,
            evaluate=built.evaluate,
            context=context,
        )
        result = trainer.fit(resume=resume)
    finally:
        distributed.teardown()
    return out, result


def _barrier(context: distributed.Context) -> None:
    """Other ranks wait until rank 0 has created the run directory."""
    if context.distributed:
        import torch.distributed as dist

        dist.barrier()


def is_main_process() -> bool:
    """True outside torchrun and on its rank 0: the one process that talks to the user."""
    return os.environ.get("RANK", "0") == "0"
