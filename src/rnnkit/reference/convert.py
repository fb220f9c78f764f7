"""Move parameters and states between the NumPy reference and torch modules.

Works on any module that contains exactly one `nn.RNN`, `nn.LSTM` or `nn.GRU`: that module
itself, rnnkit's `Recurrent` (which holds one as `.rnn`), or a model built around one.
Parameters are matched by the last component of their dotted name (`rnn.weight_ih_l0` ->
`weight_ih_l0`); both sides use torch's names and gate order, so nothing is translated.

Shapes: N batch, H hidden units, D directions, L layers; states are (L*D, N, H).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from rnnkit.reference.checks import check_kind, compare_shapes

State = np.ndarray | tuple[np.ndarray, np.ndarray]


def find_recurrent(module: nn.Module) -> nn.RNNBase:
    """The one `nn.RNN` / `nn.LSTM` / `nn.GRU` inside `module` (possibly `module` itself)."""
    if not isinstance(module, nn.Module):
        raise ValueError(f"expected a torch nn.Module, got {type(module).__name__}")
    found = [(name, m) for name, m in module.named_modules() if isinstance(m, nn.RNNBase)]
    if len(found) != 1:
        names = ", ".join(f"{name or '<root>'} ({type(m).__name__})" for name, m in found)
        raise ValueError(
            f"expected a module containing exactly one nn.RNN, nn.LSTM or nn.GRU, "
            f"found {len(found)}" + (f": {names}" if names else "")
        )
    rnn = found[0][1]
    if getattr(rnn, "proj_size", 0):
        raise ValueError(f"expected an LSTM with proj_size=0, found proj_size={rnn.proj_size}")
    if not rnn.bias:
        raise ValueError("expected a recurrent module with bias=True, found bias=False")
    return rnn


def kind_of(module: nn.Module) -> str:
    """The reference kind of the recurrent module inside: rnn_tanh, rnn_relu, lstm or gru."""
    return find_recurrent(module).mode.lower()  # torch's modes: RNN_TANH, RNN_RELU, LSTM, GRU


def params_from_torch(module: nn.Module) -> dict[str, np.ndarray]:
    """Float64 copies of the recurrent parameters, keyed weight_ih_l0, ..., as the reference."""
    rnn = find_recurrent(module)
    return {
        name: param.detach().cpu().to(torch.float64).numpy().copy()
        for name, param in rnn.named_parameters()
    }


def params_to_torch(params: dict[str, np.ndarray], module: nn.Module) -> nn.Module:
    """Copy reference params into the recurrent module inside `module`, in place.

    Every name and shape must match (ValueError otherwise). Values are cast to each torch
    parameter's dtype and device. Returns `module`.
    """
    rnn = find_recurrent(module)
    targets = dict(rnn.named_parameters())
    expected = {name: tuple(param.shape) for name, param in targets.items()}
    found = {name: np.shape(value) for name, value in params.items()}
    described = (
        f"{type(rnn).__name__}(input_size={rnn.input_size}, hidden_size={rnn.hidden_size}, "
        f"num_layers={rnn.num_layers}, bidirectional={rnn.bidirectional})"
    )
    compare_shapes(expected, found, f"params do not fit {described}")
    with torch.no_grad():
        for name, param in targets.items():
            param.copy_(torch.as_tensor(np.asarray(params[name]), dtype=param.dtype))
    return module


def make_torch_module(
    kind: str,
    input_size: int,
    hidden_size: int,
    num_layers: int = 1,
    bidirectional: bool = False,
    dtype: torch.dtype = torch.float64,
) -> nn.RNNBase:
    """The torch module with the reference's layout: batch_first=True, float64 by default."""
    check_kind(kind)
    common = dict(
        input_size=input_size,
        hidden_size=hidden_size,
        num_layers=num_layers,
        bidirectional=bidirectional,
        batch_first=True,
        dtype=dtype,
    )
    if kind == "lstm":
        return nn.LSTM(**common)
    if kind == "gru":
        return nn.GRU(**common)
    return nn.RNN(nonlinearity=kind.removeprefix("rnn_"), **common)


def state_to_torch(state: State, requires_grad: bool = False):
    """A reference state (array, or a pair for the LSTM) as float64 tensors, same layout."""
    if isinstance(state, tuple):
        return tuple(state_to_torch(s, requires_grad) for s in state)
    return torch.tensor(np.asarray(state, dtype=np.float64), requires_grad=requires_grad)


def state_from_torch(state) -> State:
    """A torch state (tensor, or a pair for the LSTM) as float64 arrays, same layout."""
    if isinstance(state, tuple):
        return tuple(state_from_torch(s) for s in state)
    return state.detach().cpu().to(torch.float64).numpy().copy()
