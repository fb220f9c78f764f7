"""The long-range tasks train end to end through the runner, in one process or under torchrun."""

import json
import subprocess
import sys

import torch
from safetensors.torch import load_file

from net import PortTaken, on_free_port, taken
from rnnkit.tasks import runner

SMALL = ["data.length=20", "data.train_samples=2048", "data.val_samples=256"]


def test_lstm_solves_the_adding_problem_far_below_the_baseline(tmp_path):
    overrides = [*SMALL, "model.hidden_size=32", "train.epochs=8", "train.lr=0.01"]
    _, result = runner.train("adding", tmp_path / "run", overrides=overrides, quiet=True)
    # Predicting 1 every time scores about 0.167.
    assert result.history[0]["val_loss"] > 0.1 and result.best < 0.02


def test_copy_task_trains_and_logs(tmp_path):
    # T = 40: the 10 symbols, a delay of 20 blanks, the delimiter and the recall.
    overrides = [*SMALL, "data.length=40", "model.hidden_size=16", "train.epochs=2"]
    run_dir, result = runner.train("copy", tmp_path / "run", overrides=overrides, quiet=True)
    records = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    steps = [r for r in records if r["kind"] == "step"]
    assert steps and all({"loss", "grad_norm", "lr", "rate", "clipped"} <= set(r) for r in steps)
    assert result.history[-1]["val_loss"] < result.history[0]["train_loss"]


def test_torchrun_two_processes_match_one(tmp_path):
    args = ["train", "adding", *SMALL, "model.hidden_size=8", "train.epochs=1", "--quiet"]
    args += ["train.device=cpu", "train.batch_size=32"]
    torchrun = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2"]
    torchrun += ["--master_addr=127.0.0.1", "--master_port={port}"]

    def train(port, launcher, name):
        launcher = [part.format(port=port) for part in launcher]
        command = [*launcher, "-m", "rnnkit", *args, "--out", str(tmp_path / name)]
        done = subprocess.run(command, capture_output=True, text=True, timeout=300)
        if done.returncode != 0 and taken(done.stderr):
            raise PortTaken(port)  # another process took the port first: try another
        assert done.returncode == 0, done.stderr

    train(None, [sys.executable], "one")
    on_free_port(lambda port: train(port, torchrun, "two"))
    one = load_file(tmp_path / "one" / "model.safetensors")
    two = load_file(tmp_path / "two" / "model.safetensors")
    for name, value in one.items():
        # float32 all-reduce sums in another order than one large batch does.
        torch.testing.assert_close(two[name], value, rtol=1e-4, atol=1e-5, msg=name)
