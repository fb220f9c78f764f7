"""Vanishing and exploding gradients made visible.

`measure_gradient_flow(model, batch)`: ||dLoss/dh_t|| at every step, layer and direction of a
torch model's recurrent module, computed by the NumPy reference from what torch captured, and
the saturation of its gates. `run_diagnose(...)`: the classic experiments (Elman RNN, LSTM and
GRU compared on a long-memory task; clipping an exploding relu RNN), written as a JSON report
and plots, with `format_summary` for the terminal.
"""

from rnnkit.diagnostics.diagnose import run_diagnose
from rnnkit.diagnostics.experiments import clipping_experiment, flow_experiment
from rnnkit.diagnostics.gradient_flow import DirectionFlow, GradientFlow, measure_gradient_flow
from rnnkit.diagnostics.report import format_summary, load_report, write_report

__all__ = [
    "DirectionFlow",
    "GradientFlow",
    "clipping_experiment",
    "flow_experiment",
    "format_summary",
    "load_report",
    "measure_gradient_flow",
    "run_diagnose",
    "write_report",
]
