"""Batches the trainer reads: shuffled sample batches, and contiguous streams for truncated BPTT.

Both kinds are prepared once as contiguous tensors and sliced per batch, so nothing in the
training loop copies or pads. Both are deterministic functions of (seed, epoch, position) and
can start in the middle of an epoch, which is what makes a resumed run equal to one left alone.
Both shard for data-parallel training: ``batch_size`` is the global batch, and each of the
``world_size`` ranks takes its own ``batch_size // world_size`` rows of every batch.

A batch is a dict whose keys are the model's ``forward`` arguments (``inputs``, ``targets``,
``lengths``, ...), so the trainer calls ``model(**batch)``. Stream batches also carry
``reset`` (N,) bool: rows whose recurrent state must start from zero at this chunk.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence

import torch
from torch import Tensor


def pad_sequences(sequences: list[Tensor], padding_value: float = 0) -> tuple[Tensor, Tensor]:
    """Variable-length (T_i, ...) sequences -> (padded (N, T, ...), lengths (N,))."""
    lengths = torch.tensor([len(s) for s in sequences], dtype=torch.long)
    padded = torch.nn.utils.rnn.pad_sequence(sequences, batch_first=True,
                                             padding_value=padding_value)  # fmt: skip
    return padded, lengths


def length_buckets(
    lengths: Sequence[int], batch_size: int, generator: torch.Generator | None = None,
    chunk: int = 50,
) -> list[list[int]]:  # fmt: skip
    """Batches of indices of similar ``lengths``, so a batch pads little: the indices
    shuffled by ``generator`` (kept in order without one), cut into chunks of ``chunk``
    batches, each chunk sorted by length and cut into batches, and the batches shuffled
    again, so the order still changes from epoch to epoch."""
    n = len(lengths)
    order = torch.randperm(n, generator=generator).tolist() if generator else list(range(n))
    batches = []
    for at in range(0, n, batch_size * chunk):
        part = sorted(order[at : at + batch_size * chunk], key=lengths.__getitem__)
        batches += [part[b : b + batch_size] for b in range(0, len(part), batch_size)]
    if generator:
        batches = [batches[i] for i in torch.randperm(len(batches), generator=generator)]
    return batches


def _check_shard(batch_size: int, rank: int, world_size: int) -> int:
    if batch_size < 1:
        raise ValueError(f"batch_size must be a positive int, got {batch_size}")
    if not 0 <= rank < world_size:
        raise ValueError(f"rank must be in [0, world_size={world_size}), got {rank}")
    if batch_size % world_size:
        raise ValueError(
            f"batch_size {batch_size} must be divisible by the number of processes {world_size}"
        )
    return batch_size // world_size


class TensorBatches:
    """Mini-batches of samples: every tensor in ``tensors`` is indexed along dim 0.

    Args:
        tensors: name -> tensor with the same first dimension (the samples), e.g.
            ``{"inputs": (S, T, I), "targets": (S,), "lengths": (S,)}``.
        batch_size: global batch size. Each rank gets ``batch_size // world_size`` rows.
        shuffle: a fresh permutation each epoch, drawn from ``seed + epoch``. Default True.
        drop_last: drop the last incomplete batch (default False; always dropped when
            ``world_size > 1`` so every rank does the same number of steps).
        seed, rank, world_size: see the module docstring.

        time_aligned: the tensors whose dim 1 is the input's time axis, trimmed with it
            when ``lengths`` is present. Default: ``inputs``, and ``targets`` when it has the
            inputs' padded length (tagging); give it explicitly when a target of the same
            padded length is not aligned with the inputs (translation).

    When ``lengths`` is present, each batch is trimmed to its longest sequence, so short
    batches do not pay for the padding of long ones.
    """

    stateful = False

    def __init__(
        self,
        tensors: Mapping[str, Tensor],
        batch_size: int,
        shuffle: bool = True,
        drop_last: bool = False,
        seed: int = 0,
        rank: int = 0,
        world_size: int = 1,
        time_aligned: tuple[str, ...] | None = None,
    ) -> None:
        sizes = {name: t.shape[0] for name, t in tensors.items()}
        if not sizes or len(set(sizes.values())) != 1:
            raise ValueError(f"tensors must share their first dimension (samples), got {sizes}")
        self.tensors = dict(tensors)
        self.num_samples = next(iter(sizes.values()))
        self.local_batch = _check_shard(batch_size, rank, world_size)
        self.batch_size, self.shuffle, self.seed = batch_size, shuffle, seed
        self.rank, self.world_size = rank, world_size
        self.drop_last = drop_last or world_size > 1
        if time_aligned is None:
            inputs, targets = tensors.get("inputs"), tensors.get("targets")
            same = targets is not None and inputs is not None and targets.dim() >= 2
            same = same and inputs.dim() >= 2 and targets.shape[1] == inputs.shape[1]
            time_aligned = ("inputs", "targets") if same else ("inputs",)
        self.time_aligned = time_aligned
        if self.num_samples < (batch_size if self.drop_last else 1):
            raise ValueError(f"{self.num_samples} samples are fewer than one batch of {batch_size}")

    def __len__(self) -> int:
        full, rest = divmod(self.num_samples, self.batch_size)
        return full + (1 if rest and not self.drop_last else 0)

    def epoch(self, epoch: int, start: int = 0) -> Iterator[dict[str, Tensor]]:
        """Batches ``start, start+1, ...`` of ``epoch`` for this rank."""
        if self.shuffle:
            generator = torch.Generator().manual_seed(self.seed * 100_003 + epoch)
            order = torch.randperm(self.num_samples, generator=generator)
        else:
            order = torch.arange(self.num_samples)
        for b in range(start, len(self)):
            rows = order[b * self.batch_size : (b + 1) * self.batch_size]
            local = len(rows) // self.world_size
            rows = rows[self.rank * local : (self.rank + 1) * local]
            yield self._gather(rows)

    def _gather(self, rows: Tensor) -> dict[str, Tensor]:
        batch = {name: t[rows] for name, t in self.tensors.items()}
        if "lengths" in batch:
            longest = int(batch["lengths"].max())
            for name in self.time_aligned:
                batch[name] = batch[name][:, :longest]
        return batch


class StreamBatches:
    """Contiguous chunks of a token stream for truncated BPTT.

    The stream is cut into ``batch_size`` rows of equal length (the classic "batchify"), and
    an epoch walks them left to right ``bptt`` steps at a time: chunk ``i`` holds
    ``inputs = rows[:, i*bptt : (i+1)*bptt]`` and the same shifted one step as ``targets``.
    Row ``n`` of chunk ``i+1`` continues row ``n`` of chunk ``i``, which is why the trainer
    carries the recurrent state from one chunk to the next.

    Args:
        tokens: (S,) integer stream.
        batch_size: global number of rows; each rank takes ``batch_size // world_size`` rows.
        bptt: chunk length k. The last chunk may be shorter.
        rank, world_size: see the module docstring.

    Every epoch starts from a zero state (``reset`` is all True on chunk 0).
    """

    stateful = True

    def __init__(
        self, tokens: Tensor, batch_size: int, bptt: int, rank: int = 0, world_size: int = 1
    ) -> None:
        local = _check_shard(batch_size, rank, world_size)
        if bptt < 1:
            raise ValueError(f"bptt must be a positive int, got {bptt}")
        if tokens.dim() != 1 or tokens.is_floating_point():
            raise ValueError(f"tokens must be a 1-D integer tensor, got {tuple(tokens.shape)}")
        row_length = (tokens.numel() - 1) // batch_size
        if row_length < 1:
            raise ValueError(
                f"a stream of {tokens.numel()} tokens is too short for {batch_size} rows; "
                "use a smaller batch_size or more text"
            )
        # (batch_size, row_length + 1): one extra column so targets are inputs shifted by one.
        used = tokens[: batch_size * row_length + 1]
        inputs = used[:-1].view(batch_size, row_length)
        targets = used[1:].view(batch_size, row_length)
        rows = slice(rank * local, (rank + 1) * local)
        self.inputs, self.targets = inputs[rows].contiguous(), targets[rows].contiguous()
        self.batch_size, self.bptt, self.row_length = batch_size, bptt, row_length

    def __len__(self) -> int:
        return -(-self.row_length // self.bptt)

    def epoch(self, epoch: int, start: int = 0) -> Iterator[dict[str, Tensor]]:
        """Chunks ``start, start+1, ...``; ``epoch`` does not change the order of a stream."""
        for i in range(start, len(self)):
            cols = slice(i * self.bptt, (i + 1) * self.bptt)
            reset = torch.full((self.inputs.shape[0],), i == 0)
            yield {"inputs": self.inputs[:, cols], "targets": self.targets[:, cols], "reset": reset}


def count_tokens(batch: Mapping[str, Tensor]) -> int:
    """Time steps in a batch: sum of lengths if given, else N*T of the inputs, else N."""
    if "lengths" in batch:
        return int(batch["lengths"].sum())
    inputs = batch["inputs"]
    return inputs.shape[0] * inputs.shape[1] if inputs.dim() >= 2 else inputs.shape[0]


def count_scored(batch: Mapping[str, Tensor]) -> int:
    """What a batch's mean loss averages over: target ids that are scored (not -100), or
    every target value. The weight of the batch when losses are averaged over batches."""
    targets = batch["targets"]
    if targets.is_floating_point():
        return targets.numel()
    return int((targets != -100).sum())
