"""One step of each cell against torch's nn.RNNCell / nn.LSTMCell / nn.GRUCell."""

import numpy as np
import pytest
from reference_fixtures import KINDS, as_torch, as_tuple, assert_close, torch_cell

from rnnkit.reference import (
    GATES,
    gru_cell_backward,
    gru_cell_forward,
    lstm_cell_backward,
    lstm_cell_forward,
    rnn_cell_backward,
    rnn_cell_forward,
)


def cell_functions(kind):
    if kind == "lstm":
        return lstm_cell_forward, lstm_cell_backward
    if kind == "gru":
        return gru_cell_forward, gru_cell_backward
    nonlinearity = kind.removeprefix("rnn_")

    def forward(*args):
        return rnn_cell_forward(*args, nonlinearity=nonlinearity)

    return forward, rnn_cell_backward


@pytest.mark.parametrize("kind", KINDS)
def test_one_step_forward_and_backward_match_torch(kind):
    rng = np.random.default_rng(0)
    N, I, H = 4, 3, 5
    rows = GATES[kind] * H
    weights = [
        rng.standard_normal(shape) * 0.5 for shape in [(rows, I), (rows, H), (rows,), (rows,)]
    ]
    x = rng.standard_normal((N, I))
    state = tuple(rng.standard_normal((N, H)) for _ in range(2 if kind == "lstm" else 1))
    d_new = tuple(rng.standard_normal((N, H)) for _ in state)
    cell_forward, cell_backward = cell_functions(kind)

    new_state, cache = cell_forward(x, state if kind == "lstm" else state[0], *weights)
    dx, d_state, *d_weights = cell_backward(d_new if kind == "lstm" else d_new[0], cache)

    cell = torch_cell(kind, *weights)
    x_t = as_torch(x).requires_grad_()
    state_t = tuple(as_torch(s).requires_grad_() for s in state)
    new_t = as_tuple(cell(x_t, state_t if kind == "lstm" else state_t[0]))
    sum((s * as_torch(g)).sum() for s, g in zip(new_t, d_new, strict=True)).backward()

    for ours, theirs in zip(as_tuple(new_state), new_t, strict=True):
        assert_close(ours, theirs.detach().numpy(), 1e-12, "new state")
    assert_close(dx, x_t.grad.numpy(), 1e-12, "dx")
    for ours, theirs in zip(as_tuple(d_state), state_t, strict=True):
        assert_close(ours, theirs.grad.numpy(), 1e-12, "d_state")
    for ours, name in zip(d_weights, ("weight_ih", "weight_hh", "bias_ih", "bias_hh"), strict=True):
        assert_close(ours, getattr(cell, name).grad.numpy(), 1e-12, name)


def test_relu_gradient_is_zero_where_the_preactivation_is_not_positive():
    W_ih, W_hh = np.eye(2), np.zeros((2, 2))
    h, cache = rnn_cell_forward(
        np.array([[1.0, -1.0]]), np.zeros((1, 2)), W_ih, W_hh, np.zeros(2), np.zeros(2), "relu"
    )
    np.testing.assert_array_equal(h, [[1.0, 0.0]])
    dx, *_ = rnn_cell_backward(np.ones((1, 2)), cache)
    np.testing.assert_array_equal(dx, [[1.0, 0.0]])


def test_unknown_nonlinearity():
    x, h, W, b = np.zeros((1, 2)), np.zeros((1, 2)), np.eye(2), np.zeros(2)
    with pytest.raises(ValueError, match="nonlinearity must be 'tanh' or 'relu', got 'sigmoid'"):
        rnn_cell_forward(x, h, W, W, b, b, "sigmoid")
