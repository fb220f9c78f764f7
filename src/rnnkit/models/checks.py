"""Input checks shared by every model: each message says what was expected and what came.

Shapes: N batch, T time, I input features, C classes, V vocabulary.
"""

from __future__ import annotations

from collections.abc import Sequence

from torch import Tensor

IGNORE_INDEX = -100  # the target value that padding carries; cross-entropy skips it


def check_choice(name: str, value: object, choices: Sequence[str]) -> None:
    if value not in choices:
        raise ValueError(f"{name} must be one of {', '.join(choices)}, got {value!r}")


def check_positive_int(name: str, value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a positive int, got {value!r}")


def check_probability(name: str, value: float, *, closed: bool = True) -> None:
    ok = 0.0 <= value <= 1.0 if closed else 0.0 <= value < 1.0
    if not ok:
        raise ValueError(f"{name} must be in [0, 1{']' if closed else ')'}, got {value!r}")


def _require_tensor(name: str, value: object, expected: str) -> Tensor:
    if not isinstance(value, Tensor):
        raise ValueError(f"{name} must be a torch.Tensor {expected}, got {type(value).__name__}")
    return value


def check_ids(name: str, ids: Tensor, dims: int, limit: int, expected: str) -> None:
    """Integer ids of ``dims`` dimensions with every value in [0, limit)."""
    _require_tensor(name, ids, expected)
    if ids.dim() != dims or ids.is_floating_point() or ids.is_complex() or ids.numel() == 0:
        raise ValueError(f"{name} must be {expected}, got {ids.dtype} of shape {tuple(ids.shape)}")
    lo, hi = int(ids.min()), int(ids.max())
    if lo < 0 or hi >= limit:
        raise ValueError(f"{name} must lie in [0, {limit}), got values from {lo} to {hi}")


def check_tokens(inputs: Tensor, vocab_size: int, name: str = "inputs") -> None:
    """(N, T) token ids in [0, V)."""
    check_ids(name, inputs, 2, vocab_size, f"(N, T) token ids with V={vocab_size}")


def check_features(inputs: Tensor, dims: int, size: int, name: str = "inputs") -> None:
    """Float features: (N, T, I) when ``dims`` is 3, (N, I) when 2."""
    layout = "(N, T, I)" if dims == 3 else "(N, I)"
    _require_tensor(name, inputs, f"of shape {layout}")
    if inputs.dim() != dims or inputs.shape[-1] != size or not inputs.is_floating_point():
        raise ValueError(
            f"{name} must be {layout} float features with I={size}, "
            f"got {inputs.dtype} of shape {tuple(inputs.shape)}"
        )
    if inputs.numel() == 0:
        raise ValueError(f"{name} must hold at least one sample, got shape {tuple(inputs.shape)}")


def check_class_targets(targets: Tensor, N: int, num_classes: int) -> None:
    """(N,) class ids in [0, C)."""
    check_ids("targets", targets, 1, num_classes, f"(N,) class ids with C={num_classes}")
    if targets.shape[0] != N:
        raise ValueError(f"targets must hold N={N} class ids, got {targets.shape[0]}")


def check_sequence_targets(targets: Tensor, N: int, T: int | None, num_classes: int) -> None:
    """(N, T) ids in [0, C), or -100 at padded steps. ``T`` None accepts any length."""
    expected = f"(N, T) ids with N={N}" + (f", T={T}" if T is not None else "")
    _require_tensor("targets", targets, expected)
    if targets.dim() != 2 or targets.is_floating_point() or targets.shape[0] != N:
        raise ValueError(f"targets must be {expected}, got shape {tuple(targets.shape)}")
    if T is not None and targets.shape[1] != T:
        raise ValueError(f"targets must be {expected}, got shape {tuple(targets.shape)}")
    valid = targets[targets != IGNORE_INDEX]
    if valid.numel() and (int(valid.min()) < 0 or int(valid.max()) >= num_classes):
        raise ValueError(
            f"targets must lie in [0, {num_classes}) or be {IGNORE_INDEX} (padding), "
            f"got values from {int(valid.min())} to {int(valid.max())}"
        )
