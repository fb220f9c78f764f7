"""Small seeded tasks, one or more per topology, plus two long-memory benchmarks.

Every generator takes the number of samples ``n`` and a ``seed`` and returns a dict of
tensors named like the models' ``forward`` arguments (``inputs``, ``targets``, ``lengths``),
ready for ``model(**batch)`` or `rnnkit.data.batching.TensorBatches`. The same seed gives
the same data. Padded target steps hold -100 (skipped by the losses).

Token tasks with a decoder (`counting`, `reversal`) number their symbols 0..K-1 and add
``bos = K`` and ``eos = K + 1``; `special_tokens` gives the ids and the vocabulary size.

Shapes: N samples (n), T time, S source steps.
"""

from __future__ import annotations

import torch
from torch import Tensor

Data = dict[str, Tensor]

# The target value of padded steps, which the models' losses skip (rnnkit.models.IGNORE_INDEX,
# torch's cross-entropy default); spelled out here so data does not depend on models.
IGNORE_INDEX = -100


def _check_positive(name: str, value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a positive int, got {value!r}")


def _rng(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def special_tokens(num_symbols: int) -> tuple[int, int, int]:
    """(bos, eos, vocab_size) for K = ``num_symbols`` content symbols."""
    return num_symbols, num_symbols + 1, num_symbols + 2


def split(data: Data, test_size: int) -> tuple[Data, Data]:
    """The first samples for training, the last ``test_size`` for testing."""
    n = next(iter(data.values())).shape[0]
    if not 0 < test_size < n:
        raise ValueError(f"test_size must be in [1, {n - 1}] for {n} samples, got {test_size}")
    return {k: v[:-test_size] for k, v in data.items()}, {
        k: v[-test_size:] for k, v in data.items()
    }


def xor_points(n: int, seed: int = 0) -> Data:
    """One-to-one: points uniform in [-1, 1]^2, class 1 where x*y > 0 (XOR of the signs:
    no linear boundary). inputs (N, 2) float, targets (N,)."""
    points = torch.rand(n, 2, generator=_rng(seed)) * 2 - 1
    return {"inputs": points, "targets": (points.prod(dim=1) > 0).long()}


def _lengths(n: int, min_length: int, max_length: int, rng: torch.Generator) -> Tensor:
    if not 1 <= min_length <= max_length:
        raise ValueError(f"need 1 <= min_length <= max_length, got {min_length} and {max_length}")
    return torch.randint(min_length, max_length + 1, (n,), generator=rng)


def _pad(tokens: Tensor, lengths: Tensor, value: int) -> Tensor:
    steps = torch.arange(tokens.shape[1]).unsqueeze(0)
    return tokens.masked_fill(steps >= lengths.unsqueeze(1), value)


def sum_mod(
    n: int, min_length: int = 6, max_length: int = 10, modulus: int = 2, seed: int = 0
) -> Data:
    """Many-to-one: bit sequences of varying length, label = number of ones mod ``modulus``
    (parity for 2). inputs (N, T) bits, padded with 0 past lengths; targets (N,); lengths."""
    _check_positive("modulus", modulus)
    rng = _rng(seed)
    lengths = _lengths(n, min_length, max_length, rng)
    bits = _pad(torch.randint(0, 2, (n, max_length), generator=rng), lengths, 0)
    return {"inputs": bits, "targets": bits.sum(dim=1) % modulus, "lengths": lengths}


def running_parity(n: int, length: int = 12, seed: int = 0) -> Data:
    """Many-to-many, aligned (tagging): the tag at step t is the parity of the bits up to t.
    inputs (N, T) bits, targets (N, T)."""
    bits = torch.randint(0, 2, (n, length), generator=_rng(seed))
    return {"inputs": bits, "targets": bits.cumsum(dim=1) % 2}


def repeated_pattern(
    n: int, length: int = 24, period: int = 3, num_symbols: int = 6, seed: int = 0
) -> Data:
    """Many-to-many, aligned (next-token prediction): each sequence repeats its own random
    pattern of ``period`` symbols. inputs (N, T), targets (N, T) the next symbols. Targets
    at steps t >= period - 1 are predictable (by looking ``period`` steps back); the first
    ones are a guess."""
    pattern = torch.randint(0, num_symbols, (n, period), generator=_rng(seed))
    sequence = pattern.repeat(1, (length + 1) // period + 1)[:, : length + 1]
    # Copies: as views of one tensor, editing the targets would edit the inputs.
    return {"inputs": sequence[:, :-1].clone(), "targets": sequence[:, 1:].clone()}


def counting(n: int, num_starts: int = 8, length: int = 5, seed: int = 0) -> Data:
    """One-to-many: a one-hot start s in [0, num_starts) -> the tokens s, s+1, ..., then eos.

    inputs (N, num_starts) one-hot floats; targets (N, length + 1). Symbols K =
    num_starts + length - 1; see `special_tokens`."""
    _, eos, _ = special_tokens(num_starts + length - 1)
    start = torch.randint(0, num_starts, (n,), generator=_rng(seed))
    count = start.unsqueeze(1) + torch.arange(length).unsqueeze(0)
    targets = torch.cat([count, torch.full((n, 1), eos)], dim=1)
    return {"inputs": torch.eye(num_starts)[start], "targets": targets}


def reversal(
    n: int, min_length: int = 3, max_length: int = 6, num_symbols: int = 8, seed: int = 0
) -> Data:
    """Many-to-many, unaligned (encoder-decoder): the source reversed, then eos.

    inputs (N, S) symbols in [0, K), padded with 0 past lengths; lengths (N,); targets
    (N, S + 1), -100 after eos. See `special_tokens` for bos and eos."""
    _, eos, _ = special_tokens(num_symbols)
    rng = _rng(seed)
    lengths = _lengths(n, min_length, max_length, rng)
    source = _pad(torch.randint(0, num_symbols, (n, max_length), generator=rng), lengths, 0)
    # Reverse the valid prefix of each row: step t reads source step length - 1 - t.
    steps = torch.arange(max_length).unsqueeze(0)
    index = (lengths.unsqueeze(1) - 1 - steps).clamp(min=0)
    reversed_ = _pad(source.gather(1, index), lengths, IGNORE_INDEX)
    targets = torch.cat([reversed_, torch.full((n, 1), IGNORE_INDEX)], dim=1)
    targets[torch.arange(n), lengths] = eos
    return {"inputs": source, "lengths": lengths, "targets": targets}


def adding_problem(n: int, length: int = 50, seed: int = 0) -> Data:
    """The adding problem (Hochreiter & Schmidhuber, 1997): step t holds a value in [0, 1)
    and a marker; the two marked values, one in each half, are to be summed.

    inputs (N, T, 2) float (value, marker); targets (N,) float. Predicting 1 for every
    sequence gives a mean squared error of about 0.167: the baseline to beat."""
    if length < 2:
        raise ValueError(f"length must be at least 2, got {length}")
    rng = _rng(seed)
    values = torch.rand(n, length, generator=rng)
    half = length // 2
    first = torch.randint(0, half, (n,), generator=rng)
    second = torch.randint(half, length, (n,), generator=rng)
    markers = torch.zeros(n, length)
    rows = torch.arange(n)
    markers[rows, first] = 1.0
    markers[rows, second] = 1.0
    targets = values[rows, first] + values[rows, second]
    return {"inputs": torch.stack([values, markers], dim=-1), "targets": targets}


def copy_memory(
    n: int, delay: int = 50, num_copy: int = 10, num_symbols: int = 8, seed: int = 0
) -> Data:
    """The copy-memory task (Arjovsky et al., 2016): remember ``num_copy`` symbols over
    ``delay`` blank steps, then write them out after a delimiter.

    Ids: 0 blank, 1..num_symbols symbols, num_symbols + 1 delimiter. inputs and targets
    (N, delay + 2 * num_copy): the input is the symbols, delay - 1 blanks, the delimiter
    and num_copy blanks; the target is blanks until the last num_copy steps, which hold the
    symbols. A memoryless model scores a cross-entropy of num_copy * log(num_symbols) /
    (delay + 2 * num_copy): the baseline to beat."""
    _check_positive("delay", delay)
    _check_positive("num_copy", num_copy)
    symbols = torch.randint(1, num_symbols + 1, (n, num_copy), generator=_rng(seed))
    T = delay + 2 * num_copy
    inputs = torch.zeros(n, T, dtype=torch.long)
    inputs[:, :num_copy] = symbols
    inputs[:, num_copy + delay - 1] = num_symbols + 1
    targets = torch.zeros(n, T, dtype=torch.long)
    targets[:, -num_copy:] = symbols
    return {"inputs": inputs, "targets": targets}
