"""Training a task into a run directory: what ``rnnkit train TASK`` calls.

A task (`rnnkit.tasks.base.Task`) turns its config into a model and data; the runner owns
everything tasks share: reading the config (defaults, then a TOML file, then
``section.key=value`` overrides), creating the run directory atomically, joining the
torchrun process group, training, resuming a run where its checkpoint left off, and loading
a trained run of any task for use (`load_run`).
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import torch
from torch import nn

from rnnkit.config import RecurrentConfig, build, to_dict
from rnnkit.io import atomic_write_json
from rnnkit.tasks.base import (
    CONFIG_FORMAT,
    Loaded,
    Task,
    get_task,
    load_run_weights,
    read_run_json,
    saved_config,
)
from rnnkit.train import distributed
from rnnkit.train.rundir import RunDir, create_run_dir, open_run_dir
from rnnkit.train.state import RunLog
from rnnkit.train.trainer import Trainer, TrainResult


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
        _, config = saved_config(out, task)
    else:
        config = load_config(task, toml, overrides)
        if out.exists():
            raise ValueError(
                f"run directory {out} already exists; resume it with --resume or choose "
                "another --out"
            )
    if isinstance(getattr(config, "model", None), RecurrentConfig):
        config.model.check_memory()
    saved = to_dict(config)
    config.train.quiet = config.train.quiet or quiet  # how this process talks, not the run
    context = distributed.setup(config.train.device)
    finished = False
    try:
        torch.manual_seed(config.train.seed)  # the same initial weights on every rank and rerun
        built = task.build(config, context)  # bad data fails here, before anything is written
        if resume:
            check_same_artefacts(out, built.files)
        elif built.val_data is not None and config.train.monitor not in built.reports:
            raise ValueError(
                f"train.monitor={config.train.monitor} is not a score {task.name} reports; "
                f"choose one of {', '.join(built.reports)}"
            )
        trainer = Trainer(
            built.model,
            config.train,
            built.train_data,
            built.val_data,
            run_dir=out,
            evaluate=built.evaluate,
            context=context,
            bf16_on_cpu=built.bf16_on_cpu,
        )
        if context.is_main and not resume:
            create_run_dir(out, {"task": task.name, "format": CONFIG_FORMAT, "config": saved})
            for name, content in built.files.items():
                atomic_write_json(out / name, content)
        _barrier(context)
        result = trainer.fit(resume=resume)
        if built.finish is not None and context.is_main:
            result.results = built.finish(out)
            atomic_write_json(RunDir(out).results, result.results)
        finished = True
    finally:
        distributed.teardown(wait=finished)  # after a failure the other ranks may be gone
    return out, result


def check_same_artefacts(run_dir: Path, files: dict[str, Any]) -> None:
    """A resumed or diagnosed run must use the data it started with: the artefacts its data
    gives now (vocabulary, classes, scaler, data digest) must equal those saved then."""
    for name, now in files.items():
        if not (run_dir / name).exists():  # a run from before this artefact existed
            continue
        saved = read_run_json(run_dir, name, dict)
        changed = sorted(key for key in now if saved.get(key) != now[key])
        if changed:
            raise ValueError(
                f"the data of {run_dir} changed since the run started ({name}: "
                f"{', '.join(changed)} differ); --resume needs the data it started with, "
                "and so does diagnose: restore it, or train a new run with another --out"
            )


def _barrier(context: distributed.Context) -> None:
    """Other ranks wait until rank 0 has created the run directory."""
    if context.distributed:
        import torch.distributed as dist

        dist.barrier()


def is_main_process() -> bool:
    """True outside torchrun and on its rank 0: the one process that talks to the user."""
    return os.environ.get("RANK", "0") == "0"


def run_task(run_dir: str | Path) -> Task:
    """The task of a run directory, as its ``config.json`` names it."""
    path, saved = open_run_dir(run_dir)
    if not isinstance(saved.get("config"), dict) or "task" not in saved:
        raise ValueError(f"{path}/config.json was not written by rnnkit train")
    return get_task(str(saved["task"]))


def load_run(run_dir: str | Path) -> Loaded:
    """A trained run ready for use, whatever its task: the task named in ``config.json``
    loads it from the run's own files (config, artefacts, ``model.safetensors``), on the
    CPU in eval mode; nothing is unpickled and the training data is not read."""
    return run_task(run_dir).load(run_dir)


def load_run_of(task_name: str, run_dir: str | Path) -> Any:
    """`load_run` for a command that needs a run of one task: another task's run is an error
    that says which command makes the right one."""
    return get_task(task_name).load(run_dir)


def _full_length(batch: dict[str, Any], batch_size: int) -> dict[str, Any]:
    """Up to ``batch_size`` rows of ``batch`` that all run the full T steps: gradient flow
    through time is measured on sequences without padding, so a padded batch keeps its
    longest rows, cut to their length, and drops ``lengths``."""
    batch = {name: value for name, value in batch.items() if name != "reset"}  # a stream's
    lengths = batch.get("lengths")  # first chunk starts from zero anyway
    if lengths is None:
        return {name: value[:batch_size] for name, value in batch.items()}
    longest = int(lengths.max())
    rows = (lengths == longest).nonzero().flatten()[:batch_size]
    cut = {name: value[rows] for name, value in batch.items() if name != "lengths"}
    return {name: value[:, :longest] if name == "inputs" else value for name, value in cut.items()}


def diagnose_run(
    run_dir: str | Path, out_dir: str | Path | None = None, batch_size: int = 32
) -> dict[str, Any]:
    """Gradient flow through time of a trained run's model on a batch of its validation data.

    Returns the same report layout as `rnnkit.diagnostics.run_diagnose` (one model, no
    clipping experiment) and writes it, with its plot, into ``out_dir`` when given.
    """
    from rnnkit.diagnostics import measure_gradient_flow, write_report

    task = run_task(run_dir)
    path, config = saved_config(run_dir, task)
    torch.manual_seed(config.train.seed)
    built = task.build(config, distributed.Context())
    check_same_artefacts(path, built.files)  # the data it measures on is the run's own
    load_run_weights(path, built.model)
    built.model.eval()
    stacks = [name for name, m in built.model.named_modules() if isinstance(m, nn.RNNBase)]
    if not stacks:
        raise ValueError(f"this {task.name} run's model has no recurrent layer to diagnose")
    if len(stacks) > 1:
        raise ValueError(
            f"rnnkit diagnose measures a model with one recurrent stack; this {task.name} "
            f"run's model has {len(stacks)} ({', '.join(stacks)}); choose a model of one "
            "stack (no encoder-decoder) to see its gradient through time"
        )
    data = built.val_data if built.val_data is not None else built.train_data
    flow = measure_gradient_flow(built.model, _full_length(next(iter(data.epoch(0))), batch_size))
    flow = flow.to_dict()
    records = RunLog(run_dir).records()
    report = {
        "task": task.name,
        "run": str(run_dir),
        "length": flow["steps"],
        "hidden_size": flow["hidden_size"],
        "batch_size": flow["batch_size"],
        "train_steps": records[-1]["step"] if records else 0,
        "seed": config.train.seed,
        "models": [{"init": "trained", "stage": "trained", **flow}],
        "clipping": None,
        "files": [],  # write_report lists the files it writes
    }
    if out_dir is not None:
        write_report(report, out_dir)
    return report
