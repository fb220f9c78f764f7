"""Trainer throughput against a minimal hand-written PyTorch loop, measured in one run.

Both train the same 2-layer LSTM language model (256 units) with truncated BPTT on the same
token stream (batch 32, chunks of 128), with Adam and gradient clipping at norm 1. Rounds
alternate between the two so that both see the same machine conditions; the median round
counts. Also printed: the achieved GFLOP/s of the trainer as a fraction of a large matrix
multiply timed in the same run, which says how close the recurrent kernels get to the
hardware.

usage: python bench/train_throughput.py [--chunks 20] [--rounds 3] [--device cpu]
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from rnnkit.data.batching import StreamBatches
from rnnkit.layers import detach_state, recurrent_flops
from rnnkit.models import LanguageModel
from rnnkit.train import distributed
from rnnkit.train.trainer import TrainConfig, Trainer

VOCAB, EMBED, HIDDEN, LAYERS, BATCH, BPTT = 2000, 256, 256, 2, 32, 128


def build(seed: int, device: torch.device) -> LanguageModel:
    torch.manual_seed(seed)
    return LanguageModel(VOCAB, EMBED, HIDDEN, kind="lstm", num_layers=LAYERS).to(device)


def plain_loop(model: LanguageModel, data: StreamBatches, device: torch.device) -> float:
    """The loop a user would write by hand; returns tokens per second."""
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    state, tokens = None, 0
    if device.type == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    for batch in data.epoch(0):
        inputs, targets = batch["inputs"].to(device), batch["targets"].to(device)
        output, loss = model(inputs, targets, state=state)
        state = detach_state(output.state)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        tokens += inputs.numel()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return tokens / (time.perf_counter() - start)


def trainer_run(model: LanguageModel, data: StreamBatches, device: torch.device) -> float:
    # fp32 like the hand-written loop: the comparison is the loop's overhead, not bf16.
    config = TrainConfig(
        epochs=1, lr=1e-3, clip_norm=1.0, quiet=True, device=device.type, precision="fp32"
    )
    context = distributed.Context(device=device)
    trainer = Trainer(model, config, data, context=context)
    if device.type == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    trainer.fit()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return len(data) * BATCH * BPTT / (time.perf_counter() - start)


def matmul_gflops(device: torch.device, size: int = 2048, repeats: int = 10) -> float:
    a = torch.randn(size, size, device=device)
    b = torch.randn(size, size, device=device)
    a @ b  # warm-up
    if device.type == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(repeats):
        a @ b
    if device.type == "cuda":
        torch.cuda.synchronize()
    return 2 * size**3 * repeats / (time.perf_counter() - start) / 1e9


def flops_per_token() -> float:
    """Forward FLOPs of one token (recurrence + output layer), times 3 for forward+backward."""
    forward = sum(
        recurrent_flops("lstm", EMBED if layer == 0 else HIDDEN, HIDDEN, 1)
        for layer in range(LAYERS)
    )
    forward += 2 * HIDDEN * VOCAB
    return 3 * forward


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chunks", type=int, default=20, help="chunks per round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    device = torch.device(args.device)
    generator = torch.Generator().manual_seed(0)
    stream = torch.randint(VOCAB, (BATCH * BPTT * args.chunks + 1,), generator=generator)
    data = StreamBatches(stream, BATCH, BPTT)

    plain_loop(build(0, device), data, device)  # warm-up: kernels, allocator, thread pool
    plain, ours = [], []
    for round_ in range(args.rounds):
        plain.append(plain_loop(build(round_, device), data, device))
        ours.append(trainer_run(build(round_, device), data, device))
    plain_rate, our_rate = statistics.median(plain), statistics.median(ours)
    achieved = our_rate * flops_per_token() / 1e9
    peak = matmul_gflops(device)

    print(f"device {device}, torch threads {torch.get_num_threads()}, {args.rounds} rounds")
    print(f"model: LSTM {LAYERS}x{HIDDEN}, vocab {VOCAB}, batch {BATCH}, bptt {BPTT}")
    print(f"plain PyTorch loop  {plain_rate:12,.0f} tokens/s")
    print(f"rnnkit Trainer      {our_rate:12,.0f} tokens/s")
    print(f"ratio trainer/plain {our_rate / plain_rate:12.3f}   (target >= 0.95)")
    print(f"achieved            {achieved:12.1f} GFLOP/s")
    print(f"2048^2 matmul       {peak:12.1f} GFLOP/s")
    print(f"fraction of matmul  {achieved / peak:12.3f}")


if __name__ == "__main__":
    main()
