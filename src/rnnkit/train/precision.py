"""Which precision the trainer computes in: ``train.precision`` = ``fp32``, ``bf16`` or ``auto``.

``bf16`` runs the forward pass under `torch.autocast` in bfloat16 (the weights, the
optimizer and the gradients stay float32); ``fp32`` never does. ``auto`` picks bf16 where it
pays and keeps the results:

- on a CUDA GPU, always;
- on a CPU, where the CPU has bfloat16 instructions (AMX or AVX-512 BF16, which oneDNN's
  matrix multiplies and LSTM kernels use) and the task has measured that its scores hold in
  bf16 (a task says so with ``Built.bf16_on_cpu``; the language model does: the demo's test
  perplexity 56.10 in bf16 against 55.90 in fp32, 1.5x faster per epoch on a CPU with AMX;
  a classifier of MNIST rows does not: no faster, 0.2 points less accurate; the captioner
  is 1.2x faster but 1.2 points less exact, so it stays fp32 too).
  Elsewhere on a CPU, fp32: without the instructions bf16 is emulated and slower.
"""

from __future__ import annotations

import functools
from typing import Literal

import torch

Precision = Literal["auto", "fp32", "bf16"]
BF16_FLAGS = ("amx_bf16", "avx512_bf16")  # torch.cpu.get_capabilities() names


@functools.cache
def cpu_capabilities() -> dict:
    """torch's view of this CPU: its name, cores and instruction sets ({} if unknown)."""
    try:
        return dict(torch.cpu.get_capabilities())
    except (AttributeError, RuntimeError):  # a torch without it, or a CPU it cannot read
        return {}


def cpu_bf16_flags() -> list[str]:
    """The bfloat16 instruction sets this CPU has, of `BF16_FLAGS`."""
    capabilities = cpu_capabilities()
    return [flag for flag in BF16_FLAGS if capabilities.get(flag)]


def describe_cpu() -> str:
    """One line for benchmarks: "Intel Xeon, 2 cores, avx2 avx512_f amx_bf16 ..."."""
    capabilities = cpu_capabilities()
    flags = [
        flag
        for flag in ("avx2", "avx512_f", "avx512_vnni", "avx512_bf16", "amx_bf16")
        if capabilities.get(flag)
    ]
    name = capabilities.get("cpu_name") or "CPU"
    cores = capabilities.get("num_logical_cores") or torch.get_num_threads()
    return f"{name}, {cores} cores, {' '.join(flags) or 'no AVX2'}"


def use_bf16(precision: Precision, device: torch.device, bf16_on_cpu: bool = False) -> bool:
    """Whether training on ``device`` runs under bf16 autocast (see the module)."""
    if precision != "auto":
        return precision == "bf16"
    if device.type == "cuda":
        return True
    return device.type == "cpu" and bf16_on_cpu and bool(cpu_bf16_flags())
