"""Shared set-up for the diagnostics tests: tiny models, and dLoss/dh_t computed independently
of the reference by stepping torch's own cells one step at a time with retain_grad on each h_t.

Shapes: N batch, T time, I input features, H hidden units, D directions, L layers.
"""

import numpy as np
import torch
from torch import nn

from rnnkit.layers import Recurrent

N, T, I, H = 3, 6, 4, 5  # batch, time, input features, hidden units


def state_loss(final):
    """A loss term on the final state, so that dLoss/d(final state) is exercised too."""
    parts = final if isinstance(final, tuple) else (final,)
    return sum(0.1 * (part**2).sum() for part in parts)


class Probe(nn.Module):
    """Recurrent (float64) -> per-step linear head; squared error plus a final-state term."""

    def __init__(self, kind, layers=1, bidirectional=False, merge="concat"):
        super().__init__()
        self.rnn = Recurrent(kind, I, H, layers, bidirectional, merge=merge).double()
        self.head = nn.Linear(self.rnn.output_size, 1).double()

    def forward(self, inputs, targets=None, state=None):
        out, final = self.rnn(inputs, state)
        return out, None if targets is None else self.loss(out, final, targets)

    def loss(self, out, final, targets):
        """out: (N, T, features) merged outputs; targets: (N, T)."""
        return ((self.head(out).squeeze(-1) - targets) ** 2).mean() + state_loss(final)


class TimeFirst(nn.Module):
    """A bare torch GRU with batch_first=False; the loss reads its final state only."""

    def __init__(self):
        super().__init__()
        self.rnn = nn.GRU(I, H, batch_first=False, dtype=torch.float64)

    def forward(self, inputs, targets=None):
        out, final = self.rnn(inputs.transpose(0, 1))  # (T, N, H)
        return out, self.loss(out.transpose(0, 1), final, targets)

    def loss(self, out, final, targets):
        return ((final[-1].sum(dim=1) - targets[:, -1]) ** 2).mean()


def batch(kind, layers=1, directions=1, seed=0, with_state=True):
    """{"inputs": (N, T, I), "targets": (N, T)[, "state"]} in float64."""
    g = torch.Generator().manual_seed(seed)
    data = {
        "inputs": torch.randn(N, T, I, generator=g, dtype=torch.float64),
        "targets": torch.randn(N, T, generator=g, dtype=torch.float64),
    }
    if with_state:
        shape = (layers * directions, N, H)
        h = torch.randn(shape, generator=g, dtype=torch.float64)
        data["state"] = (
            (h, torch.randn(shape, generator=g, dtype=torch.float64)) if kind == "lstm" else h
        )
    return data


def _cell(rnn: nn.RNNBase, layer: int, direction: int) -> nn.Module:
    """The torch cell of one layer and direction, holding a copy of its weights."""
    suffix = f"_l{layer}" + ("_reverse" if direction else "")
    w_ih = getattr(rnn, f"weight_ih{suffix}")
    types = {"LSTM": nn.LSTMCell, "GRU": nn.GRUCell}
    if rnn.mode in types:
        cell = types[rnn.mode](w_ih.shape[1], rnn.hidden_size, dtype=torch.float64)
    else:
        nonlinearity = rnn.mode.removeprefix("RNN_").lower()
        cell = nn.RNNCell(
            w_ih.shape[1], rnn.hidden_size, nonlinearity=nonlinearity, dtype=torch.float64
        )
    with torch.no_grad():
        for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
            getattr(cell, name).copy_(getattr(rnn, f"{name}{suffix}"))
    return cell


def stepped_hidden_grad_norms(rnn, inputs, state, loss_fn, merge=None):
    """(L, D, T) ||dLoss/dh_t|| over (N, H), by torch autograd through one cell call per step.

    rnn: the model's nn.RNN/LSTM/GRU (weights copied from it). inputs: (N, T, I). state: the
    initial (L*D, N, H) state (a pair for the LSTM) or None. loss_fn(out (N, T, D*H) merged
    by ``merge``, final state) -> the model's scalar loss.
    """
    L, D, Hs = rnn.num_layers, 2 if rnn.bidirectional else 1, rnn.hidden_size
    lstm = rnn.mode == "LSTM"
    if state is None:
        zeros = torch.zeros(L * D, inputs.shape[0], Hs, dtype=torch.float64)
        state = (zeros, zeros) if lstm else zeros
    hs, finals, layer_in = {}, [], inputs.detach()
    for layer in range(L):
        outs = []
        for direction in range(D):
            cell, row = _cell(rnn, layer, direction), layer * D + direction
            s = (state[0][row], state[1][row]) if lstm else state[row]
            steps = [None] * T
            for t in reversed(range(T)) if direction else range(T):
                s = cell(layer_in[:, t], s)
                h = s[0] if lstm else s
                h.retain_grad()
                hs[layer, direction, t] = steps[t] = h
            outs.append(torch.stack(steps, dim=1))
            finals.append(s)
        layer_in = torch.cat(outs, dim=2)  # (N, T, D*H)
    final = tuple(map(torch.stack, zip(*finals, strict=True))) if lstm else torch.stack(finals)
    out = merge(layer_in) if merge else layer_in
    loss_fn(out, final).backward()
    return np.array(
        [[[hs[l, d, t].grad.norm().item() for t in range(T)] for d in range(D)] for l in range(L)]
    )
