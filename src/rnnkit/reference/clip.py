"""Gradient clipping, as `torch.nn.utils.clip_grad_norm_` and `clip_grad_value_` compute it.

Both take a dict of gradients (e.g. `Gradients.grads`) and return new arrays; the inputs are
never modified.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np

from rnnkit.reference.checks import check_positive_number


def clip_grad_norm(
    grads: Mapping[str, np.ndarray], max_norm: float, norm_type: float = 2.0
) -> tuple[dict[str, np.ndarray], float]:
    """Scale all gradients together so that their global norm is at most max_norm.

    total_norm is the norm_type-norm (default 2; math.inf for the largest |entry|) of all
    entries of all tensors, as if they were one vector. Every tensor is multiplied by
    min(1, max_norm / (total_norm + 1e-6)); the 1e-6 is torch's, against division by zero.
    Returns (clipped grads, total_norm before clipping).
    """
    check_positive_number("max_norm", max_norm)
    check_positive_number("norm_type", norm_type)
    arrays = [np.asarray(g, dtype=np.float64) for g in grads.values()]
    if not arrays:
        return {}, 0.0
    if norm_type == math.inf:
        total_norm = max(float(np.max(np.abs(a), initial=0.0)) for a in arrays)
    else:
        total = sum(float(np.sum(np.abs(a) ** norm_type)) for a in arrays)
        total_norm = total ** (1.0 / norm_type)
    coef = min(max_norm / (total_norm + 1e-6), 1.0)
    return {name: a * coef for name, a in zip(grads, arrays, strict=True)}, total_norm


def clip_grad_value(grads: Mapping[str, np.ndarray], clip_value: float) -> dict[str, np.ndarray]:
    """Clamp every gradient entry into [-clip_value, clip_value]; returns new arrays."""
    check_positive_number("clip_value", clip_value)
    return {name: np.clip(g, -clip_value, clip_value) for name, g in grads.items()}
