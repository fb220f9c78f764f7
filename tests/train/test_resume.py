"""Crash safety: a run killed with SIGKILL and resumed ends exactly where one left alone ends."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file
from test_checkpoint import rewrite
from trainer_fixtures import SequenceRegressor, quiet_config, sum_task

from rnnkit.train.checkpoint import latest_checkpoint
from rnnkit.train.checkpoint_load import CheckpointError
from rnnkit.train.trainer import Trainer

SCRIPT = Path(__file__).with_name("train_script.py")


def run_script(run_dir, *args, launcher=(), wait=True):
    command = [*launcher, str(SCRIPT), str(run_dir), *args]
    if not launcher:
        command.insert(0, sys.executable)
    process = subprocess.Popen(command, stderr=subprocess.PIPE, text=True)
    if wait:
        _, err = process.communicate(timeout=120)
        assert process.returncode == 0, err
    return process


def logged_steps(run_dir):
    """The steps ``metrics.jsonl`` has records of; a torn last line is not one yet."""
    path = run_dir / "metrics.jsonl"
    steps = []
    for line in path.read_text().splitlines() if path.exists() else []:
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            break
        if record.get("kind") == "step":
            steps.append(record["step"])
    return steps


def kill_mid_run(process, run_dir, kill=os.kill, past=7, timeout=120):
    """SIGKILL ``process`` (a run started with --hold-at) once ``metrics.jsonl`` records a
    step after ``past``: the trainer logs a step before it checkpoints it, so the checkpoint
    of step ``past`` is then complete. The kill lands anywhere from there to the hold, maybe
    while a later checkpoint is being written; the held run cannot have finished."""
    deadline = time.monotonic() + timeout
    while not any(step > past for step in logged_steps(run_dir)):
        if process.poll() is not None:
            pytest.fail(f"the run exited ({process.returncode}) before step {past + 1}")
        if time.monotonic() > deadline:
            kill(process.pid, signal.SIGKILL)
            process.wait()
            pytest.fail(f"no step after {past} was logged within {timeout} s")
        time.sleep(0.01)
    kill(process.pid, signal.SIGKILL)
    process.wait()
    assert not (run_dir / "model.safetensors").exists(), "the run was meant to die unfinished"
    latest = latest_checkpoint(run_dir / "checkpoint")
    assert latest is not None and int(latest.stem.split("-")[-1]) >= past, latest


def step_records(run_dir):
    lines = (run_dir / "metrics.jsonl").read_text().splitlines()
    return [(r["step"], r["loss"]) for r in map(json.loads, lines) if r["kind"] == "step"]


def test_killed_and_resumed_run_is_bit_identical(tmp_path):
    alone, killed = tmp_path / "alone", tmp_path / "killed"
    run_script(alone)
    # 15 steps (3 epochs of 5); held before the 13th, killed after the 8th is logged.
    kill_mid_run(run_script(killed, "--delay", "0.05", "--hold-at", "12", wait=False), killed)
    run_script(killed, "--resume")
    expected, got = load_file(alone / "model.safetensors"), load_file(killed / "model.safetensors")
    assert expected.keys() == got.keys()
    for name, value in expected.items():
        assert torch.equal(value, got[name]), name
    assert step_records(killed) == step_records(alone)


def test_corrupt_checkpoint_is_refused_and_nothing_is_overwritten(tmp_path):
    config = quiet_config(epochs=1, checkpoint_every=2, log_every=1)
    Trainer(SequenceRegressor(), config, sum_task(), run_dir=tmp_path).fit()
    newest = latest_checkpoint(tmp_path / "checkpoint")
    newest.write_bytes(newest.read_bytes()[:-100])  # a torn write
    before = {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    trainer = Trainer(SequenceRegressor(), config, sum_task(), run_dir=tmp_path)
    with pytest.raises(CheckpointError, match=newest.name):
        trainer.fit(resume=True)
    assert {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()} == before


def test_resume_without_checkpoint_says_so(tmp_path):
    trainer = Trainer(SequenceRegressor(), quiet_config(epochs=1), sum_task(), run_dir=tmp_path)
    with pytest.raises(ValueError, match="no checkpoint to resume from"):
        trainer.fit(resume=True)


class StopAt:
    """Batches that raise KeyboardInterrupt at batch `at` of the first pass (Ctrl-C)."""

    def __init__(self, data, at):
        self.data, self.at, self.stateful, self.fired = data, at, data.stateful, False

    def __len__(self):
        return len(self.data)

    def epoch(self, epoch, start=0):
        for i, batch in enumerate(self.data.epoch(epoch, start), start=start):
            if i == self.at and not self.fired:
                self.fired = True
                raise KeyboardInterrupt
            yield batch


def test_a_run_interrupted_before_its_first_step_resumes(tmp_path):
    config = quiet_config(epochs=2, checkpoint_every=100)
    torch.manual_seed(0)
    Trainer(SequenceRegressor(), config, sum_task(), run_dir=tmp_path / "alone").fit()
    torch.manual_seed(0)
    data = StopAt(sum_task(), at=0)
    with pytest.raises(KeyboardInterrupt):
        Trainer(SequenceRegressor(), config, data, run_dir=tmp_path / "cut").fit()
    Trainer(SequenceRegressor(), config, data, run_dir=tmp_path / "cut").fit(resume=True)
    alone = load_file(tmp_path / "alone" / "model.safetensors")
    cut = load_file(tmp_path / "cut" / "model.safetensors")
    assert all(torch.equal(alone[name], cut[name]) for name in alone)


def test_resuming_a_finished_run_trains_nothing_more(tmp_path):
    scores = iter([1.0, 2.0, 3.0])
    evaluate = lambda model, data: {"val_loss": next(scores)}  # noqa: E731
    config = quiet_config(epochs=10, early_stopping=2)
    kw = {"val_data": sum_task(seed=1), "run_dir": tmp_path, "evaluate": evaluate}
    first = Trainer(SequenceRegressor(), config, sum_task(), **kw)
    assert first.fit().stopped_early and first.counters.epoch == 3
    again = Trainer(SequenceRegressor(), config, sum_task(), **kw)
    result = again.fit(resume=True)
    assert result.stopped_early and again.counters.epoch == 3 and again.counters.step == 24


def to_format_1(payload):
    """The layout rnnkit wrote before `Progress`: the counters, the other fields of the
    trainer's progress loose in ``extra``, and one set of RNG states."""
    progress = json.loads(payload["extra"])["progress"]
    assert progress.pop("counters") == payload["counters"]
    payload.update(version=1, rng=payload["rng"][0], extra=json.dumps(progress, sort_keys=True))


def test_a_checkpoint_written_in_format_1_resumes_exactly(tmp_path):
    config = quiet_config(epochs=2, checkpoint_every=3, log_every=1)
    torch.manual_seed(0)
    Trainer(SequenceRegressor(), config, sum_task(), run_dir=tmp_path / "alone").fit()
    torch.manual_seed(0)
    data, cut = StopAt(sum_task(), at=5), tmp_path / "cut"
    with pytest.raises(KeyboardInterrupt):
        Trainer(SequenceRegressor(), config, data, run_dir=cut).fit()
    newest = latest_checkpoint(cut / "checkpoint")
    rewrite(newest, to_format_1)
    assert torch.load(newest, weights_only=True)["version"] == 1 and "00000003" in newest.name
    Trainer(SequenceRegressor(), config, data, run_dir=cut).fit(resume=True)
    alone = load_file(tmp_path / "alone" / "model.safetensors")
    got = load_file(cut / "model.safetensors")
    assert all(torch.equal(alone[name], got[name]) for name in alone)
    assert step_records(cut) == step_records(tmp_path / "alone")


def test_resuming_from_a_newer_format_is_refused_in_one_line(tmp_path):
    Trainer(SequenceRegressor(), quiet_config(epochs=1), sum_task(), run_dir=tmp_path).fit()
    rewrite(latest_checkpoint(tmp_path / "checkpoint"), lambda p: p.update(version=99))
    trainer = Trainer(SequenceRegressor(), quiet_config(epochs=1), sum_task(), run_dir=tmp_path)
    with pytest.raises(CheckpointError, match="format version 99") as error:
        trainer.fit(resume=True)
    assert "written by a newer rnnkit" in str(error.value) and "\n" not in str(error.value)
