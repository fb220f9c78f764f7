"""The one-step form of `rnnkit.layers.Recurrent`: its recurrence as plain linear layers.

``cells = layer.step_cells()`` copies a trained unidirectional `Recurrent`'s weights into a
`RecurrentCells`, which advances every layer by one time step per call. On a CPU a single step
through the fused kernel pays a large fixed cost per call, and torch's int8 LSTM kernel more
still; linear layers are quick for one step and have an int8 dynamic version
(``torch.ao.quantization.quantize_dynamic(cells, {nn.Linear})``). Serving uses it to read
one keystroke at a time.

Shapes: N batch, I input features, H hidden, L layers.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import torch
from torch import Tensor, nn

if TYPE_CHECKING:
    from rnnkit.layers import Kind, State


class RecurrentCells(nn.Module):
    """L stacked cells of one kind, one time step per call, with `Recurrent`'s weights.

    Build it with `rnnkit.layers.Recurrent.step_cells` (or `from_weights` with torch's
    per-layer ``(weight_ih, weight_hh, bias_ih, bias_hh)``, gates in torch's order).

    Call: ``out, state = cells(x, state)``
        x: (N, I), one step's input to the first layer.
        state: (L, N, H), or a tuple (h, c) of two for the LSTM: `Recurrent`'s state layout.
        out: (N, H), the top layer's output (= the new ``h[-1]``); state: the new state.

    No input checks and no dropout: this is the per-keystroke hot path, and inference only.

    LSTM and Elman layers are one linear layer over ``[x, h]`` (weights ``[W_ih | W_hh]``,
    biases summed); the LSTM's gate rows are reordered i, f, o, g so that one sigmoid covers
    three gates. GRU layers keep ``ih`` and ``hh`` apart because r multiplies the hidden part
    of the candidate gate, bias included (torch's variant, not the original paper's).
    """

    def __init__(self, kind: Kind, input_size: int, hidden_size: int, num_layers: int) -> None:
        super().__init__()
        self.kind, self.input_size = kind, input_size
        self.hidden_size, self.num_layers = hidden_size, num_layers
        self.lstm = kind == "lstm"
        self.ih, self.hh = nn.ModuleList(), nn.ModuleList()  # hh: GRU layers only

    @classmethod
    def from_weights(
        cls, kind: Kind, layers: Sequence[tuple[Tensor, Tensor, Tensor, Tensor]]
    ) -> RecurrentCells:
        """Cells from each layer's ``(weight_ih (G*H, I), weight_hh (G*H, H), bias_ih, bias_hh)``
        (G gates); the tensors are copied, on their device and in their dtype."""
        w_hh = layers[0][1]
        cells = cls(kind, layers[0][0].shape[1], w_hh.shape[1], len(layers))
        H = w_hh.shape[1]
        for w_ih, w_hh, b_ih, b_hh in layers:
            if kind == "gru":
                cells.ih.append(_linear(w_ih, b_ih))
                cells.hh.append(_linear(w_hh, b_hh))
                continue
            weight, bias = torch.cat([w_ih, w_hh], 1), b_ih + b_hh
            if kind == "lstm":  # i, f, g, o -> i, f, o, g
                order = torch.cat([torch.arange(2 * H), torch.arange(3 * H, 4 * H),
                                   torch.arange(2 * H, 3 * H)]).to(weight.device)  # fmt: skip
                weight, bias = weight[order], bias[order]
            cells.ih.append(_linear(weight, bias))
        return cells

    def forward(self, x: Tensor, state: State) -> tuple[Tensor, State]:
        h, c = state if self.lstm else (state, None)
        hs, cs = [], []
        for l in range(self.num_layers):  # each layer's output is the next layer's input
            x, c_l = self._cell(l, x, h[l], None if c is None else c[l])
            hs.append(x)
            cs.append(c_l)
        h = torch.stack(hs)  # (L, N, H)
        return x, ((h, torch.stack(cs)) if self.lstm else h)

    def _cell(self, l: int, x: Tensor, h: Tensor, c: Tensor | None) -> tuple[Tensor, Tensor]:
        """One step of layer ``l``: x (N, I), h and c (N, H) -> (h', c'), c' = h' unless LSTM."""
        if self.kind == "gru":
            ir, iz, in_ = self.ih[l](x).chunk(3, dim=-1)
            hr, hz, hn = self.hh[l](h).chunk(3, dim=-1)
            r, z = torch.sigmoid(ir + hr), torch.sigmoid(iz + hz)
            n = torch.tanh(in_ + r * hn)
            h = n + z * (h - n)  # (1 - z) * n + z * h
            return h, h
        pre = self.ih[l](torch.cat([x, h], dim=-1))
        if self.kind == "lstm":
            H = self.hidden_size
            i, f, o = torch.sigmoid(pre[:, : 3 * H]).chunk(3, dim=-1)
            c = torch.addcmul(f * c, i, torch.tanh(pre[:, 3 * H :]))
            return o * torch.tanh(c), c
        h = torch.tanh(pre) if self.kind == "rnn_tanh" else torch.relu(pre)
        return h, h

    def extra_repr(self) -> str:
        return f"{self.kind!r}, {self.input_size}, {self.hidden_size}, num_layers={self.num_layers}"


def _linear(weight: Tensor, bias: Tensor) -> nn.Linear:
    linear = nn.Linear(weight.shape[1], weight.shape[0], device=weight.device, dtype=weight.dtype)
    with torch.no_grad():
        linear.weight.copy_(weight)
        linear.bias.copy_(bias)
    return linear


__all__ = ["RecurrentCells"]
