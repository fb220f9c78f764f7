"""Vanishing and exploding gradients made visible: ||dLoss/dh_t|| at every step, gate saturation.

Torch's fused kernels never expose the hidden state h_t of every step, nor the gradient that
reaches it. So `measure_gradient_flow` runs the model once in torch, captures what enters the
recurrent module (its input x and initial state, with a forward hook) and what the loss sends
back into it (dLoss/d output and dLoss/d final state, with `torch.autograd.grad`), then runs the
same weights through the NumPy reference (`rnnkit.reference`, float64) forward and backward with
that gradient. The reference's BPTT returns the total dLoss/dh_t at every layer, direction and
step: what the layer above sends plus what comes back from the next step. Its forward cache
holds every gate activation, which gives the saturation statistics.

Norms: ||dLoss/dh_t|| is the norm over the batch and the hidden units (N, H) together, the
norm of the gradient with respect to the whole batch's h_t (`Gradients.hidden_grad_norms`).
With a loss averaged over the N sequences it scales as 1/sqrt(N); ratios and factors do not.

Summaries of one layer and direction, in that direction's own order of processing (the backward
direction reads t = T down to 1, so its first step is t = T and its last is t = 1):

- ratio: ||dL/dh_first|| / ||dL/dh_last||, how much of the gradient at the last step survives
  back to the first. For the forward direction, ||dL/dh_1|| / ||dL/dh_T||.
- factor: the per-step decay (< 1) or growth (> 1) factor, the geometric mean of the ratios
  ||dL/dh_{t-1}|| / ||dL/dh_t|| of consecutive steps. Their product telescopes, so the factor
  equals ratio ** (1 / (T - 1)).

Shapes: N batch, T time, I input features, H hidden units, D directions, L layers.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn.utils.rnn import PackedSequence

from rnnkit.layers import Kind
from rnnkit.reference import backward, find_recurrent, forward, kind_of, params_from_torch
from rnnkit.reference import state_from_torch as to_numpy  # any tensor, or a pair of them

SIGMOID_LOW, SIGMOID_HIGH = 0.05, 0.95  # a sigmoid gate this close to 0 or 1 is saturated
TANH_HIGH = 0.95  # a tanh activation with |value| above this is saturated


@dataclass
class DirectionFlow:
    """The gradient flow through one layer and direction.

    norms: (T,) ||dLoss/dh_t|| by time step t (as the outputs are stored); `GradientFlow.to_dict`
    writes a non-finite value as None. ratio, factor: see the module docstring; None when
    undefined (a zero or non-finite gradient at an end, or T = 1).
    saturation: fraction of saturated activations per gate, e.g. LSTM {"i", "f", "o", "g",
    "f_mean"}, GRU {"r", "z", "n"}, tanh RNN {"h"}; empty for the relu RNN.
    """

    layer: int
    direction: int  # 0 forward, 1 backward
    norms: list[float]
    ratio: float | None
    factor: float | None
    saturation: dict[str, float] = field(default_factory=dict)


@dataclass
class GradientFlow:
    """`measure_gradient_flow`'s result: one `DirectionFlow` per layer and direction."""

    kind: Kind
    loss: float
    batch_size: int  # N
    steps: int  # T
    hidden_size: int  # H
    num_layers: int  # L
    num_directions: int  # D
    flows: list[DirectionFlow]

    def norms(self) -> np.ndarray:
        """(L, D, T) ||dLoss/dh_t|| of every layer, direction and step."""
        shape = (self.num_layers, self.num_directions, self.steps)
        return np.array([flow.norms for flow in self.flows]).reshape(shape)

    def to_dict(self) -> dict[str, Any]:
        """Plain data for JSON: lists and floats, None for undefined values."""
        plain = {name: getattr(self, name) for name in self.__dataclass_fields__}
        plain["flows"] = [
            {
                **vars(flow),
                "norms": [v if math.isfinite(v) else None for v in flow.norms],
                "saturation": dict(flow.saturation),
            }
            for flow in self.flows
        ]
        return plain

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> GradientFlow:
        """The inverse of `to_dict`; extra keys (a report's ``init``, ``stage``) are ignored."""
        flows = [
            DirectionFlow(
                **{**flow, "norms": [math.nan if v is None else v for v in flow["norms"]]}
            )
            for flow in data["flows"]
        ]
        fields = {name: data[name] for name in cls.__dataclass_fields__ if name != "flows"}
        return cls(**fields, flows=flows)


def measure_gradient_flow(model: nn.Module, batch: Mapping[str, Any]) -> GradientFlow:
    """||dLoss/dh_t|| for t = 1..T per layer and direction, and gate saturation.

    model: a torch module holding exactly one recurrent module (rnnkit `Recurrent`, or a torch
        `nn.RNN` / `nn.LSTM` / `nn.GRU`), called once per forward pass, with
        ``output, loss = model(**batch)`` and a scalar loss.
    batch: the keyword arguments of that call, targets included; every sequence runs the
        full T steps (no ``lengths``).

    The model's parameters and their gradients are left untouched (the gradient is taken with
    `torch.autograd.grad`). Raises ValueError, saying what to do, for what cannot be measured.
    """
    if "lengths" in batch and batch["lengths"] is not None:
        raise ValueError(
            "gradient flow needs sequences that all run the full T steps; drop 'lengths' "
            "from the batch and pass equal-length sequences (padding would count as steps)"
        )
    rnn = _find_one_recurrent(model)
    if rnn.training and rnn.num_layers > 1 and rnn.dropout > 0:
        raise ValueError(
            f"the recurrent module drops {rnn.dropout:g} of its outputs between layers, which "
            "the reference cannot replay; call model.eval() before measuring"
        )
    kind = kind_of(rnn)
    x, state, d_out, d_final, loss = _capture(model, rnn, batch)
    _, _, cache = forward(kind, params_from_torch(rnn), x, state)
    grads = backward(cache, d_out, d_final)
    norms = grads.hidden_grad_norms()  # (L, D, T)
    L, D, T = norms.shape
    flows = [
        DirectionFlow(
            layer,
            direction,
            [float(v) for v in norms[layer, direction]],
            *_summarize(norms[layer, direction], direction),
            saturation=_saturation(kind, cache.steps[layer][direction]),
        )
        for layer in range(L)
        for direction in range(D)
    ]
    return GradientFlow(kind, loss, x.shape[0], T, rnn.hidden_size, L, D, flows)


def _find_one_recurrent(model: nn.Module) -> nn.RNNBase:
    try:
        return find_recurrent(model)
    except ValueError as e:
        raise ValueError(
            f"gradient flow measures one recurrent module at a time: {e}; wrap the part to "
            "measure in a module that returns (output, loss) and holds one nn.RNN/LSTM/GRU"
        ) from e


def _capture(model: nn.Module, rnn: nn.RNNBase, batch: Mapping[str, Any]):
    """Run the model once; return what the recurrent module read and the gradient it got back.

    Returns x (N, T, I) and the initial state (None for zeros) as float64 arrays, d_out
    (N, T, D*H), d_final (L*D, N, H) (a pair for the LSTM) and the loss as a float.
    """
    calls = []
    handle = rnn.register_forward_hook(
        lambda module, args, kwargs, output: calls.append((args, kwargs, output)),
        with_kwargs=True,
    )
    try:
        _, loss = model(**batch)
    finally:
        handle.remove()
    if len(calls) != 1:
        raise ValueError(
            f"the recurrent module ran {len(calls)} times in one forward pass; gradient flow "
            "needs one call over the whole sequence (decode with teacher forcing, not step "
            "by step)"
        )
    args, kwargs, (out, final) = calls[0]
    x, hx = args[0], args[1] if len(args) > 1 else kwargs.get("hx")
    if isinstance(x, PackedSequence):
        raise ValueError(
            "the recurrent module read a packed sequence; gradient flow needs equal-length "
            "sequences: drop 'lengths' from the batch"
        )
    _check_loss(loss, out)
    finals = final if isinstance(final, tuple) else (final,)
    d_out, *d_finals = torch.autograd.grad(loss, [out, *finals], allow_unused=True)
    if d_out is None and all(d is None for d in d_finals):
        raise ValueError("the loss does not depend on the recurrent module's outputs or state")
    d_out = torch.zeros_like(out) if d_out is None else d_out
    d_finals = [
        torch.zeros_like(f) if d is None else d for f, d in zip(finals, d_finals, strict=True)
    ]
    if not rnn.batch_first:  # (T, N, ·) -> (N, T, ·), the reference's layout
        x, d_out = x.transpose(0, 1), d_out.transpose(0, 1)
    d_final = to_numpy(tuple(d_finals) if isinstance(final, tuple) else d_finals[0])
    state = None if hx is None else to_numpy(hx)
    return to_numpy(x), state, to_numpy(d_out), d_final, float(loss.detach())


def _check_loss(loss: Any, out: torch.Tensor) -> None:
    if not isinstance(loss, torch.Tensor) or loss.dim() != 0:
        found = "None" if loss is None else f"{type(loss).__name__} {getattr(loss, 'shape', '')}"
        raise ValueError(
            f"the model must return (output, loss) with a scalar loss tensor, got {found}; "
            "include the targets in the batch"
        )
    if not (loss.requires_grad and out.requires_grad):
        raise ValueError(
            "the loss carries no gradient back to the recurrent module; call outside "
            "torch.no_grad() and let the recurrent parameters require grad"
        )


def _summarize(norms: np.ndarray, direction: int) -> tuple[float | None, float | None]:
    """(ratio, factor) of one direction's (T,) norms, first and last in processing order."""
    first, last = (norms[0], norms[-1]) if direction == 0 else (norms[-1], norms[0])
    if not (last > 0 and np.isfinite(first) and np.isfinite(last)):
        return None, None
    ratio = float(first / last)
    T = norms.shape[0]
    return ratio, (float(ratio ** (1.0 / (T - 1))) if T > 1 else None)


def _saturation(kind: Kind, caches: list[tuple]) -> dict[str, float]:
    """Saturated fractions over every step, sequence and unit of one layer and direction.

    caches: the reference's per-step cell caches, caches[t]. A sigmoid gate is saturated
    below 0.05 or above 0.95 (its slope is then under 0.048: little gradient passes), a tanh
    activation when |value| > 0.95 (slope under 0.1).
    """
    steps = [_gates(kind, cache) for cache in caches]
    result = {}
    for name in steps[0][0]:
        values = np.stack([sigmoids[name] for sigmoids, _ in steps])  # (T, N, H)
        result[name] = float(((values < SIGMOID_LOW) | (values > SIGMOID_HIGH)).mean())
        if name == "f":  # the LSTM's memory: how much of c_{t-1} each step keeps
            result["f_mean"] = float(values.mean())
    for name in steps[0][1]:
        values = np.stack([tanhs[name] for _, tanhs in steps])
        result[name] = float((np.abs(values) > TANH_HIGH).mean())
    return result


def _gates(kind: Kind, cache: tuple) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """({sigmoid gate: (N, H)}, {tanh activation: (N, H)}) out of one step's cell cache.

    The unpacking mirrors the cache tuples of reference/lstm.py, gru.py and rnn.py, so a
    change of their layout fails here loudly instead of reading the wrong arrays.
    """
    if kind == "lstm":
        _x, _h_prev, _c_prev, i, f, g, o, _tanh_c, _W_ih, _W_hh = cache
        return {"i": i, "f": f, "o": o}, {"g": g}
    if kind == "gru":
        _x, _h_prev, r, z, n, _h_n, _W_ih, _W_hh = cache
        return {"r": r, "z": z}, {"n": n}
    _x, _h_prev, _pre, h, _W_ih, _W_hh, nonlinearity = cache
    return {}, ({"h": h} if nonlinearity == "tanh" else {})
