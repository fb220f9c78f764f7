"""The tour: one tiny task per topology (`rnnkit.tasks.toy.toys`), each a registered task
(``rnnkit train parity``) and, trained in memory, a row of ``rnnkit tour``'s table.

    >>> result = run_toy("parity")
    >>> print(format_results([result]))

`run_toy` builds the task's data and model, measures its metric on the held-out part,
trains with the rnnkit Trainer (Adam, gradient norm clipped to 1) and measures again.
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, make_dataclass
from pathlib import Path
from typing import Any, NamedTuple

import torch
from torch import nn

from rnnkit.data import synthetic
from rnnkit.data.batching import TensorBatches
from rnnkit.data.synthetic import Data
from rnnkit.models.common import evaluating
from rnnkit.tasks.base import Built, Task, register
from rnnkit.tasks.toy.toys import TOYS, Toy
from rnnkit.train import distributed
from rnnkit.train.trainer import TrainConfig, Trainer

TOY_TASKS = tuple(TOYS)
REGISTRY = TOYS  # the toy records by name


class ToyResult(NamedTuple):
    """One row of the tour's table; metrics are on held-out data, higher is better."""

    name: str
    topology: str
    metric_name: str
    chance: float  # what ignoring the input reaches
    before: float  # the metric on the test set before training
    after: float  # and after
    seconds: float  # training time


@dataclass
class ToyData:
    samples: int = 1024  # made, the last test_size of them held out
    test_size: int = 256
    seed: int = 0  # the data's own seed


def epochs_for(steps: int, samples: int, batch_size: int) -> int:
    """The epochs that hold ``steps`` optimizer steps over ``samples`` in batches."""
    return math.ceil(steps / math.ceil(samples / batch_size))


def evaluate(toy: Toy, model: nn.Module, data: Data) -> float:
    with evaluating(model):
        return toy.metric(model, data)


class TourTask(Task):
    """A toy as a task: its data, its fixed small model, its metric beside chance."""

    def __init__(self, toy: Toy) -> None:
        self.toy, self.name = toy, toy.name
        self.summary = f"{toy.what} (tour: {toy.topology})"
        steps, batch = toy.steps, toy.batch_size

        def train() -> TrainConfig:  # the toy's own budget: `steps` Adam steps, clipped
            epochs = epochs_for(steps, toy.samples - toy.test_size, batch)
            return TrainConfig(epochs=epochs, max_steps=steps, batch_size=batch, lr=toy.lr,
                               clip_norm=1.0)  # fmt: skip

        # The run config of this toy: data and train sections with the toy's own defaults.
        self.config_class = make_dataclass(f"{toy.name.title()}Config", [
            ("data", ToyData, field(default_factory=lambda: ToyData(toy.samples, toy.test_size))),
            ("train", TrainConfig, field(default_factory=train)),
        ])  # fmt: skip

    def parts(self, config: Any) -> tuple[Data, Data]:
        """(train, test): the toy's data, its last ``test_size`` samples held out."""
        data = self.toy.make_data(config.data.samples, config.data.seed)
        return synthetic.split(data, config.data.test_size)

    def model(self, config: Any, artefacts: dict[str, Any]) -> nn.Module:
        return self.toy.build()

    def build(self, config: Any, context: distributed.Context) -> Built:
        train, test = self.parts(config)
        shard = {"rank": context.rank, "world_size": context.world_size}
        batches = TensorBatches(train, config.train.batch_size, seed=config.train.seed, **shard)

        def finish(run_dir: Path) -> dict[str, Any]:
            after = evaluate(self.toy, self.load(run_dir).model, test)
            return {"metric": self.toy.metric_name, "chance": self.toy.chance, "test": after}

        return Built(self.model(config, {}), batches, finish=finish)

    def format_results(self, results: dict[str, Any]) -> str:
        return (f"test {results['metric']} {results['test']:.3f} "
                f"(chance {results['chance']:.3f})")  # fmt: skip


TOURS = {name: register(TourTask(toy)) for name, toy in TOYS.items()}


@contextlib.contextmanager
def _one_thread() -> Iterator[None]:
    """Tiny models gain nothing from intra-op threads, and on a busy machine the threads
    wait on each other (tiny ops ran about 100 times slower on a shared 2-core box): run
    on one, then give the caller back its setting."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def run_toy(name: str, seed: int = 0, steps: int | None = None) -> ToyResult:
    """Train toy ``name`` (one of `TOY_TASKS`) from scratch in memory; ``steps`` overrides
    its default.

    The global torch RNG is seeded with ``seed`` inside and restored afterwards, so a run is
    reproducible and leaves the caller's random stream alone; it runs on one intra-op
    thread and restores the caller's thread count too.
    """
    if name not in TOURS:
        raise ValueError(f"toy task must be one of {', '.join(TOY_TASKS)}, got {name!r}")
    if steps is not None and (isinstance(steps, bool) or not isinstance(steps, int) or steps < 1):
        raise ValueError(
            f"steps must be a positive int or None (the task's default), got {steps!r}"
        )
    task = TOURS[name]
    config = task.config_class()
    config.data.seed = config.train.seed = seed
    config.train.quiet, config.train.device = True, "cpu"
    if steps is not None:
        train_size = config.data.samples - config.data.test_size
        config.train.epochs = epochs_for(steps, train_size, config.train.batch_size)
        config.train.max_steps = steps
    _, test = task.parts(config)
    with torch.random.fork_rng(devices=[]), _one_thread():
        torch.manual_seed(seed)
        built = task.build(config, distributed.Context())
        before = evaluate(task.toy, built.model, test)
        started = time.perf_counter()
        Trainer(built.model, config.train, built.train_data, context=distributed.Context()).fit()
        seconds = time.perf_counter() - started
        after = evaluate(task.toy, built.model, test)
    toy = task.toy
    return ToyResult(name, toy.topology, toy.metric_name, toy.chance, before, after, seconds)


def format_results(results: Sequence[ToyResult]) -> str:
    """A plain-text table, one row per task."""
    header = ("task", "topology", "metric", "chance", "before", "after", "seconds")
    rows = [header, *(_cells(result) for result in results)]
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = ("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)) for row in rows)
    return "\n".join(line.rstrip() for line in lines)


def _cells(r: ToyResult) -> tuple[str, ...]:
    scores = (f"{value:.3f}" for value in (r.chance, r.before, r.after))
    return (r.name, r.topology, r.metric_name, *scores, f"{r.seconds:.1f}")
