"""Data-parallel training under torchrun: it matches one process on the same global batch,
and a pair of processes killed mid-run resumes to the same weights as a pair left alone."""

import os
import socket
import subprocess
import sys

import torch
from safetensors.torch import load_file
from test_resume import SCRIPT, kill_mid_run, run_script

ARGS = ("--dropout", "0", "--epochs", "2")


def torchrun():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2",
            "--master_addr=127.0.0.1", f"--master_port={port}"]  # fmt: skip


def weights(run_dir):
    return load_file(run_dir / "model.safetensors")


def test_two_processes_match_one_on_the_same_global_batch(tmp_path):
    run_script(tmp_path / "one", *ARGS)
    run_script(tmp_path / "two", *ARGS, launcher=torchrun())
    one, two = weights(tmp_path / "one"), weights(tmp_path / "two")
    for name, value in one.items():
        torch.testing.assert_close(two[name], value, rtol=0, atol=1e-10, msg=name)


def test_two_processes_killed_and_resumed_equal_two_left_alone(tmp_path):
    alone, killed = tmp_path / "alone", tmp_path / "killed"
    run_script(alone, *ARGS, launcher=torchrun())
    command = [*torchrun(), str(SCRIPT), str(killed), *ARGS, "--delay", "0.1"]
    process = subprocess.Popen(command, stderr=subprocess.DEVNULL, start_new_session=True)
    kill_mid_run(process, killed, kill=os.killpg, timeout=90)  # the launcher and both workers
    run_script(killed, *ARGS, "--resume", launcher=torchrun())
    expected, got = weights(alone), weights(killed)
    assert all(torch.equal(expected[name], got[name]) for name in expected)
