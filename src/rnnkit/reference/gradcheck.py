"""Check the reference's hand-written BPTT against finite differences and torch autograd.

For one configuration (kind, L layers, D directions) we draw float64 weights, an input x
(N, T, I), an initial state and fixed random weights G for a scalar loss that touches every
output and every entry of the final state:

    loss = sum(out * G_out) + sum(h_T * G_h)   [+ sum(c_T * G_c) for the LSTM]

Its gradient with respect to every parameter, x and the initial state (h0, and c0 for the
LSTM) is then computed three ways: the reference's `backward`, central finite differences
of the reference's `forward`, and torch autograd on an nn.RNN/LSTM/GRU holding the same
weights (copied with `params_to_torch`).

Relative error of two gradients a, b of one tensor (Frobenius norms over all its entries):

    err(a, b) = ||a - b|| / max(||a||, ||b||, 1e-12)

and a row reports the largest err over all tensors. Comparing whole tensors keeps entries
whose true gradient is near zero from dominating (an entrywise ratio blows up there); the max
over tensors keeps a wrong small tensor (say a bias) from hiding behind a large one; the 1e-12
floor only matters when both gradients vanish, and then the error is absolute.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass

import numpy as np

from rnnkit.reference.checks import KINDS, check_positive_number
from rnnkit.reference.convert import make_torch_module, params_to_torch, state_to_torch
from rnnkit.reference.network import backward, forward, init_params

STATE_NAMES = ("h0", "c0")  # the initial state's entries in the gradient dicts


@dataclass
class GradcheckRow:
    """One configuration's result; JSON-ready through `to_dict`."""

    kind: str
    num_layers: int
    num_directions: int
    error_vs_finite_diff: float  # largest relative error over all tensors
    worst_vs_finite_diff: str  # the tensor where it occurs
    error_vs_torch: float
    worst_vs_torch: str
    tolerance: float
    passed: bool  # both errors <= tolerance

    def to_dict(self) -> dict:
        return asdict(self)


def relative_error(a: np.ndarray, b: np.ndarray) -> float:
    """||a - b|| / max(||a||, ||b||, 1e-12), Frobenius norms."""
    scale = max(np.linalg.norm(a), np.linalg.norm(b), 1e-12)
    return float(np.linalg.norm(a - b) / scale)


def max_relative_error(
    ours: dict[str, np.ndarray], theirs: dict[str, np.ndarray]
) -> tuple[float, str]:
    """The largest `relative_error` over the tensors of `ours`, and the tensor's name."""
    errors = {name: relative_error(ours[name], theirs[name]) for name in ours}
    worst = max(errors, key=lambda name: np.nan_to_num(errors[name], nan=np.inf))  # NaN is worst
    return errors[worst], worst


def numerical_gradient(f: Callable[[], float], array: np.ndarray, eps: float = 1e-6) -> np.ndarray:
    """Central differences (f(a + eps) - f(a - eps)) / 2 eps for every entry a of `array`.

    `f` reads `array`, which is perturbed in place one entry at a time and restored.
    """
    grad = np.zeros_like(array)
    for index in np.ndindex(array.shape):
        original = array[index]
        array[index] = original + eps
        plus = f()
        array[index] = original - eps
        minus = f()
        array[index] = original
        grad[index] = (plus - minus) / (2 * eps)
    return grad


def _parts(state) -> tuple:
    """A state as a tuple: (h,) for rnn_* and gru, (h, c) for the LSTM."""
    return state if isinstance(state, tuple) else (state,)


def _split(kind: str, inputs: dict[str, np.ndarray]):
    """inputs = {**params, x, h0[, c0]} -> (params, x, state)."""
    params = {name: value for name, value in inputs.items() if name.startswith(("weight", "bias"))}
    state = (inputs["h0"], inputs["c0"]) if kind == "lstm" else inputs["h0"]
    return params, inputs["x"], state


def _loss(kind: str, inputs: dict[str, np.ndarray], G: dict) -> float:
    """sum(out * G["out"]) + sum(final state * G["final"]), entry by entry."""
    params, x, state = _split(kind, inputs)
    out, final, _ = forward(kind, params, x, state)
    pairs = [(out, G["out"]), *zip(_parts(final), _parts(G["final"]), strict=True)]
    return float(sum(np.sum(a * g) for a, g in pairs))


def reference_gradients(kind: str, inputs: dict, G: dict) -> dict[str, np.ndarray]:
    """The reference's BPTT gradient of `_loss` for every tensor in inputs."""
    params, x, state = _split(kind, inputs)
    _, _, cache = forward(kind, params, x, state)
    result = backward(cache, G["out"], G["final"])  # dLoss/dout = G_out, dLoss/dfinal = G_final
    d_state = dict(zip(STATE_NAMES, _parts(result.d_state), strict=False))
    return {**result.grads, "x": result.dx, **d_state}


def torch_gradients(kind: str, inputs: dict, G: dict, bidirectional: bool) -> dict:
    """Torch autograd's gradient of the same loss, on a float64 module with the same weights."""
    params, x, state = _split(kind, inputs)
    H = params["weight_hh_l0"].shape[1]
    L = sum(name.startswith("weight_ih") for name in params) // (2 if bidirectional else 1)
    module = params_to_torch(params, make_torch_module(kind, x.shape[2], H, L, bidirectional))
    x_t = state_to_torch(x, requires_grad=True)
    state_t = state_to_torch(state, requires_grad=True)
    out, final = module(x_t, state_t)
    G_t = [state_to_torch(G["out"]), *_parts(state_to_torch(G["final"]))]
    loss = sum((a * g).sum() for a, g in zip([out, *_parts(final)], G_t, strict=True))
    loss.backward()
    d_state = {name: s.grad.numpy() for name, s in zip(STATE_NAMES, _parts(state_t), strict=False)}
    grads = {name: p.grad.numpy() for name, p in module.named_parameters()}
    return {**grads, "x": x_t.grad.numpy(), **d_state}


def check(
    kind: str,
    num_layers: int = 1,
    bidirectional: bool = False,
    *,
    batch: int = 3,
    steps: int = 5,
    input_size: int = 4,
    hidden_size: int = 3,
    seed: int = 0,
    eps: float = 1e-5,
    tolerance: float = 1e-6,
) -> GradcheckRow:
    """Compare the reference's gradients with finite differences and torch for one config.

    Defaults: N=3, T=5, I=4, H=3, tolerance=1e-6, and eps=1e-5, the finite-difference step
    that balances truncation error (~eps²) against rounding error (~1e-16 / eps) here.
    """
    check_positive_number("eps", eps)
    check_positive_number("tolerance", tolerance)
    rng = np.random.default_rng(seed)
    D = 2 if bidirectional else 1
    shape = (num_layers * D, batch, hidden_size)  # (L*D, N, H)
    inputs = init_params(kind, input_size, hidden_size, num_layers, bidirectional, rng)
    inputs["x"] = rng.standard_normal((batch, steps, input_size))
    for name in STATE_NAMES if kind == "lstm" else STATE_NAMES[:1]:
        inputs[name] = rng.standard_normal(shape)  # h0 (and c0): the initial state
    G = {"out": rng.standard_normal((batch, steps, D * hidden_size))}
    G["final"] = (rng.standard_normal(shape), rng.standard_normal(shape))
    if kind != "lstm":
        G["final"] = G["final"][0]

    ours = reference_gradients(kind, inputs, G)
    finite_diff = {
        name: numerical_gradient(lambda: _loss(kind, inputs, G), inputs[name], eps)
        for name in inputs
    }
    err_fd, worst_fd = max_relative_error(ours, finite_diff)
    err_torch, worst_torch = max_relative_error(
        ours, torch_gradients(kind, inputs, G, bidirectional)
    )
    passed = bool(err_fd <= tolerance and err_torch <= tolerance)
    return GradcheckRow(
        kind, num_layers, D, err_fd, worst_fd, err_torch, worst_torch, tolerance, passed
    )


def run_all(tolerance: float = 1e-6, seed: int = 0, **sizes: int) -> list[GradcheckRow]:
    """`check` every kind x layers (1, 2) x directions (1, 2): 16 rows.

    sizes: batch, steps, input_size, hidden_size, passed on to `check`.
    """
    return [
        check(kind, layers, bidirectional, seed=seed, tolerance=tolerance, **sizes)
        for kind in KINDS
        for layers in (1, 2)
        for bidirectional in (False, True)
    ]


def format_table(rows: list[GradcheckRow], tolerance: float = 1e-6) -> str:
    """The rows as a plain-text table: each error with the tensor where it is largest."""
    header = f"{'kind':<9} {'L':>2} {'D':>2}  {'vs finite diff':>14} {'(worst tensor)':<21} "
    header += f"{'vs torch':>9} {'(worst tensor)':<21} result"
    lines = [header, "-" * len(header)]
    for r in rows:
        lines.append(
            f"{r.kind:<9} {r.num_layers:>2} {r.num_directions:>2}  "
            f"{r.error_vs_finite_diff:>14.2e} {r.worst_vs_finite_diff:<21} "
            f"{r.error_vs_torch:>9.2e} {r.worst_vs_torch:<21} {'pass' if r.passed else 'FAIL'}"
        )
    passed = sum(row.passed for row in rows)
    lines.append(
        f"{passed}/{len(rows)} configurations within {tolerance:g}; relative error per tensor "
        "||a - b|| / max(||a||, ||b||), largest over all tensors"
    )
    return "\n".join(lines)
