"""Synthetic tasks: seeded, shaped as documented, and each label what the task says it is."""

import pytest
import torch

from rnnkit.data import synthetic
from rnnkit.models import IGNORE_INDEX

GENERATORS = {
    "xor_points": synthetic.xor_points,
    "sum_mod": synthetic.sum_mod,
    "running_parity": synthetic.running_parity,
    "repeated_pattern": synthetic.repeated_pattern,
    "counting": synthetic.counting,
    "reversal": synthetic.reversal,
    "adding_problem": synthetic.adding_problem,
    "copy_memory": synthetic.copy_memory,
}


@pytest.mark.parametrize("name", GENERATORS)
def test_seeded_and_sample_aligned(name):
    make = GENERATORS[name]
    a, b, c = make(64, seed=3), make(64, seed=3), make(64, seed=4)
    assert a.keys() == b.keys() and "inputs" in a and "targets" in a
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert any(not torch.equal(a[k], c[k]) for k in a)
    assert {v.shape[0] for v in a.values()} == {64}


def test_sum_mod_counts_ones_within_lengths():
    data = synthetic.sum_mod(200, min_length=2, max_length=9, modulus=3, seed=0)
    for bits, target, length in zip(data["inputs"], data["targets"], data["lengths"], strict=True):
        assert int(bits[:length].sum()) % 3 == int(target)
        assert bits[length:].eq(0).all()
    assert set(data["lengths"].tolist()) == set(range(2, 10))


def test_running_parity_tags_each_prefix():
    data = synthetic.running_parity(20, length=8, seed=0)
    for t in range(8):
        assert torch.equal(data["targets"][:, t], data["inputs"][:, : t + 1].sum(1) % 2)


def test_repeated_pattern_repeats_and_targets_are_the_next_tokens():
    data = synthetic.repeated_pattern(10, length=12, period=4, num_symbols=5, seed=0)
    x, y = data["inputs"], data["targets"]
    assert torch.equal(x[:, 4:], x[:, :-4]) and torch.equal(y[:, :-1], x[:, 1:])
    y[:, 0] = -100  # targets are their own tensor, not a view of the inputs
    assert (x >= 0).all()


def test_counting_counts_up_from_the_one_hot_start():
    data = synthetic.counting(30, num_starts=4, length=3, seed=0)
    bos, eos, vocab = synthetic.special_tokens(4 + 3 - 1)
    start = data["inputs"].argmax(1)
    assert torch.equal(data["targets"][:, :3], start[:, None] + torch.arange(3))
    assert (data["targets"][:, 3] == eos).all() and data["targets"][:, :3].max() < bos < vocab


def test_reversal_reverses_the_valid_prefix_then_ends():
    data = synthetic.reversal(50, min_length=2, max_length=5, num_symbols=6, seed=0)
    _, eos, _ = synthetic.special_tokens(6)
    assert data["targets"].shape == (50, 6)
    rows = zip(*(data[k] for k in ("inputs", "targets", "lengths")), strict=True)
    for source, target, length in rows:
        assert torch.equal(target[:length], source[:length].flip(0))
        assert target[length] == eos and (target[length + 1 :] == -100).all()
        assert (source[length:] == 0).all()


def test_adding_problem_marks_one_value_in_each_half():
    data = synthetic.adding_problem(40, length=10, seed=0)
    values, markers = data["inputs"].unbind(-1)
    assert (markers.sum(1) == 2).all()
    assert (markers[:, :5].sum(1) == 1).all()
    torch.testing.assert_close(data["targets"], (values * markers).sum(1))


def test_copy_memory_layout():
    data = synthetic.copy_memory(5, delay=7, num_copy=3, num_symbols=4, seed=0)
    x, y = data["inputs"], data["targets"]
    assert x.shape == y.shape == (5, 7 + 2 * 3)
    symbols = x[:, :3]
    assert ((symbols >= 1) & (symbols <= 4)).all()
    assert (x[:, 3:9] == 0).all() and (x[:, 9] == 5).all() and (x[:, 10:] == 0).all()
    assert (y[:, :-3] == 0).all() and torch.equal(y[:, -3:], symbols)


def test_padding_value_is_the_models():
    assert synthetic.IGNORE_INDEX == IGNORE_INDEX


def test_split_and_bad_arguments():
    train, test = synthetic.split(synthetic.xor_points(10), 3)
    assert train["inputs"].shape == (7, 2) and test["targets"].shape == (3,)
    with pytest.raises(ValueError, match=r"test_size must be in \[1, 9\] for 10 samples, got 10"):
        synthetic.split(synthetic.xor_points(10), 10)
    with pytest.raises(ValueError, match="need 1 <= min_length <= max_length, got 5 and 3"):
        synthetic.sum_mod(4, min_length=5, max_length=3)
    with pytest.raises(ValueError, match="length must be at least 2, got 1"):
        synthetic.adding_problem(4, length=1)
