"""The two building blocks every cell shares: an affine map and the logistic sigmoid.

Shapes: N batch, I input features, O output features (H, 3H or 4H in the cells).
"""

from __future__ import annotations

import numpy as np


def linear(x: np.ndarray, W: np.ndarray, b: np.ndarray) -> np.ndarray:
    """y = x W^T + b, torch's `nn.Linear` layout.

    x: (N, I), W: (O, I), b: (O,) -> y: (N, O).
    """
    return x @ W.T + b


def linear_backward(
    dy: np.ndarray, x: np.ndarray, W: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Gradients of y = x W^T + b, given dy = dLoss/dy.

    dy: (N, O), x: (N, I), W: (O, I) -> dx: (N, I), dW: (O, I), db: (O,).
    """
    dx = dy @ W  # inverts y = x @ W.T
    dW = dy.T @ x  # inverts y = x @ W.T (every row of the batch adds its outer product)
    db = dy.sum(axis=0)  # inverts y = ... + b (b is broadcast over the batch)
    return dx, dW, db


def sigmoid(a: np.ndarray) -> np.ndarray:
    """1 / (1 + exp(-a)), written through tanh so that it never overflows for large |a|."""
    return 0.5 * (1.0 + np.tanh(0.5 * a))


def gate_blocks(a: np.ndarray, n: int) -> list[np.ndarray]:
    """a (N, n*H) -> n views (N, H), the gate blocks in torch's row order.

    The same as np.split(a, n, axis=1), which costs several times more on arrays this small.
    """
    H = a.shape[1] // n
    return [a[:, k * H : (k + 1) * H] for k in range(n)]
