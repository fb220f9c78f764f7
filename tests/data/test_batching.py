"""Batching: deterministic epochs, resumable positions, shards that add up to the global batch."""

import pytest
import torch

from rnnkit.data.batching import StreamBatches, TensorBatches, count_scored, count_tokens


def samples(n=10, t=6):
    return {
        "inputs": torch.arange(n * t).view(n, t),
        "targets": torch.arange(n),
        "lengths": torch.tensor([6, 2, 3, 6, 1, 4, 5, 2, 3, 6][:n]),
    }


def test_epochs_are_deterministic_permutations_that_cover_every_sample():
    data = TensorBatches(samples(), batch_size=4, seed=3)
    first = [b["targets"] for b in data.epoch(0)]
    assert len(data) == len(first) == 3 and sorted(torch.cat(first).tolist()) == list(range(10))
    assert all(torch.equal(a, b["targets"]) for a, b in zip(first, data.epoch(0), strict=True))
    assert not torch.equal(torch.cat(first), torch.cat([b["targets"] for b in data.epoch(1)]))


def test_starting_mid_epoch_yields_the_remaining_batches():
    data = TensorBatches(samples(), batch_size=4)
    full = [b["targets"] for b in data.epoch(2)]
    rest = [b["targets"] for b in data.epoch(2, start=1)]
    assert all(torch.equal(a, b) for a, b in zip(full[1:], rest, strict=True))


def test_batches_are_trimmed_to_their_longest_sequence():
    data = samples() | {"targets": torch.arange(60).view(10, 6)}  # aligned: tagging
    for batch in TensorBatches(data, batch_size=3).epoch(0):
        assert batch["inputs"].shape[1] == batch["targets"].shape[1] == batch["lengths"].max()


def test_unaligned_targets_keep_their_length():
    data = samples() | {"targets": torch.arange(70).view(10, 7)}  # e.g. reversed source + eos
    for batch in TensorBatches(data, batch_size=3).epoch(0):
        assert batch["inputs"].shape[1] == batch["lengths"].max() and batch["targets"].shape[1] == 7


def test_shards_partition_each_global_batch():
    whole = TensorBatches(samples(), batch_size=4, drop_last=True)
    shards = [TensorBatches(samples(), batch_size=4, rank=r, world_size=2) for r in (0, 1)]
    assert len(shards[0]) == len(whole) == 2
    for batch, *parts in zip(whole.epoch(0), *(s.epoch(0) for s in shards), strict=True):
        joined = torch.cat([p["targets"] for p in parts])
        assert torch.equal(joined, batch["targets"])


def test_stream_chunks_continue_each_row_and_reset_at_the_start():
    tokens = torch.arange(41)
    data = StreamBatches(tokens, batch_size=4, bptt=3)  # rows of 10 steps: chunks 3,3,3,1
    chunks = list(data.epoch(0))
    assert len(data) == len(chunks) == 4 and chunks[-1]["inputs"].shape == (4, 1)
    row = torch.cat([c["inputs"][1] for c in chunks])
    assert torch.equal(row, torch.arange(10, 20))
    assert torch.equal(torch.cat([c["targets"][1] for c in chunks]), torch.arange(11, 21))
    assert chunks[0]["reset"].all() and not chunks[1]["reset"].any()
    assert count_tokens(chunks[0]) == 12


def test_stream_shards_take_their_own_rows():
    tokens = torch.arange(41)
    rows = [StreamBatches(tokens, 4, 5, rank=r, world_size=2).inputs for r in (0, 1)]
    assert torch.equal(torch.cat(rows), StreamBatches(tokens, 4, 5).inputs)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: TensorBatches(samples(), batch_size=3, world_size=2), "divisible by the number"),
        (lambda: TensorBatches({"a": torch.ones(3), "b": torch.ones(4)}, 2), "share their first"),
        (lambda: TensorBatches(samples(), batch_size=0), "batch_size must be a positive int"),
        (lambda: StreamBatches(torch.arange(5), batch_size=8, bptt=2), "too short for 8 rows"),
        (lambda: StreamBatches(torch.rand(50), batch_size=2, bptt=2), "1-D integer tensor"),
        (lambda: StreamBatches(torch.arange(50), batch_size=2, bptt=0), "bptt must be"),
    ],
)
def test_bad_batching_arguments(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_count_scored_counts_what_the_loss_averages_over():
    assert count_scored({"targets": torch.tensor([[1, 2, -100], [3, -100, -100]])}) == 3
    assert (
        count_scored({"targets": torch.tensor([0, 1, 1]), "lengths": torch.tensor([5, 9, 2])}) == 3
    )
    assert count_scored({"targets": torch.rand(4, 2)}) == 8
