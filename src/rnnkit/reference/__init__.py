"""The NumPy glass box: recurrent networks and backpropagation through time, in float64.

Read it in this order: `ops` (affine map, sigmoid), the cells `rnn`, `lstm`, `gru` (one step
forward and one step back each), `network` (layers, directions and the time loop), `tbptt`
(truncated BPTT), `clip`, then `gradcheck`, which checks all of it against finite differences
and torch autograd. `convert` moves weights to and from torch modules unchanged.

Shapes: N batch, T time, I input features, H hidden units, D directions, L layers.
"""

from rnnkit.reference.checks import GATES, KINDS, param_names, param_shapes
from rnnkit.reference.clip import clip_grad_norm, clip_grad_value
from rnnkit.reference.convert import (
    find_recurrent,
    kind_of,
    make_torch_module,
    params_from_torch,
    params_to_torch,
    state_from_torch,
    state_to_torch,
)
from rnnkit.reference.gradcheck import GradcheckRow, check, format_table, run_all
from rnnkit.reference.gru import gru_cell_backward, gru_cell_forward
from rnnkit.reference.lstm import lstm_cell_backward, lstm_cell_forward
from rnnkit.reference.network import (
    ForwardCache,
    Gradients,
    State,
    backward,
    forward,
    init_params,
    zero_state,
)
from rnnkit.reference.rnn import rnn_cell_backward, rnn_cell_forward
from rnnkit.reference.tbptt import mse_loss, sequence_loss, truncated_bptt

__all__ = [
    "GATES",
    "KINDS",
    "ForwardCache",
    "GradcheckRow",
    "Gradients",
    "State",
    "backward",
    "check",
    "clip_grad_norm",
    "clip_grad_value",
    "find_recurrent",
    "format_table",
    "forward",
    "gru_cell_backward",
    "gru_cell_forward",
    "init_params",
    "kind_of",
    "lstm_cell_backward",
    "lstm_cell_forward",
    "make_torch_module",
    "mse_loss",
    "param_names",
    "param_shapes",
    "params_from_torch",
    "params_to_torch",
    "rnn_cell_backward",
    "rnn_cell_forward",
    "run_all",
    "sequence_loss",
    "state_from_torch",
    "state_to_torch",
    "truncated_bptt",
    "zero_state",
]
