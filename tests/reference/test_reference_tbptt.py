"""Truncated BPTT: a torch loop with `h.detach()` between chunks, full BPTT, a real cut."""

import numpy as np
import pytest
import torch
from reference_fixtures import (
    CONFIG_IDS,
    CONFIGS,
    as_torch,
    as_tuple,
    assert_close,
    problem,
    to_numpy,
    torch_grads,
    torch_twin,
)

from rnnkit.reference import backward, forward, mse_loss, sequence_loss, truncated_bptt

STEPS = 7


def targets(bidirectional, seed=5):
    return np.random.default_rng(seed).standard_normal((3, STEPS, 5 * (1 + bidirectional)))


def sum_of_squares(target):
    """A loss_fn whose chunk losses add up to the whole sequence's loss, whatever k is."""

    def loss_fn(out, start):
        diff = out - target[:, start : start + out.shape[1]]
        return float(np.sum(diff**2)), 2 * diff

    return loss_fn


@pytest.mark.parametrize(("kind", "layers", "bidirectional"), CONFIGS, ids=CONFIG_IDS)
def test_matches_a_torch_loop_that_detaches_the_state_between_chunks(kind, layers, bidirectional):
    params, x, state = problem(kind, layers, bidirectional, steps=STEPS)
    target, k = targets(bidirectional), 3  # chunks of 3, 3 and 1 steps

    module = torch_twin(kind, params, layers, bidirectional)
    state_t, loss_t = tuple(as_torch(s) for s in as_tuple(state)), 0.0
    for start in range(0, STEPS, k):
        chunk = as_torch(x[:, start : start + k])
        out, state_t = module(chunk, state_t if kind == "lstm" else state_t[0])
        loss = torch.nn.functional.mse_loss(out, as_torch(target[:, start : start + k]))
        loss.backward()  # .grad accumulates over chunks
        loss_t += loss.item()
        state_t = tuple(s.detach() for s in as_tuple(state_t))  # the truncation

    total, grads, final = truncated_bptt(kind, params, x, k, sequence_loss(target), state)
    assert total == pytest.approx(loss_t, rel=1e-12)
    for name, grad in torch_grads(module).items():
        assert_close(grads[name], grad, 1e-8, name)
    for ours, theirs in zip(as_tuple(final), state_t, strict=True):
        assert_close(ours, to_numpy(theirs), 1e-10, "final state")


@pytest.mark.parametrize("k", [STEPS, STEPS + 4])
@pytest.mark.parametrize("kind", ["rnn_tanh", "lstm", "gru"])
def test_one_chunk_is_full_bptt(kind, k):
    params, x, state = problem(kind, 2, True, steps=STEPS)
    loss_fn = sum_of_squares(targets(True))
    out, final, cache = forward(kind, params, x, state)
    loss, d_out = loss_fn(out, 0)
    full = backward(cache, d_out)

    total, grads, final_tbptt = truncated_bptt(kind, params, x, k, loss_fn, state)
    assert total == loss
    for name, grad in full.grads.items():
        np.testing.assert_array_equal(grads[name], grad, err_msg=name)
    for ours, theirs in zip(as_tuple(final_tbptt), as_tuple(final), strict=True):
        np.testing.assert_array_equal(ours, theirs)


@pytest.mark.parametrize("kind", ["rnn_tanh", "lstm", "gru"])
def test_truncation_cuts_the_gradient(kind):
    """Same forward pass and loss, but k < T drops the paths that cross chunk borders."""
    params, x, state = problem(kind, 1, False, steps=STEPS)
    loss_fn = sum_of_squares(targets(False))
    full_loss, full, _ = truncated_bptt(kind, params, x, STEPS, loss_fn, state)
    cut_loss, cut, _ = truncated_bptt(kind, params, x, 2, loss_fn, state)
    assert cut_loss == pytest.approx(full_loss, rel=1e-12)  # the forward pass is unchanged
    # W_hh's gradient sums over paths through time, and the cut drops the long ones.
    a, b = cut["weight_hh_l0"], full["weight_hh_l0"]
    assert np.linalg.norm(a - b) > 1e-3 * np.linalg.norm(b)


def test_state_carries_across_calls():
    """Two calls over the halves, the second starting where the first ended, equal one call."""
    params, x, state = problem("lstm", 2, False, steps=STEPS)
    loss_fn = sum_of_squares(targets(False))
    total, grads, final = truncated_bptt("lstm", params, x, 3, loss_fn, state)

    def shifted(out, start):
        return loss_fn(out, start + 3)

    first, grads_1, carried = truncated_bptt("lstm", params, x[:, :3], 3, loss_fn, state)
    second, grads_2, final_2 = truncated_bptt("lstm", params, x[:, 3:], 3, shifted, carried)
    assert first + second == pytest.approx(total, rel=1e-12)
    for name in grads:
        assert_close(grads_1[name] + grads_2[name], grads[name], 1e-12, name)
    for ours, theirs in zip(final_2, final, strict=True):
        np.testing.assert_array_equal(ours, theirs)


def test_mse_loss_matches_torch():
    rng = np.random.default_rng(0)
    out, target = rng.standard_normal((3, 4, 5)), rng.standard_normal((3, 4, 5))
    out_t = as_torch(out).requires_grad_()
    loss_t = torch.nn.functional.mse_loss(out_t, as_torch(target))
    loss_t.backward()
    loss, d_out = mse_loss(out, target)
    assert loss == pytest.approx(loss_t.item(), rel=1e-12)
    assert_close(d_out, out_t.grad.numpy(), 1e-12, "d_out")
    with pytest.raises(ValueError, match=r"target must have the shape of out, \(3, 4, 5\)"):
        mse_loss(out, target[:, :2])
