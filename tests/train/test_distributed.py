"""Data-parallel training under torchrun: it matches one process on the same global batch,
and a pair of processes killed mid-run (launcher and workers) resumes to the same weights,
bit for bit, as a pair left alone."""

import os
import subprocess
import sys
import time
from pathlib import Path

import torch
from safetensors.torch import load_file
from test_resume import SCRIPT, kill_mid_run, run_script, step_records
from test_rundir import hold_lock

from net import PortTaken, free_port, on_free_port, taken
from rnnkit.train.checkpoint import latest_checkpoint

ARGS = ("--dropout", "0", "--epochs", "2")


def torchrun(port=None):
    return [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2",
            "--master_addr=127.0.0.1", f"--master_port={port or free_port()}"]  # fmt: skip


def run_torchrun(run_dir, *args):
    """`run_script` under torchrun, on another port if its own was taken before it bound."""

    def start(port):
        process = run_script(run_dir, *args, launcher=torchrun(port), wait=False)
        _, err = process.communicate(timeout=120)
        if process.returncode != 0 and taken(err):
            raise PortTaken(port)
        assert process.returncode == 0, err

    on_free_port(start)


def weights(run_dir):
    return load_file(run_dir / "model.safetensors")


def test_two_processes_match_one_on_the_same_global_batch(tmp_path):
    run_script(tmp_path / "one", *ARGS)
    run_torchrun(tmp_path / "two", *ARGS)
    one, two = weights(tmp_path / "one"), weights(tmp_path / "two")
    for name, value in one.items():
        torch.testing.assert_close(two[name], value, rtol=0, atol=1e-10, msg=name)


def gone(pid):
    """Whether process ``pid`` has exited (a zombie has: it holds no files or locks)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return True
    return stat.rsplit(")", 1)[1].split()[0] in ("Z", "X")


def kill_all(pid_dir):
    """A ``kill`` for `kill_mid_run` that kills the workers, then the launcher's group: the
    workers run in sessions of their own, so killing the launcher alone would leave them
    training to the end."""

    def kill(launcher, sig):
        workers = [int(path.read_text()) for path in sorted(pid_dir.glob("rank-*.pid"))]
        assert len(workers) == 2, f"expected the PIDs of 2 workers, found {workers}"
        for pid in workers:
            os.kill(pid, sig)
        os.killpg(launcher, sig)
        deadline = time.monotonic() + 30
        while not all(gone(pid) for pid in workers):
            assert time.monotonic() < deadline, f"workers {workers} outlived SIGKILL"
            time.sleep(0.01)

    return kill


def test_two_processes_killed_and_resumed_equal_two_left_alone(tmp_path):
    """With dropout, so each rank must continue its own random stream after the resume."""
    alone, killed, pids = tmp_path / "alone", tmp_path / "killed", tmp_path / "pids"
    args = ("--dropout", "0.3", "--epochs", "2")
    run_torchrun(alone, *args)
    # 10 steps (2 epochs of 5); held before the 10th, killed after the 8th is logged.
    command = [*torchrun(), str(SCRIPT), str(killed), *args, "--delay", "0.1", "--hold-at", "9"]
    command += ["--pid-dir", str(pids)]
    process = subprocess.Popen(command, stderr=subprocess.DEVNULL, start_new_session=True)
    kill_mid_run(process, killed, kill=kill_all(pids), timeout=90)
    stopped_at = latest_checkpoint(killed / "checkpoint")
    time.sleep(1.0)  # workers still alive would write the next checkpoint meanwhile
    assert latest_checkpoint(killed / "checkpoint") == stopped_at
    run_torchrun(killed, *args, "--resume")
    expected, got = weights(alone), weights(killed)
    assert all(torch.equal(expected[name], got[name]) for name in expected)
    assert step_records(killed) == step_records(alone)


def test_a_run_locked_by_another_process_stops_every_rank(tmp_path):
    holder = hold_lock(tmp_path / "run")
    try:
        process = run_script(tmp_path / "run", *ARGS, launcher=torchrun(), wait=False)
        _, err = process.communicate(timeout=120)  # rank 1 must not wait for rank 0 forever
    finally:
        holder.stdin.close()
        holder.wait(timeout=30)
    assert process.returncode != 0
    assert f"is being trained by process {holder.pid}; wait for it or stop it" in err
    assert not (tmp_path / "run" / "checkpoint").exists()
