"""The LSTM cell (Hochreiter & Schmidhuber, 1997, with the forget gate), torch's formulation.

    [a_i, a_f, a_g, a_o] = W_ih x + b_ih + W_hh h_prev + b_hh      (4 blocks of H rows)
    i = sigmoid(a_i)   input gate        f = sigmoid(a_f)   forget gate
    g = tanh(a_g)      candidate         o = sigmoid(a_o)   output gate
    c = f * c_prev + i * g
    h = o * tanh(c)

Shapes: N batch, I input features, H hidden units. Weights use torch's layout, rows in gate
order i, f, g, o: W_ih (4H, I), W_hh (4H, H), b_ih (4H,), b_hh (4H,). The state is a pair
(h, c) of (N, H) arrays, and so is its gradient.
"""

from __future__ import annotations

import numpy as np

from rnnkit.reference.ops import gate_blocks, linear, linear_backward, sigmoid


def lstm_cell_forward(
    x: np.ndarray,
    state: tuple[np.ndarray, np.ndarray],
    W_ih: np.ndarray,
    W_hh: np.ndarray,
    b_ih: np.ndarray,
    b_hh: np.ndarray,
) -> tuple[tuple[np.ndarray, np.ndarray], tuple]:
    """One LSTM step.

    x: (N, I), state: (h_prev, c_prev), each (N, H) -> ((h, c), cache for `lstm_cell_backward`).
    """
    h_prev, c_prev = state
    a = linear(x, W_ih, b_ih) + linear(h_prev, W_hh, b_hh)  # (N, 4H)
    a_i, a_f, a_g, a_o = gate_blocks(a, 4)
    i = sigmoid(a_i)
    f = sigmoid(a_f)
    g = np.tanh(a_g)
    o = sigmoid(a_o)
    c = f * c_prev + i * g
    tanh_c = np.tanh(c)
    h = o * tanh_c
    cache = (x, h_prev, c_prev, i, f, g, o, tanh_c, W_ih, W_hh)
    return (h, c), cache


def lstm_cell_backward(d_state: tuple[np.ndarray, np.ndarray], cache: tuple) -> tuple:
    """Backpropagate one step of `lstm_cell_forward`.

    d_state: (dh, dc), each (N, H): dLoss/dh and dLoss/dc for this step's outputs (dh already
    holds the layer above's and the next step's share; dc comes from the next step only).
    Returns dx (N, I), (dh_prev, dc_prev), dW_ih (4H, I), dW_hh (4H, H), db_ih, db_hh (4H,).
    """
    dh, dc_next = d_state
    x, h_prev, c_prev, i, f, g, o, tanh_c, W_ih, W_hh = cache
    do = dh * tanh_c  # inverts h = o * tanh(c)
    dc = dc_next + dh * o * (1.0 - tanh_c**2)  # inverts h = o * tanh(c); c also fed the next step
    df = dc * c_prev  # inverts c = f * c_prev + i * g
    dc_prev = dc * f  # inverts c = f * c_prev + i * g
    di = dc * g  # inverts c = f * c_prev + i * g
    dg = dc * i  # inverts c = f * c_prev + i * g
    da_i = di * i * (1.0 - i)  # inverts i = sigmoid(a_i)
    da_f = df * f * (1.0 - f)  # inverts f = sigmoid(a_f)
    da_g = dg * (1.0 - g**2)  # inverts g = tanh(a_g)
    da_o = do * o * (1.0 - o)  # inverts o = sigmoid(a_o)
    da = np.concatenate([da_i, da_f, da_g, da_o], axis=1)  # inverts gate_blocks(a, 4)
    dx, dW_ih, db_ih = linear_backward(da, x, W_ih)  # inverts a = W_ih x + b_ih + ...
    dh_prev, dW_hh, db_hh = linear_backward(da, h_prev, W_hh)  # inverts ... + W_hh h_prev + b_hh
    return dx, (dh_prev, dc_prev), dW_ih, dW_hh, db_ih, db_hh
