"""The Elman RNN cell: one step forward, one step back.

    pre = W_ih x + b_ih + W_hh h_prev + b_hh
    h   = tanh(pre)            (nonlinearity="tanh", torch's default)
    h   = max(pre, 0)          (nonlinearity="relu")

Shapes: N batch, I input features, H hidden units. Weights use torch's layout:
W_ih (H, I), W_hh (H, H), b_ih (H,), b_hh (H,).
"""

from __future__ import annotations

import numpy as np

from rnnkit.reference.ops import linear, linear_backward

NONLINEARITIES = ("tanh", "relu")


def rnn_cell_forward(
    x: np.ndarray,
    h_prev: np.ndarray,
    W_ih: np.ndarray,
    W_hh: np.ndarray,
    b_ih: np.ndarray,
    b_hh: np.ndarray,
    nonlinearity: str = "tanh",
) -> tuple[np.ndarray, tuple]:
    """One step of an Elman RNN.

    x: (N, I), h_prev: (N, H) -> h: (N, H), and the cache that `rnn_cell_backward` needs.
    nonlinearity: "tanh" (default) or "relu".
    """
    if nonlinearity not in NONLINEARITIES:
        raise ValueError(f"nonlinearity must be 'tanh' or 'relu', got {nonlinearity!r}")
    pre = linear(x, W_ih, b_ih) + linear(h_prev, W_hh, b_hh)
    h = np.tanh(pre) if nonlinearity == "tanh" else np.maximum(pre, 0.0)
    cache = (x, h_prev, pre, h, W_ih, W_hh, nonlinearity)
    return h, cache


def rnn_cell_backward(dh: np.ndarray, cache: tuple) -> tuple[np.ndarray, ...]:
    """Backpropagate one step of `rnn_cell_forward`.

    dh: (N, H), dLoss/dh for this step's output h (from the layer above and from the next
    step, already added up).
    Returns dx (N, I), dh_prev (N, H), dW_ih (H, I), dW_hh (H, H), db_ih (H,), db_hh (H,).
    """
    x, h_prev, pre, h, W_ih, W_hh, nonlinearity = cache
    # The slope dh/dpre: tanh' = 1 - tanh², relu' = 1 where pre > 0 (0 at pre == 0, as torch).
    slope = 1.0 - h**2 if nonlinearity == "tanh" else (pre > 0).astype(h.dtype)
    dpre = dh * slope  # inverts h = tanh(pre), or h = max(pre, 0)
    dx, dW_ih, db_ih = linear_backward(dpre, x, W_ih)  # inverts pre = W_ih x + b_ih + ...
    dh_prev, dW_hh, db_hh = linear_backward(dpre, h_prev, W_hh)  # inverts ... + W_hh h_prev + b_hh
    return dx, dh_prev, dW_ih, dW_hh, db_ih, db_hh
