"""Run directories appear whole or not at all, never replace an existing one, and are
trained by one process at a time."""

import subprocess
import sys

import pytest
from trainer_fixtures import SequenceRegressor, quiet_config, sum_task

from rnnkit.train import rundir
from rnnkit.train.rundir import RunDir, RunLocked, create_run_dir, open_run_dir
from rnnkit.train.trainer import Trainer

CONFIG = {"task": "lm", "model": {"kind": "lstm", "hidden_size": 64}, "train": {"lr": 0.003}}


def tree(path):
    return {p.relative_to(path): p.read_bytes() if p.is_file() else None for p in path.rglob("*")}


def test_create_then_open_round_trips_the_config(tmp_path):
    path = create_run_dir(tmp_path / "runs" / "x", CONFIG)
    assert path == tmp_path / "runs" / "x"
    assert sorted(p.name for p in path.iterdir()) == ["config.json"]
    assert list((tmp_path / "runs").iterdir()) == [path]  # no temporary sibling left
    assert open_run_dir(path) == (path, CONFIG)
    assert (path / "config.json").read_text().endswith("}\n")


def test_existing_directory_is_refused_and_untouched(tmp_path):
    path = create_run_dir(tmp_path / "x", CONFIG)
    (path / "metrics.jsonl").write_text('{"step": 1}\n')
    before = tree(tmp_path)
    with pytest.raises(ValueError, match="already exists; resume it with --resume") as error:
        create_run_dir(path, {"other": 1})
    assert str(path) in str(error.value)
    assert tree(tmp_path) == before


def test_crash_during_creation_leaves_no_directory(tmp_path, monkeypatch):
    def crash(path, text):
        path.write_text(text[:5])  # half a config, then the process "dies"
        raise KeyboardInterrupt

    monkeypatch.setattr(rundir, "atomic_write_text", crash)
    with pytest.raises(KeyboardInterrupt):
        create_run_dir(tmp_path / "x", CONFIG)
    assert list(tmp_path.iterdir()) == []


def test_unserializable_config_is_refused_before_touching_the_disk(tmp_path):
    with pytest.raises(ValueError, match="cannot write as JSON"):
        create_run_dir(tmp_path / "x", {"fn": print})
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        (lambda p: None, "does not exist"),
        (lambda p: p.write_text("{}"), "is not a directory"),
        (lambda p: p.mkdir(), "is not a run directory: it has no config.json"),
        (lambda p: (p.mkdir(), (p / "config.json").write_text('{"a": ')), "config.json is corrupt"),
        (lambda p: (p.mkdir(), (p / "config.json").write_text("[1]")), "must hold a JSON object"),
    ],
)
def test_open_says_what_is_wrong(tmp_path, setup, message):
    path = tmp_path / "x"
    setup(path)
    with pytest.raises(ValueError, match=message) as error:
        open_run_dir(path)
    assert "\n" not in str(error.value)


def test_run_dir_names_the_standard_files(tmp_path):
    run = RunDir(tmp_path)
    assert run.config == tmp_path / "config.json"
    assert run.weights == tmp_path / "model.safetensors"
    assert run.metrics == tmp_path / "metrics.jsonl"
    assert run.checkpoints == tmp_path / "checkpoint"
    assert run.plot("loss").name == "loss.png"


HOLDER = """
import sys
from rnnkit.train.rundir import run_lock
with run_lock(sys.argv[1]):
    print("locked", flush=True)
    sys.stdin.read()  # hold it until the test closes stdin (or kills this process)
"""


def hold_lock(path):
    """A process that holds the lock of the run ``path`` until its stdin closes."""
    process = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(path)], stdin=subprocess.PIPE, stdout=subprocess.PIPE
    )
    assert process.stdout.readline() == b"locked\n"
    return process


@pytest.mark.parametrize("end", ["exit", "SIGKILL"])
def test_a_run_being_trained_is_refused_to_a_second_process_until_the_first_ends(tmp_path, end):
    holder = hold_lock(tmp_path)
    trainer = Trainer(SequenceRegressor(), quiet_config(epochs=1), sum_task(), run_dir=tmp_path)
    with pytest.raises(RunLocked) as error:
        trainer.fit()
    expected = f"run {tmp_path} is being trained by process {holder.pid}; wait for it or stop it"
    assert str(error.value) == expected and isinstance(error.value, ValueError)
    assert not (tmp_path / "checkpoint").exists()  # refused before anything was written
    if end == "exit":
        holder.stdin.close()
    else:  # a crash: the kernel drops the lock with the process
        holder.kill()
    holder.wait(timeout=30)
    trainer.fit()
    with rundir.run_lock(tmp_path):  # the trainer let go of it when it finished
        pass


def test_the_lock_is_released_when_training_fails(tmp_path):
    trainer = Trainer(SequenceRegressor(), quiet_config(epochs=1), sum_task(), run_dir=tmp_path)
    with pytest.raises(ValueError, match="no checkpoint to resume from"):
        trainer.fit(resume=True)
    holder = hold_lock(tmp_path)  # a lock still held would make it fail instead of print
    holder.stdin.close()
    holder.wait(timeout=30)
