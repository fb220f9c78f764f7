"""Recurrent layers on torch's fused kernels (oneDNN on CPU, cuDNN on GPU).

Shapes use one symbol table throughout rnnkit:
N batch, T time, I input features, H hidden units, D directions (1 or 2), L layers.

`Recurrent` wraps one `nn.RNN` / `nn.LSTM` / `nn.GRU` so that the whole stack, both
directions and every time step run inside torch's fused kernel. What it adds:

- one constructor for every cell kind (`rnn_tanh`, `rnn_relu`, `lstm`, `gru`);
- variable-length batches through `lengths` (packed under the hood, unsorted allowed);
- a merge mode for the two directions (concat, sum, mean, mul);
- initialisation that trains well out of the box (orthogonal recurrent weights, forget-gate
  bias 1 for the LSTM);
- input checks whose messages say what was expected.

Parameter names and gate order are torch's (`rnn.weight_ih_l0`, ...; LSTM gates i, f, g, o;
GRU gates r, z, n), the same as `rnnkit.reference`, so weights move between the two as is.
"""

from __future__ import annotations

import warnings
from typing import Literal, get_args

import torch
from torch import Tensor, nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from rnnkit.cells import RecurrentCells

# The cell kinds, named once: annotate with `Kind`, validate against `KINDS`.
Kind = Literal["rnn_tanh", "rnn_relu", "lstm", "gru"]
KINDS: tuple[Kind, ...] = get_args(Kind)
MERGES = ("concat", "sum", "mean", "mul")
GATES: dict[Kind, int] = {"rnn_tanh": 1, "rnn_relu": 1, "lstm": 4, "gru": 3}

# A recurrent state: (L*D, N, H) for rnn/gru, a tuple (h, c) of two such tensors for lstm.
State = Tensor | tuple[Tensor, Tensor]


def _check_positive_int(name: str, value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a positive int, got {value!r}")


class Recurrent(nn.Module):
    """A stacked, optionally bidirectional RNN, LSTM or GRU over torch's fused kernels.

    Args:
        kind: ``"rnn_tanh"``, ``"rnn_relu"``, ``"lstm"`` or ``"gru"``.
        input_size: I, features per time step.
        hidden_size: H, units per layer and direction.
        num_layers: L, stacked layers. Default 1.
        bidirectional: run a second stack backwards in time (D = 2). Default False.
        dropout: dropout on the outputs of every layer but the last (needs L > 1). Default 0.
        batch_first: inputs and outputs are (N, T, ·) when True (default), (T, N, ·) otherwise.
            States are always (L*D, N, H), as in torch.
        merge: how the two directions' outputs are combined: ``"concat"`` (default, D*H
            features), ``"sum"``, ``"mean"`` or ``"mul"`` (H features).
        forget_bias: initial LSTM forget-gate bias. Default 1.0 (Jozefowicz et al., 2015):
            the cell starts by remembering, which helps gradients survive long sequences.
        orthogonal: initialise each gate's H x H recurrent block orthogonally (default True);
            input weights are Xavier-uniform per gate and biases zero. With False, torch's
            default uniform(-1/sqrt(H), 1/sqrt(H)) is kept.

    Call: ``out, state = layer(x, state=None, lengths=None)``

        x: (N, T, I), or (T, N, I) when ``batch_first=False``.
        state: initial state, zeros when None; (L*D, N, H), or (h, c) for the LSTM.
        lengths: optional (N,) ints in [1, T], the valid steps of each sequence, in any order.
            Steps past a sequence's length get zero output and do not change its state.
        out: (N, T, D*H) for ``merge="concat"``, else (N, T, H) (time first if not batch_first).
        state: the state after each sequence's last valid step (for the backward direction,
            after its first step), same layout as the input state.
    """

    def __init__(
        self,
        kind: Kind,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bidirectional: bool = False,
        dropout: float = 0.0,
        batch_first: bool = True,
        merge: Literal["concat", "sum", "mean", "mul"] = "concat",
        forget_bias: float = 1.0,
        orthogonal: bool = True,
    ) -> None:
        super().__init__()
        if kind not in KINDS:
            raise ValueError(f"kind must be one of {', '.join(KINDS)}, got {kind!r}")
        _check_positive_int("input_size", input_size)
        _check_positive_int("hidden_size", hidden_size)
        _check_positive_int("num_layers", num_layers)
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {dropout!r}")
        if merge not in MERGES:
            raise ValueError(f"merge must be one of {', '.join(MERGES)}, got {merge!r}")
        if dropout > 0 and num_layers == 1:
            warnings.warn(
                "dropout acts between stacked layers and does nothing with num_layers=1; "
                "add dropout after the layer instead",
                stacklevel=2,
            )
        if merge != "concat" and not bidirectional:
            warnings.warn(f"merge={merge!r} has no effect without bidirectional=True", stacklevel=2)

        self.kind = kind
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.bidirectional = bidirectional
        self.num_directions = 2 if bidirectional else 1
        self.batch_first = batch_first
        self.merge = merge
        common = dict(
            input_size=input_size,
            hidden_size=hidden_size,
            num_layers=num_layers,
            bidirectional=bidirectional,
            dropout=dropout if num_layers > 1 else 0.0,
            batch_first=batch_first,
        )
        if kind == "lstm":
            self.rnn: nn.RNNBase = nn.LSTM(**common)
        elif kind == "gru":
            self.rnn = nn.GRU(**common)
        else:
            self.rnn = nn.RNN(nonlinearity=kind.removeprefix("rnn_"), **common)
        self.forget_bias = forget_bias
        self.orthogonal = orthogonal
        self.reset_parameters()

    @property
    def output_size(self) -> int:
        """Features per step of the output: D*H for ``merge="concat"``, else H."""
        if self.merge == "concat":
            return self.num_directions * self.hidden_size
        return self.hidden_size

    def reset_parameters(self) -> None:
        """Orthogonal recurrent blocks, Xavier input blocks, zero biases, LSTM forget bias."""
        if not self.orthogonal:
            self.rnn.reset_parameters()
        H = self.hidden_size
        with torch.no_grad():
            for name, param in self.rnn.named_parameters():
                if self.orthogonal:
                    # Initialise gate by gate: an orthogonal (4H, H) matrix would not make each
                    # gate's own H x H recurrence orthogonal.
                    for block in param.split(H, dim=0):
                        if name.startswith("weight_hh"):
                            nn.init.orthogonal_(block)
                        elif name.startswith("weight_ih"):
                            nn.init.xavier_uniform_(block)
                        else:
                            block.zero_()
                if self.kind == "lstm" and name.startswith("bias_"):
                    # Torch adds bias_ih and bias_hh; put the whole forget bias on one of them.
                    forget = param[H : 2 * H]
                    forget.fill_(self.forget_bias if name.startswith("bias_ih") else 0.0)

    def initial_state(
        self, batch_size: int, device: torch.device | None = None, dtype: torch.dtype | None = None
    ) -> State:
        """Zeros in the state layout: (L*D, N, H), or a tuple (h, c) for the LSTM."""
        weight = self.rnn.weight_hh_l0
        shape = (self.num_layers * self.num_directions, batch_size, self.hidden_size)
        h = torch.zeros(shape, device=device or weight.device, dtype=dtype or weight.dtype)
        return (h, torch.zeros_like(h)) if self.kind == "lstm" else h

    def step_cells(self) -> RecurrentCells:
        """This stack's one-step form: a `rnnkit.cells.RecurrentCells` with a copy of its
        weights, ``out (N, H), state = cells(x (N, I), state)`` through every layer, for
        inference one token at a time (see `rnnkit.cells`). Unidirectional layers only."""
        if self.bidirectional:
            raise ValueError(
                "step_cells needs a unidirectional layer: the backward direction reads the "
                "sequence from its end, which one step at a time never reaches"
            )
        names = ("weight_ih", "weight_hh", "bias_ih", "bias_hh")
        weights = [
            tuple(getattr(self.rnn, f"{name}_l{l}").detach() for name in names)
            for l in range(self.num_layers)
        ]
        return RecurrentCells.from_weights(self.kind, weights)

    def forward(
        self, x: Tensor, state: State | None = None, lengths: Tensor | None = None
    ) -> tuple[Tensor, State]:
        N, T = self._check_input(x)
        if state is not None:
            self._check_state(state, N)
        if lengths is None:
            out, state = self.rnn(x, state)
        else:
            lengths = self._check_lengths(lengths, N, T)
            packed = pack_padded_sequence(
                x, lengths, batch_first=self.batch_first, enforce_sorted=False
            )
            out, state = self.rnn(packed, state)
            out, _ = pad_packed_sequence(out, batch_first=self.batch_first, total_length=T)
        return self._merge(out), state

    def _merge(self, out: Tensor) -> Tensor:
        """(…, D*H) -> (…, H) according to the merge mode; concat keeps torch's layout."""
        if self.merge == "concat" or not self.bidirectional:
            return out
        forward, backward = out.chunk(2, dim=-1)
        if self.merge == "sum":
            return forward + backward
        if self.merge == "mean":
            return (forward + backward) / 2
        return forward * backward

    def _check_input(self, x: Tensor) -> tuple[int, int]:
        layout = "(N, T, I)" if self.batch_first else "(T, N, I)"
        if not isinstance(x, Tensor):
            raise TypeError(f"x must be a torch.Tensor of shape {layout}, got {type(x).__name__}")
        if x.dim() != 3 or x.shape[-1] != self.input_size:
            raise ValueError(
                f"x must have shape {layout} with I={self.input_size}, got {tuple(x.shape)}"
            )
        weight = self.rnn.weight_ih_l0
        if x.dtype != weight.dtype:
            raise ValueError(
                f"x has dtype {x.dtype} but the layer's weights are {weight.dtype}; "
                f"convert one of them (x.to({weight.dtype}) or layer.to({x.dtype}))"
            )
        N, T = (x.shape[0], x.shape[1]) if self.batch_first else (x.shape[1], x.shape[0])
        if T == 0 or N == 0:
            raise ValueError(
                f"x must have at least one sequence and one step, got {layout}={tuple(x.shape)}"
            )
        return N, T

    def _check_state(self, state: State, N: int) -> None:
        expected = (self.num_layers * self.num_directions, N, self.hidden_size)
        if self.kind == "lstm":
            if not (isinstance(state, tuple) and len(state) == 2):
                raise ValueError(f"an lstm state must be a tuple (h, c), each {expected}")
            parts = state
        else:
            if not isinstance(state, Tensor):
                raise ValueError(f"a {self.kind} state must be one tensor of shape {expected}")
            parts = (state,)
        for part in parts:
            if tuple(part.shape) != expected:
                raise ValueError(
                    f"state must have shape (L*D, N, H) = {expected}, got {tuple(part.shape)}"
                )

    def _check_lengths(self, lengths: Tensor, N: int, T: int) -> Tensor:
        lengths = torch.as_tensor(lengths)
        if lengths.dim() != 1 or lengths.shape[0] != N or lengths.is_floating_point():
            raise ValueError(
                f"lengths must be a 1-D integer tensor of N={N} lengths, "
                f"got {lengths.dtype} of shape {tuple(lengths.shape)}"
            )
        lo, hi = int(lengths.min()), int(lengths.max())
        if lo < 1 or hi > T:
            raise ValueError(f"lengths must lie in [1, T={T}], got values from {lo} to {hi}")
        return lengths.cpu()  # pack_padded_sequence wants lengths on the CPU

    def extra_repr(self) -> str:
        parts = [f"{self.kind!r}", f"{self.input_size}", f"{self.hidden_size}"]
        if self.num_layers > 1:
            parts.append(f"num_layers={self.num_layers}")
        if self.bidirectional:
            parts.append(f"bidirectional=True, merge={self.merge!r}")
        return ", ".join(parts)


def detach_state(state: State | None) -> State | None:
    """Cut the graph behind a state: the step between chunks in truncated BPTT."""
    if state is None:
        return None
    if isinstance(state, tuple):
        return tuple(s.detach() for s in state)  # type: ignore[return-value]
    return state.detach()


def reset_state(state: State | None, mask: Tensor) -> State | None:
    """Zero the state of the sequences where ``mask`` (N,) is True (a document border).

    Multiplying instead of assigning keeps the operation out-of-place, so it is safe on a
    state that is still part of the autograd graph.
    """
    if state is None:
        return None
    keep = (~mask.bool()).to(_first(state).dtype).view(1, -1, 1)  # (1, N, 1)
    if isinstance(state, tuple):
        return tuple(s * keep for s in state)  # type: ignore[return-value]
    return state * keep


def _first(state: State) -> Tensor:
    return state[0] if isinstance(state, tuple) else state


def recurrent_flops(kind: Kind, input_size: int, hidden_size: int, steps: int) -> float:
    """Multiply-adds x 2 of one layer and direction over ``steps`` (N*T) steps, forward only."""
    gates = GATES[kind]
    return 2.0 * gates * hidden_size * (input_size + hidden_size) * steps


__all__ = [
    "KINDS",
    "MERGES",
    "Kind",
    "Recurrent",
    "State",
    "detach_state",
    "recurrent_flops",
    "reset_state",
]
