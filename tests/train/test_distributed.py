"""Data-parallel training under torchrun matches one process on the same global batch."""

import socket
import sys

import torch
from safetensors.torch import load_file
from test_resume import run_script


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_two_processes_match_one_on_the_same_global_batch(tmp_path):
    args = ("--dropout", "0", "--epochs", "2")
    run_script(tmp_path / "one", *args)
    launcher = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--nproc_per_node=2",
        "--master_addr=127.0.0.1",
        f"--master_port={free_port()}",
    ]
    run_script(tmp_path / "two", *args, launcher=launcher)
    one = load_file(tmp_path / "one" / "model.safetensors")
    two = load_file(tmp_path / "two" / "model.safetensors")
    for name, value in one.items():
        torch.testing.assert_close(two[name], value, rtol=0, atol=1e-10, msg=name)
