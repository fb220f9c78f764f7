"""A stacked, optionally bidirectional RNN, LSTM or GRU over a whole sequence, and its BPTT.

Shapes: N batch, T time, I input features, H hidden units, D directions (1 or 2), L layers.

The layout is torch's, so that parameters and states move between the two unchanged:

- params: a dict keyed ``weight_ih_l{k}``, ``weight_hh_l{k}``, ``bias_ih_l{k}``,
  ``bias_hh_l{k}``, with the suffix ``_reverse`` for the backward direction. Layer 0 reads I
  features, each later layer reads the D*H features of the layer below.
- x: (N, T, I), batch first. out: (N, T, D*H), the forward direction's H features first.
- state: (L*D, N, H), row ``layer * D + direction``; for the LSTM a tuple (h, c) of two such
  arrays. The backward direction reads t = T-1 down to 0: its output for step t is stored at
  t, and its final state is the one after step t = 0.

Backpropagation through time walks every layer from the top down and every step in the
opposite order of the forward pass. The gradient reaching a hidden state h_t is the sum of what
comes from the layer above (or the loss) at t and what comes back from the next step.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

import numpy as np

from rnnkit.reference import gru, lstm, rnn
from rnnkit.reference.checks import (
    check_kind,
    check_params,
    check_sequence,
    check_state,
    param_names,
    param_shapes,
)

# A recurrent state: one array for rnn_* and gru, a tuple (h, c) for lstm.
State = np.ndarray | tuple[np.ndarray, np.ndarray]


def _cell(kind: str):
    """The (forward, backward) step functions of one kind, looked up when called."""
    if kind == "lstm":
        return lstm.lstm_cell_forward, lstm.lstm_cell_backward
    if kind == "gru":
        return gru.gru_cell_forward, gru.gru_cell_backward
    nonlinearity = kind.removeprefix("rnn_")
    return partial(rnn.rnn_cell_forward, nonlinearity=nonlinearity), rnn.rnn_cell_backward


def init_params(
    kind: str,
    input_size: int,
    hidden_size: int,
    num_layers: int = 1,
    bidirectional: bool = False,
    rng: np.random.Generator | int | None = None,
) -> dict[str, np.ndarray]:
    """Float64 parameters drawn as torch does by default: uniform(-1/sqrt(H), 1/sqrt(H)).

    rng: a numpy Generator, a seed, or None (default) for fresh entropy.
    Returns {name: array}, e.g. weight_ih_l0 (G*H, I), weight_hh_l0 (G*H, H), bias_ih_l0 (G*H,),
    with G = 1 (rnn_*), 3 (gru) or 4 (lstm) gate blocks.
    """
    shapes = param_shapes(kind, input_size, hidden_size, num_layers, bidirectional)
    rng = np.random.default_rng(rng)
    bound = 1.0 / np.sqrt(hidden_size)
    return {name: rng.uniform(-bound, bound, size=shape) for name, shape in shapes.items()}


def zero_state(kind: str, rows: int, batch: int, hidden_size: int) -> State:
    """Zeros of shape (rows, N, H), where rows = L*D; a pair of them for the LSTM."""
    h = np.zeros((rows, batch, hidden_size))
    return (h, np.zeros_like(h)) if kind == "lstm" else h


def _select(state: State, row: int) -> State:
    """One layer-direction's state, (N, H) (or a pair), out of the stacked (L*D, N, H)."""
    return tuple(s[row] for s in state) if isinstance(state, tuple) else state[row]


def _stack(states: list[State]) -> State:
    """The inverse of `_select` over all rows: a list of L*D states -> (L*D, N, H)."""
    if isinstance(states[0], tuple):
        return tuple(np.stack(parts) for parts in zip(*states, strict=True))
    return np.stack(states)


def _hidden(state: State) -> np.ndarray:
    """h out of a state (the LSTM's cell c is internal to the cell and never output)."""
    return state[0] if isinstance(state, tuple) else state


def _add_to_hidden(d_state: State, dh: np.ndarray) -> State:
    """d_state with dh added to its hidden part (the cell gradient is left as it is)."""
    if isinstance(d_state, tuple):
        return (d_state[0] + dh, d_state[1])
    return d_state + dh


@dataclass
class ForwardCache:
    """What `backward` needs from `forward`: the sizes and every step's cell cache.

    steps[layer][direction][t] is the cache of the cell step that read time step t.
    """

    kind: str
    num_layers: int
    num_directions: int
    hidden_size: int
    x_shape: tuple[int, int, int]
    steps: list[list[list[tuple]]]


@dataclass
class Gradients:
    """The result of `backward`.

    dx: (N, T, I). grads: same keys and shapes as params. d_state: dLoss/d(initial state),
    (L*D, N, H) or a pair for the LSTM. dh: (L, D, T, N, H), the total dLoss/dh_t of every
    layer and direction at every step t (from the layer above and from step t+1, or t-1 for
    the backward direction), stored by time step like the outputs.
    """

    dx: np.ndarray
    grads: dict[str, np.ndarray]
    d_state: State
    dh: np.ndarray

    def hidden_grad_norms(self) -> np.ndarray:
        """||dLoss/dh_t|| over (N, H) for every layer, direction and step: (L, D, T).

        Plotted against t this shows gradients vanishing or exploding through time.
        """
        return np.sqrt((self.dh**2).sum(axis=(3, 4)))


def forward(
    kind: str, params: dict[str, np.ndarray], x: np.ndarray, state: State | None = None
) -> tuple[np.ndarray, State, ForwardCache]:
    """Run the network over a whole sequence.

    x: (N, T, I). state: the initial state, (L*D, N, H) or a pair (h0, c0) for the LSTM;
    zeros when None (default). Returns out (N, T, D*H), the final state (same layout as the
    initial one) and the cache for `backward`.
    """
    check_kind(kind)
    input_size, H, L, D = check_params(kind, params)
    x = check_sequence(x, input_size, "x")
    N = x.shape[0]
    if state is None:
        state = zero_state(kind, L * D, N, H)
    state = check_state(kind, state, (L * D, N, H), "state")
    cell_forward, _ = _cell(kind)
    layer_in, finals, steps = x, [], []
    for layer in range(L):
        outs, steps_of_layer = [], []
        for direction in range(D):
            weights = [params[name] for name in param_names(layer, direction)]
            s = _select(state, layer * D + direction)
            hs, s, caches = _run_direction(cell_forward, weights, layer_in, s, direction == 1)
            outs.append(hs)
            finals.append(s)
            steps_of_layer.append(caches)
        layer_in = np.concatenate(outs, axis=2)  # (N, T, D*H), the next layer's input
        steps.append(steps_of_layer)
    cache = ForwardCache(kind, L, D, H, x.shape, steps)
    return layer_in, _stack(finals), cache


def backward(
    cache: ForwardCache, d_out: np.ndarray, d_final_state: State | None = None
) -> Gradients:
    """Backpropagation through time for one `forward` call.

    d_out: (N, T, D*H), dLoss/dout. d_final_state: dLoss/d(final state), same layout as the
    state; zeros when None (default), which is what truncated BPTT uses at a chunk border.
    """
    kind, L, D, H = cache.kind, cache.num_layers, cache.num_directions, cache.hidden_size
    N, T, _ = cache.x_shape
    d_out = check_sequence(d_out, D * H, "d_out", (N, T))
    if d_final_state is None:
        d_final_state = zero_state(kind, L * D, N, H)
    d_final_state = check_state(kind, d_final_state, (L * D, N, H), "d_final_state")
    _, cell_backward = _cell(kind)
    grads, d_initial = {}, [None] * (L * D)
    dh = np.empty((L, D, T, N, H))
    d_layer_out = d_out
    for layer in reversed(range(L)):  # top layer first: it is the last one forward ran
        d_layer_in = 0.0
        for direction in range(D):
            row = layer * D + direction
            d_hs = d_layer_out[:, :, direction * H : (direction + 1) * H]  # inverts concatenate
            dx, dweights, d_initial[row], dh[layer, direction] = _backprop_direction(
                cell_backward,
                cache.steps[layer][direction],
                d_hs,
                _select(d_final_state, row),
                direction == 1,
            )
            grads.update(zip(param_names(layer, direction), dweights, strict=True))
            d_layer_in = d_layer_in + dx  # both directions read the same input
        d_layer_out = d_layer_in
    in_torch_order = {name: grads[name] for name in _all_names(L, D)}
    return Gradients(d_layer_out, in_torch_order, _stack(d_initial), dh)


def _run_direction(cell_forward, weights, x, state, reverse: bool):
    """One layer in one direction over time.

    x: (N, T, I') with I' = I for layer 0, D*H above. state: (N, H), or a pair for the LSTM.
    Returns hs (N, T, H), the final state, and caches[t] for the step that read x[:, t].
    """
    T = x.shape[1]
    hs, caches = [None] * T, [None] * T
    for t in reversed(range(T)) if reverse else range(T):
        state, caches[t] = cell_forward(x[:, t], state, *weights)
        hs[t] = _hidden(state)
    return np.stack(hs, axis=1), state, caches


def _backprop_direction(cell_backward, caches, d_hs, d_state, reverse: bool):
    """BPTT through one layer and direction: `_run_direction`'s steps in the opposite order.

    d_hs: (N, T, H), dLoss/dh_t from the layer above (or the loss). d_state: dLoss/d(final
    state). Returns dx (N, T, I'), [dW_ih, dW_hh, db_ih, db_hh] summed over steps,
    dLoss/d(initial state), and dh (T, N, H), the total dLoss/dh_t at every step.
    """
    T = d_hs.shape[1]
    dxs, dh, dweights = [None] * T, [None] * T, [0.0] * 4
    for t in range(T) if reverse else reversed(range(T)):
        d_state = _add_to_hidden(d_state, d_hs[:, t])  # h_t fed the layer above and step t±1
        dh[t] = _hidden(d_state)
        dxs[t], d_state, *dw = cell_backward(d_state, caches[t])
        dweights = [total + g for total, g in zip(dweights, dw, strict=True)]  # shared weights
    return np.stack(dxs, axis=1), dweights, d_state, np.stack(dh)


def _all_names(num_layers: int, num_directions: int) -> list[str]:
    """Every parameter name, in torch's order (layer by layer, forward direction first)."""
    layers, directions = range(num_layers), range(num_directions)
    return [name for l in layers for d in directions for name in param_names(l, d)]
