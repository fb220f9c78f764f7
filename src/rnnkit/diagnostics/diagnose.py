"""`run_diagnose`: the body of ``rnnkit diagnose``, callable from Python the same way."""

from __future__ import annotations

import time
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rnnkit.diagnostics.experiments import (
    INITS,
    KINDS,
    NUM_COPY,
    TASKS,
    clipping_experiment,
    flow_experiment,
)
from rnnkit.diagnostics.report import write_report
from rnnkit.layers import KINDS as ALL_KINDS
from rnnkit.layers import Kind


def run_diagnose(
    task: str = "adding",
    length: int = 100,
    kinds: Sequence[Kind] = KINDS,
    hidden_size: int = 64,
    seed: int = 0,
    out_dir: str | Path | None = None,
    train_steps: int = 0,
    json_only: bool = False,
    inits: Sequence[str] = INITS,
    batch_size: int = 32,
    clip_steps: int = 100,
) -> dict[str, Any]:
    """Measure gradient flow per kind and init, run the clipping experiment, write the report.

    Args:
        task: ``"adding"`` (default) or ``"copy"`` (copy memory), the task of the models whose
            gradient flow is measured; the clipping experiment always runs the adding problem.
        length: T, steps per sequence (copy: more than 2 * NUM_COPY = 20). Default 100.
        kinds: cell kinds to compare. Default ("rnn_tanh", "lstm", "gru").
        hidden_size: H. Default 64.
        seed: seeds the models, the data and training. Default 0.
        out_dir: where ``diagnostics.json``, ``gradient_flow.png`` and ``clipping.png`` go;
            None (default) writes nothing.
        train_steps: also measure each model after this many training steps. Default 0.
        json_only: write the JSON report without the plots. Default False.
        inits: weight initialisations, ``"uniform"`` (torch's default) and/or
            ``"orthogonal"`` (rnnkit's). Default both.
        batch_size: N, sequences in the measured batch and in each training batch. Default 32.
        clip_steps: training steps per run of the clipping experiment; 0 skips it. Default 100.

    Returns the report (plain data, as written to ``diagnostics.json``): the settings,
    ``models`` (one gradient-flow entry per kind, init and stage), ``clipping`` (or None),
    ``files`` (names written in ``out_dir``) and ``seconds``.
    """
    _check(task, length, kinds, inits, hidden_size, batch_size, train_steps, clip_steps, seed)
    if json_only and out_dir is None:
        warnings.warn(
            "json_only=True has no effect without out_dir: nothing is written", stacklevel=2
        )
    started = time.perf_counter()
    report: dict[str, Any] = {
        "task": task,
        "length": length,
        "kinds": list(kinds),
        "inits": list(inits),
        "hidden_size": hidden_size,
        "batch_size": batch_size,
        "seed": seed,
        "train_steps": train_steps,
    }
    common = dict(hidden_size=hidden_size, batch_size=batch_size, seed=seed)
    report["models"] = flow_experiment(
        task, length, kinds, inits, train_steps=train_steps, **common
    )
    report["clipping"] = (
        clipping_experiment(length, steps=clip_steps, **common) if clip_steps > 0 else None
    )
    report["files"] = []  # write_report lists the files it writes
    report["seconds"] = time.perf_counter() - started
    if out_dir is not None:
        write_report(report, out_dir, plots=not json_only)
    return report


def _check(task, length, kinds, inits, hidden_size, batch_size, train_steps, clip_steps, seed):
    if task not in TASKS:
        raise ValueError(f"task must be one of {', '.join(TASKS)}, got {task!r}")
    shortest = 2 * NUM_COPY + 1 if task == "copy" else 2
    if isinstance(length, bool) or not isinstance(length, int) or length < shortest:
        raise ValueError(f"length must be an int of at least {shortest} for {task}, got {length!r}")
    if isinstance(kinds, str) or not kinds or any(k not in ALL_KINDS for k in kinds):
        raise ValueError(f"kinds must be a non-empty list of {', '.join(ALL_KINDS)}, got {kinds!r}")
    if isinstance(inits, str) or not inits or any(i not in INITS for i in inits):
        raise ValueError(f"inits must be a non-empty list of {', '.join(INITS)}, got {inits!r}")
    for name, value, least in (
        ("hidden_size", hidden_size, 1),
        ("batch_size", batch_size, 1),
        ("train_steps", train_steps, 0),
        ("clip_steps", clip_steps, 0),
        ("seed", seed, 0),
    ):
        if isinstance(value, bool) or not isinstance(value, int) or value < least:
            raise ValueError(f"{name} must be an int of at least {least}, got {value!r}")
