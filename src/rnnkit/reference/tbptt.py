"""Truncated backpropagation through time over a long sequence, and a loss to drive it.

The sequence is cut into chunks of k steps. Each chunk runs forward from the state the
previous chunk ended in, then backward to its own first step only: the gradient arriving at a
chunk's final state is zero. That is the cut, the same as `state = state.detach()` between
chunks in torch: the state's value crosses the border, its gradient does not. Parameter
gradients are summed over the chunks. With k >= T there is one chunk, which is full BPTT.

A bidirectional network's backward direction sees one chunk at a time too: it starts each
chunk from the state it ended the previous one in, exactly as torch does when a chunked loop
passes the whole final state on.

Shapes: N batch, T time, I input features, H hidden units, D directions, L layers.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from rnnkit.reference.checks import check_kind, check_params, check_positive_int, check_sequence
from rnnkit.reference.network import State, backward, forward

# loss_fn(out_chunk (N, k, D*H), start index of the chunk in time) -> (loss, dLoss/dout_chunk)
LossFn = Callable[[np.ndarray, int], tuple[float, np.ndarray]]


def truncated_bptt(
    kind: str,
    params: dict[str, np.ndarray],
    x: np.ndarray,
    k: int,
    loss_fn: LossFn,
    state: State | None = None,
) -> tuple[float, dict[str, np.ndarray], State]:
    """Run over x in chunks of k steps, backpropagating within each chunk only.

    x: (N, T, I). k: steps per chunk (the last chunk may be shorter). loss_fn: see `LossFn`.
    state: the initial state, (L*D, N, H) or (h0, c0) for the LSTM; zeros when None.
    Returns the loss summed over chunks, the parameter gradients summed over chunks (same
    keys as params) and the final state, which the next call can carry on from.
    """
    check_kind(kind)
    check_positive_int("k", k)
    x = check_sequence(x, check_params(kind, params)[0], "x")
    total_loss = 0.0
    grads = {name: np.zeros(np.shape(value)) for name, value in params.items()}
    for start in range(0, x.shape[1], k):
        out, next_state, cache = forward(kind, params, x[:, start : start + k], state)
        loss, d_out = loss_fn(out, start)
        chunk = backward(cache, d_out)  # no d_final_state: the gradient stops at the border
        total_loss += float(loss)
        for name, grad in chunk.grads.items():
            grads[name] += grad
        state = next_state  # the value carries on into the next chunk, the gradient does not
    return total_loss, grads, state


def mse_loss(out: np.ndarray, target: np.ndarray) -> tuple[float, np.ndarray]:
    """Mean squared error over all entries, as `torch.nn.functional.mse_loss`.

    out and target: the same shape. Returns (loss, dLoss/dout).
    """
    out, target = np.asarray(out, dtype=np.float64), np.asarray(target, dtype=np.float64)
    if out.shape != target.shape:
        raise ValueError(f"target must have the shape of out, {out.shape}, got {target.shape}")
    diff = out - target
    loss = float(np.mean(diff**2))
    d_out = 2.0 * diff / diff.size  # inverts loss = mean(diff**2)
    return loss, d_out


def sequence_loss(
    target: np.ndarray,
    loss: Callable[[np.ndarray, np.ndarray], tuple[float, np.ndarray]] = mse_loss,
) -> LossFn:
    """A `LossFn` that scores each chunk against its slice of a whole-sequence target.

    target: (N, T, D*H). loss: (out, target) -> (loss, dLoss/dout), `mse_loss` by default,
    applied per chunk (so chunk losses are means over their own steps and are then summed).
    """
    target = np.asarray(target, dtype=np.float64)

    def loss_fn(out_chunk: np.ndarray, start: int) -> tuple[float, np.ndarray]:
        return loss(out_chunk, target[:, start : start + out_chunk.shape[1]])

    return loss_fn
