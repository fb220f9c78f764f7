"""Input checks for the reference, with messages that say what was expected and what was found.

Shapes: N batch, T time, I input features, H hidden units, D directions, L layers.
"""

from __future__ import annotations

import numbers
from collections.abc import Mapping

import numpy as np

KINDS = ("rnn_tanh", "rnn_relu", "lstm", "gru")
GATES = {"rnn_tanh": 1, "rnn_relu": 1, "lstm": 4, "gru": 3}  # blocks of H rows per weight


def check_kind(kind: object) -> None:
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {', '.join(KINDS)}, got {kind!r}")


def check_positive_int(name: str, value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
        raise ValueError(f"{name} must be a positive int, got {value!r}")


def check_positive_number(name: str, value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not value > 0:
        raise ValueError(f"{name} must be a positive number, got {value!r}")


def param_names(layer: int, direction: int) -> tuple[str, str, str, str]:
    """Torch's names of (W_ih, W_hh, b_ih, b_hh) for one layer and direction (0 or 1)."""
    suffix = f"_l{layer}" + ("_reverse" if direction == 1 else "")
    return tuple(f"{name}{suffix}" for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"))


def param_shapes(
    kind: str, input_size: int, hidden_size: int, num_layers: int = 1, bidirectional: bool = False
) -> dict[str, tuple[int, ...]]:
    """Every parameter's name and shape, in torch's order.

    With G gate blocks (1 rnn_*, 3 gru, 4 lstm): weight_ih_l0 (G*H, I), weight_ih_l{k>0}
    (G*H, D*H), weight_hh_l{k} (G*H, H), bias_ih_l{k} and bias_hh_l{k} (G*H,).
    """
    check_kind(kind)
    for name, value in [("input_size", input_size), ("hidden_size", hidden_size)]:
        check_positive_int(name, value)
    check_positive_int("num_layers", num_layers)
    D, H = (2 if bidirectional else 1), hidden_size
    rows = GATES[kind] * H
    shapes = {}
    for layer in range(num_layers):
        features = input_size if layer == 0 else D * H
        for direction in range(D):
            w_ih, w_hh, b_ih, b_hh = param_names(layer, direction)
            shapes.update({w_ih: (rows, features), w_hh: (rows, H), b_ih: (rows,), b_hh: (rows,)})
    return shapes


def compare_shapes(
    expected: Mapping[str, tuple[int, ...]], found: Mapping[str, tuple[int, ...]], what: str
) -> None:
    """Raise ValueError naming every missing, unexpected and wrongly shaped parameter."""
    problems = []
    if missing := [name for name in expected if name not in found]:
        problems.append(f"missing {', '.join(missing)}")
    if unexpected := [name for name in found if name not in expected]:
        problems.append(f"unexpected {', '.join(unexpected)}")
    for name, shape in expected.items():
        if name in found and tuple(found[name]) != tuple(shape):
            problems.append(f"{name} has shape {tuple(found[name])}, expected {tuple(shape)}")
    if problems:
        raise ValueError(f"{what}: " + "; ".join(problems))


def check_params(kind: str, params: Mapping[str, np.ndarray]) -> tuple[int, int, int, int]:
    """Check params against the names and shapes of torch's layout; return (I, H, L, D).

    I and H are read from weight_ih_l0 and weight_hh_l0, L from the weight_ih_l{k} present,
    D from whether weight_ih_l0_reverse is present; then every name and shape must match.
    """
    if not isinstance(params, Mapping):
        raise ValueError(f"params must be a dict of arrays, got {type(params).__name__}")
    for name in ("weight_ih_l0", "weight_hh_l0"):
        if name not in params or np.ndim(params[name]) != 2:
            raise ValueError(
                f"params needs a 2-d {name!r} (torch's names: weight_ih_l0, weight_hh_l0, "
                f"bias_ih_l0, bias_hh_l0, ...), got keys {sorted(params)}"
            )
    input_size = np.shape(params["weight_ih_l0"])[1]
    hidden_size = np.shape(params["weight_hh_l0"])[1]
    num_layers = 1
    while f"weight_ih_l{num_layers}" in params:
        num_layers += 1
    bidirectional = "weight_ih_l0_reverse" in params
    expected = param_shapes(kind, input_size, hidden_size, num_layers, bidirectional)
    found = {name: np.shape(value) for name, value in params.items()}
    layout = f"{num_layers}-layer {'bidirectional ' if bidirectional else ''}{kind}"
    compare_shapes(
        expected, found, f"params do not match a {layout} with I={input_size}, H={hidden_size}"
    )
    return input_size, hidden_size, num_layers, 2 if bidirectional else 1


def check_sequence(
    x: object, features: int, name: str, leading: tuple[int, int] | None = None
) -> np.ndarray:
    """x as a float64 (N, T, features) array; `leading`, when given, is the required (N, T)."""
    x = np.asarray(x, dtype=np.float64)
    expected = f"({'N, T' if leading is None else ', '.join(map(str, leading))}, {features})"
    if x.ndim != 3 or x.shape[2] != features or 0 in x.shape[:2]:
        raise ValueError(
            f"{name} must have shape {expected} (batch, time, features), got {x.shape}"
        )
    if leading is not None and x.shape[:2] != tuple(leading):
        raise ValueError(f"{name} must have shape {expected}, got {x.shape}")
    return x


def check_state(kind: str, state: object, shape: tuple[int, int, int], name: str):
    """state as float64 arrays of `shape` (L*D, N, H): one array, or a pair (h, c) for lstm."""
    if kind != "lstm":
        return _check_array(state, shape, name)
    if not isinstance(state, tuple | list) or len(state) != 2:
        raise ValueError(
            f"{name} for lstm must be a pair (h, c), each of shape {shape}, "
            f"got {type(state).__name__}"
        )
    return tuple(_check_array(s, shape, f"{name}[{i}]") for i, s in enumerate(state))


def _check_array(array: object, shape: tuple[int, ...], name: str) -> np.ndarray:
    array = np.asarray(array, dtype=np.float64)
    if array.shape != shape:
        raise ValueError(f"{name} must have shape {shape} (L*D, N, H), got {array.shape}")
    return array
