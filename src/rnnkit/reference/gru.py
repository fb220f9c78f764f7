"""The GRU cell, torch's formulation.

    [i_r, i_z, i_n] = W_ih x + b_ih           (3 blocks of H rows)
    [h_r, h_z, h_n] = W_hh h_prev + b_hh      (3 blocks of H rows)
    r = sigmoid(i_r + h_r)                    reset gate
    z = sigmoid(i_z + h_z)                    update gate
    n = tanh(i_n + r * h_n)                   candidate
    h = (1 - z) * n + z * h_prev

Deviation from Cho et al. (2014): the paper resets the state before projecting it,
n = tanh(W_in x + b_in + W_hn (r * h_prev)). Torch (following cuDNN) resets the projection,
bias included: r * (W_hn h_prev + b_hn). We follow torch so that weights move between the two
unchanged; the two variants are different functions, not a reparametrisation.

Shapes: N batch, I input features, H hidden units. Weights use torch's layout, rows in gate
order r, z, n: W_ih (3H, I), W_hh (3H, H), b_ih (3H,), b_hh (3H,).
"""

from __future__ import annotations

import numpy as np

from rnnkit.reference.ops import gate_blocks, linear, linear_backward, sigmoid


def gru_cell_forward(
    x: np.ndarray,
    h_prev: np.ndarray,
    W_ih: np.ndarray,
    W_hh: np.ndarray,
    b_ih: np.ndarray,
    b_hh: np.ndarray,
) -> tuple[np.ndarray, tuple]:
    """One GRU step.

    x: (N, I), h_prev: (N, H) -> h: (N, H), and the cache that `gru_cell_backward` needs.
    """
    i_r, i_z, i_n = gate_blocks(linear(x, W_ih, b_ih), 3)
    h_r, h_z, h_n = gate_blocks(linear(h_prev, W_hh, b_hh), 3)
    r = sigmoid(i_r + h_r)
    z = sigmoid(i_z + h_z)
    n = np.tanh(i_n + r * h_n)  # torch's variant: r scales W_hn h_prev + b_hn (module docstring)
    h = (1.0 - z) * n + z * h_prev
    cache = (x, h_prev, r, z, n, h_n, W_ih, W_hh)
    return h, cache


def gru_cell_backward(dh: np.ndarray, cache: tuple) -> tuple[np.ndarray, ...]:
    """Backpropagate one step of `gru_cell_forward`.

    dh: (N, H), dLoss/dh for this step's output h (from the layer above and from the next
    step, already added up).
    Returns dx (N, I), dh_prev (N, H), dW_ih (3H, I), dW_hh (3H, H), db_ih (3H,), db_hh (3H,).
    """
    x, h_prev, r, z, n, h_n, W_ih, W_hh = cache
    dn = dh * (1.0 - z)  # inverts h = (1 - z) * n + z * h_prev
    dz = dh * (h_prev - n)  # inverts h = (1 - z) * n + z * h_prev
    dh_prev_direct = dh * z  # inverts h = (1 - z) * n + z * h_prev
    da_n = dn * (1.0 - n**2)  # inverts n = tanh(i_n + r * h_n)
    di_n = da_n  # inverts n = tanh(i_n + r * h_n)
    dr = da_n * h_n  # inverts n = tanh(i_n + r * h_n)
    dh_n = da_n * r  # inverts n = tanh(i_n + r * h_n)
    da_z = dz * z * (1.0 - z)  # inverts z = sigmoid(i_z + h_z); same for i_z and h_z
    da_r = dr * r * (1.0 - r)  # inverts r = sigmoid(i_r + h_r); same for i_r and h_r
    d_gi = np.concatenate([da_r, da_z, di_n], axis=1)  # inverts gate_blocks(W_ih x + b_ih, 3)
    d_gh = np.concatenate([da_r, da_z, dh_n], axis=1)  # inverts gate_blocks(W_hh h_prev + b_hh, 3)
    dx, dW_ih, db_ih = linear_backward(d_gi, x, W_ih)  # inverts W_ih x + b_ih
    dh_prev_proj, dW_hh, db_hh = linear_backward(d_gh, h_prev, W_hh)  # inverts W_hh h_prev + b_hh
    dh_prev = dh_prev_direct + dh_prev_proj  # h_prev fed both the blend and the projection
    return dx, dh_prev, dW_ih, dW_hh, db_ih, db_hh
