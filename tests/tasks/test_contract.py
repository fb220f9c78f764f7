"""A new task is one object and one registration: this file adds one ("reverse a sequence of
symbols") without touching cli.py, runner.py or serve/, and gets training, evaluation,
loading, prediction, a command and an HTTP route from the registry."""

import argparse
import json
import re
from dataclasses import dataclass, field
from typing import Any

import pytest
import torch
from fastapi import APIRouter
from fastapi.testclient import TestClient

from rnnkit.cli import main
from rnnkit.config import RecurrentConfig
from rnnkit.data.batching import TensorBatches
from rnnkit.models import SequenceTagger
from rnnkit.serve.app import create_app
from rnnkit.tasks import base, runner
from rnnkit.tasks.base import Built, Command, Section, Task
from rnnkit.train.trainer import TrainConfig

# ---- the whole task: 62 lines ---------------------------------------------------------------
SYMBOLS, LENGTH = 6, 5


@dataclass
class DataConfig:
    train: int = 1024  # sequences
    val: int = 256


@dataclass
class ReverseConfig:
    model: RecurrentConfig = field(default_factory=lambda: RecurrentConfig("gru", 32))
    data: DataConfig = field(default_factory=DataConfig)
    train: TrainConfig = field(default_factory=lambda: TrainConfig(epochs=12, lr=0.01))


def sequences(n: int, seed: int) -> dict[str, torch.Tensor]:
    inputs = torch.randint(0, SYMBOLS, (n, LENGTH), generator=torch.Generator().manual_seed(seed))
    return {"inputs": inputs, "targets": inputs.flip(1)}


class Reverse(Task):
    name = "flip"
    summary = "flip a sequence of symbols end to end"
    config_class = ReverseConfig

    def model(self, config: ReverseConfig, artefacts: dict) -> SequenceTagger:
        return SequenceTagger(SYMBOLS, vocab_size=SYMBOLS, bidirectional=True,
                              **config.model.layer_args())  # fmt: skip

    def build(self, config: ReverseConfig, context: Any) -> Built:
        train = TensorBatches(sequences(config.data.train, 0), config.train.batch_size)
        val = TensorBatches(sequences(config.data.val, 1), 256, shuffle=False)
        return Built(self.model(config, {}), train, val, finish=self.score)

    def score(self, run_dir) -> dict[str, float]:  # the test set, after training
        test = sequences(256, 2)
        guesses = self.predict(runner.load_run(run_dir), test["inputs"].tolist())
        return {"exact": float((torch.tensor(guesses) == test["targets"]).all(1).float().mean())}

    @torch.no_grad()
    def predict(self, loaded, inputs: list[list[int]]) -> list[list[int]]:
        logits, _ = loaded.model(torch.tensor(inputs))
        return logits.argmax(-1).tolist()

    def commands(self) -> list[Command]:
        def arguments(p: argparse.ArgumentParser) -> None:
            p.add_argument("run")
            p.add_argument("symbols", type=int, nargs=LENGTH)

        def run(args: argparse.Namespace) -> int:
            print(json.dumps(self.predict(runner.load_run(args.run), [args.symbols])[0]))
            return 0

        return [Command("flip", "flip symbols with a flip run", arguments, run)]

    def serve(self, loaded, **options: Any) -> Section:
        router = APIRouter()
        router.get("/flip")(lambda s: {"reversed": self.predict(loaded, [json.loads(s)])[0]})
        return Section(router, title="flip")


# ---- what the registry gives it --------------------------------------------------------------


@pytest.fixture
def reverse():
    task = base.register(Reverse())
    yield task
    del base.REGISTRY[task.name]


def test_a_small_task_gets_train_predict_cli_and_a_route(reverse, tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["train", "flip", "--out", str(out), "--quiet"]) == 0
    assert "trained flip" in capsys.readouterr().out
    results = json.loads((out / "results.json").read_text())
    assert results["exact"] > 0.9  # chance: 6 ** -5

    loaded = runner.load_run(out)  # through the registry, from the run's own files
    assert reverse.predict(loaded, [[1, 2, 3, 4, 5]]) == [[5, 4, 3, 2, 1]]
    assert main(["flip", str(out), "0", "1", "2", "3", "4"]) == 0
    assert json.loads(capsys.readouterr().out) == [4, 3, 2, 1, 0]
    with TestClient(create_app(out)) as client:
        assert client.get("/flip", params={"s": "[5, 0, 5, 1, 2]"}).json() == {
            "reversed": [2, 1, 5, 0, 5]
        }
        health = client.get("/healthz").json()
        assert health["task"] == "flip" and health["model"] == "1x32 gru"
        assert client.get("/").status_code == 200


def test_help_lists_the_registered_tasks(reverse, capsys):
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    assert re.search(r"\n  flip +flip a sequence of symbols end to end\n", capsys.readouterr().out)


@pytest.fixture(params=["lm", "classify", "forecast", "adding", "xor"])
def trained(request, vegas_run, tmp_path):
    if request.param == "lm":
        return vegas_run
    tiny = {
        "classify": ["train.epochs=1", "model.hidden_size=8", "model.num_layers=1"],
        "forecast": ["data.source=sunspots", "backtest.folds=2", 'backtest.baselines=["naive"]',
                     "train.max_steps=2", "model.hidden_size=8", "model.ensemble=1"],
        "adding": ["data.length=8", "data.train_samples=64", "data.val_samples=32",
                   "train.epochs=1"],
        "xor": ["train.max_steps=2"],
    }[request.param]  # fmt: skip
    out, _ = runner.train(request.param, tmp_path / "run", overrides=tiny, quiet=True)
    return out


def test_every_task_rebuilds_its_model_from_config_and_artefacts(trained):
    """`Task.model(config, artefacts)` gives the architecture `load_run` loaded, for every
    built-in task: the weights of a run fit it, name for name and shape for shape."""
    loaded = runner.load_run(trained)
    rebuilt = loaded.task.model(loaded.config, loaded.artefacts)
    shapes = lambda m: {k: tuple(v.shape) for k, v in m.state_dict().items()}  # noqa: E731
    assert shapes(rebuilt) == shapes(loaded.model) and not loaded.model.training
