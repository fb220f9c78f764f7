"""The task contract: one object per application, and the one registry of them.

A task is a package ``rnnkit/tasks/<name>/`` that registers one `Task` when imported. The
object says everything the rest of rnnkit needs to know about the application:

- ``config_class``: its run config, a dataclass with ``model``, ``data`` and ``train``
  sections (`rnnkit.config` reads it from defaults, TOML and ``section.key=value``);
- ``build(config, context) -> Built``: data prepared for the trainer, the model, the JSON
  artefacts it writes into the run directory (vocabularies, classes, scalers), how it
  evaluates during training and the final report (test scores beside the baselines);
- ``model(config, artefacts)``: the model alone, from the config and those artefacts;
- ``load(run_dir) -> Loaded``: a trained run ready for use, without the training data;
- ``predict(loaded, inputs)``: what the run is for, one plain-data answer per input;
- ``format_results``: the text ``rnnkit train`` prints after training;
- ``train_options``, ``commands``, ``serve_options`` and ``serve``: the flags it adds to
  ``rnnkit train``, its own commands (``rnnkit generate``, ``rnnkit forecast``, ...), and
  its HTTP routes and section of the web page under ``rnnkit serve``.

Everything but ``name``, ``summary``, ``config_class``, ``build`` and ``model`` has a
default, so a small task is a config, a data set and a model. ``docs/ARCHITECTURE.md`` has
the checklist for adding one.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import torch
from torch import nn

from rnnkit.config import from_dict
from rnnkit.io import load_weights
from rnnkit.train.rundir import RunDir, open_run_dir
from rnnkit.train.trainer import evaluate_loss

CONFIG_FORMAT = 2  # of config.json: 2 names its format; 1 kept data.bptt under train

if TYPE_CHECKING:
    from fastapi import APIRouter

    from rnnkit.train.distributed import Context


@dataclass
class Built:
    """What a task hands the trainer."""

    model: nn.Module
    train_data: Any
    val_data: Any = None
    evaluate: Callable[[nn.Module, Any], dict[str, float]] = evaluate_loss
    reports: Sequence[str] = ("val_loss",)  # the names `evaluate` reports (train.monitor)
    files: dict[str, Any] = field(default_factory=dict)  # JSON artefacts for the run directory
    # After training, on the main process: final scores (test set, baselines), which the
    # runner writes to results.json and hands back.
    finish: Callable[[Path], dict[str, Any]] | None = None
    # The task measured that its scores hold when trained in bf16: train.precision=auto then
    # uses bf16 on a CPU with bf16 instructions too (rnnkit.train.precision).
    bf16_on_cpu: bool = False


@dataclass
class Loaded:
    """A trained run ready for use: its config, its model (eval mode, CPU, best weights) and
    the JSON artefacts its task wrote. Tasks extend it with what they rebuild from those
    (a tokenizer, a scaler)."""

    task: Task
    config: Any
    model: nn.Module
    run_dir: Path
    artefacts: dict[str, Any]


@dataclass(frozen=True)
class Option:
    """A command-line flag a task adds: ``--target COLUMN`` sets ``data.target``.

    ``key`` is the config key the flag sets (``rnnkit train``) or the keyword it passes
    (``rnnkit serve``). Tasks may declare the same flag, each with its own meaning; a flag
    is read as given, and the task of the run at hand converts it with its ``type``.
    """

    flag: str
    key: str
    help: str
    type: Callable[[str], Any] | None = str  # None: a switch, True when given
    metavar: str | None = None

    @property
    def dest(self) -> str:
        return self.flag.lstrip("-").replace("-", "_")

    def value(self, given: Any) -> Any:
        """The value of the flag as given on the command line (a string; True for a switch)."""
        if self.type is None:
            return True
        try:
            return self.type(given)
        except ValueError:
            kind = getattr(self.type, "__name__", "a value")
            raise ValueError(f"{self.flag} must be {kind}, got {given!r}") from None


@dataclass(frozen=True)
class Command:
    """A command of its own that a task adds to ``rnnkit`` (``rnnkit generate RUN ...``)."""

    name: str
    help: str
    arguments: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace], int]
    description: str | None = None


@dataclass
class Section:
    """What a task serves under ``rnnkit serve``: its routes, and its part of the web page
    (an HTML fragment and a script, both files shipped beside the task's code)."""

    router: APIRouter
    title: str
    page: Path | None = None
    script: Path | None = None
    health: Callable[[], dict[str, Any]] = dict  # extra fields for GET /healthz
    close: Callable[[], None] = lambda: None  # called when the server stops
    max_body: int | None = None  # request body bytes its routes need, above the app's default


class Task:
    """The base of every task: the contract, with defaults where one fits every task."""

    name: str
    summary: str  # one line, for ``rnnkit train --help``
    config_class: type
    artefacts: Sequence[str] = ()  # JSON files `build` writes and `load` reads back
    optional_artefacts: Sequence[str] = ()  # those written for some runs only
    train_options: Sequence[Option] = ()
    serve_options: Sequence[Option] = ()

    def build(self, config: Any, context: Context) -> Built:
        raise NotImplementedError

    def model(self, config: Any, artefacts: dict[str, Any]) -> nn.Module:
        raise NotImplementedError

    def upgrade(self, saved: dict[str, Any], version: int) -> dict[str, Any]:
        """A run config of an earlier ``config.json`` format, in today's layout: settings
        that moved are moved, so old runs still load and resume. Tasks extend it."""
        if version < 2:  # the chunk length of truncated BPTT was a trainer setting
            saved = saved | {"train": {k: v for k, v in saved.get("train", {}).items()
                                       if k != "bptt"}}  # fmt: skip
        return saved

    def load(self, run_dir: str | Path) -> Loaded:
        """The run's config, artefacts and best weights, ready for use (eval mode, CPU);
        nothing of the training data. The model comes from `model`; `loaded` adds what a
        task rebuilds from its artefacts."""
        path, config = saved_config(run_dir, self)
        artefacts = {name: read_run_json(path, name, dict) for name in self.artefacts}
        for name in self.optional_artefacts:
            if (path / name).exists():
                artefacts[name] = read_run_json(path, name, dict)
        try:
            model = self.model(config, artefacts)
        except ValueError as e:  # an artefact the model cannot be built from
            raise ValueError(f"{path}: {e}") from None
        load_run_weights(path, model)
        return self.loaded(Loaded(self, config, model.eval(), path, artefacts))

    def loaded(self, run: Loaded) -> Loaded:
        """``run`` with what the task rebuilds from its artefacts (a tokenizer, a scaler)."""
        return run

    def predict(self, loaded: Loaded, inputs: Sequence[Any], **options: Any) -> list[Any]:
        """One plain-data answer per input, ``options`` as the task documents them; the
        task's commands answer through it."""
        raise ValueError(f"{self.name} runs make no predictions of their own")

    def format_results(self, results: dict[str, Any]) -> str:
        return json.dumps(results, indent=2)

    def commands(self) -> Sequence[Command]:
        return ()

    def serve(self, loaded: Loaded, **options: Any) -> Section:
        raise ValueError(f"{self.name} runs have nothing to serve over HTTP")


def saved_config(run_dir: str | Path, task: Task) -> tuple[Path, Any]:
    """The run directory and the config it was started with; its task must be ``task``."""
    path, saved = open_run_dir(run_dir)
    if not isinstance(saved.get("config"), dict) or "task" not in saved:
        raise ValueError(f"{path}/config.json was not written by rnnkit train")
    if saved["task"] != task.name:
        raise ValueError(
            f"{path} is a {saved['task']!r} run, not {task.name!r} "
            f"(rnnkit train {task.name} makes one)"
        )
    version = saved.get("format", 1)  # config.json had no format before 2
    if not isinstance(version, int) or not 1 <= version <= CONFIG_FORMAT:
        raise ValueError(
            f"{path}/config.json has format {version!r}; this rnnkit reads formats 1 to "
            f"{CONFIG_FORMAT}: use the rnnkit that wrote the run, or a newer one"
        )
    return path, from_dict(task.config_class, task.upgrade(saved["config"], version))


T = TypeVar("T")


def read_run_json(run_dir: str | Path, name: str, parse: Callable[[dict], T]) -> T:
    """``parse`` of the JSON file ``name`` that a task wrote into a run directory; a missing
    or damaged file (unreadable, not JSON, fields ``parse`` cannot use) is one clear error."""
    path = Path(run_dir) / name
    try:
        return parse(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise ValueError(f"{path} is missing or damaged ({e})") from e


def load_run_weights(run_dir: str | Path, model: nn.Module) -> None:
    """Load a run's ``model.safetensors`` into ``model`` (checked; nothing unpickled)."""
    weights = RunDir(Path(run_dir)).weights
    if not weights.exists():
        raise FileNotFoundError(f"{weights} does not exist: the run has not finished an epoch")
    load_weights(weights, model)
    broken = [name for name, tensor in model.state_dict().items()
              if tensor.is_floating_point() and not torch.isfinite(tensor).all()]  # fmt: skip
    if broken:
        raise ValueError(
            f"{weights} holds non-finite values ({broken[0]}): the run diverged; train it "
            "again with a smaller train.lr or with train.clip_norm set"
        )


REGISTRY: dict[str, Task] = {}


def register(task: Task) -> Task:
    """Add ``task`` to the registry (once per name) and return it."""
    if task.name in REGISTRY and REGISTRY[task.name] is not task:
        raise ValueError(f"a task named {task.name!r} is registered already")
    REGISTRY[task.name] = task
    return task


def get_task(name: str) -> Task:
    if name not in REGISTRY:
        raise ValueError(f"task must be one of {', '.join(sorted(REGISTRY))}, got {name!r}")
    return REGISTRY[name]
