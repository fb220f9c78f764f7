"""The diagnostics report: a JSON file, two PNG plots and a plain-text summary table.

A report is plain data (see `rnnkit.diagnostics.diagnose.run_diagnose`): ``models`` is a list
of gradient-flow entries (`GradientFlow.to_dict` plus ``init`` and ``stage``) and
``clipping`` the result of `clipping_experiment` (or None). Files:

``diagnostics.json``   the whole report
``gradient_flow.png``  ||dLoss/dh_t|| against t on a log scale, one line per model, layer
                       and direction (one panel per stage: at initialisation, after training)
``clipping.png``       pre-clip gradient norm and loss per training step of the exploding
                       relu RNN, with and without clipping
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from rnnkit.io import atomic_path, atomic_write_json
from rnnkit.layers import Kind

REPORT_JSON, FLOW_PNG, CLIPPING_PNG = "diagnostics.json", "gradient_flow.png", "clipping.png"
COLORS: dict[Kind, str] = {
    "rnn_tanh": "tab:blue",
    "rnn_relu": "tab:red",
    "lstm": "tab:orange",
    "gru": "tab:green",
}
LINESTYLES = {"orthogonal": "-", "uniform": "--", "identity": ":"}
TASK_NAMES = {"adding": "adding problem", "copy": "copy-memory task"}


def write_report(report: dict[str, Any], out_dir: str | Path, plots: bool = True) -> list[Path]:
    """Write ``diagnostics.json`` (and the two plots) into ``out_dir``; return their paths.

    Every file is written to a temporary sibling and renamed into place.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    names = report_files(report, plots)
    report["files"] = names  # the report lists what it is written with
    atomic_write_json(out_dir / REPORT_JSON, report)
    if plots:
        plot_gradient_flow(report, out_dir / FLOW_PNG)
        if report.get("clipping"):
            plot_clipping(report["clipping"], out_dir / CLIPPING_PNG)
    return [out_dir / name for name in names]


def report_files(report: dict[str, Any], plots: bool = True) -> list[str]:
    """The names `write_report` writes for ``report``."""
    if not plots:
        return [REPORT_JSON]
    return [REPORT_JSON, FLOW_PNG, *([CLIPPING_PNG] if report.get("clipping") else [])]


def load_report(path: str | Path) -> dict[str, Any]:
    """Read a report back from ``diagnostics.json`` (or the directory holding it)."""
    path = Path(path)
    if path.is_dir():
        path = path / REPORT_JSON
    return json.loads(path.read_text(encoding="utf-8"))


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")  # files only: never open a window, work without a display
    import matplotlib.pyplot as plt

    return plt


def _line_label(entry: dict[str, Any], flow: dict[str, Any]) -> str:
    init = f"{entry['gain']:g} x {entry['init']}" if "gain" in entry else entry["init"]
    label = f"{entry['kind']}, {init} init"
    if entry["num_layers"] > 1:
        label += f", layer {flow['layer'] + 1}"
    if entry["num_directions"] > 1:
        label += ", backward" if flow["direction"] else ", forward"
    return label


def plot_gradient_flow(report: dict[str, Any], path: str | Path) -> Path:
    """Log-scale ||dLoss/dh_t|| against t = 1..T, one line per model, layer and direction.

    The exploding relu RNN of the clipping experiment, when present, is drawn with the
    models at initialisation. Returns ``path``.
    """
    plt = _pyplot()
    entries = list(report["models"])
    if report.get("clipping"):
        entries.append(report["clipping"]["flow"])
    stages = [s for s in ("initial", "trained") if any(e["stage"] == s for e in entries)]
    fig, axes = plt.subplots(1, len(stages), figsize=(8 * len(stages), 5.5), squeeze=False)
    for ax, stage in zip(axes[0], stages, strict=True):
        for entry in (e for e in entries if e["stage"] == stage):
            for flow in entry["flows"]:
                ax.semilogy(
                    range(1, len(flow["norms"]) + 1),
                    flow["norms"],
                    color=COLORS.get(entry["kind"]),
                    linestyle=LINESTYLES.get(entry["init"], "-."),
                    label=_line_label(entry, flow),
                )
        trained = f"after {report.get('train_steps')} training steps"
        ax.set_title("at initialisation" if stage == "initial" else trained)
        ax.set_xlabel("time step t  (the loss enters late; the gradient flows right to left)")
        ax.set_ylabel("‖dLoss/dh_t‖ (log scale)")
        ax.grid(alpha=0.3, which="major")
        ax.legend(fontsize=8)
    task = TASK_NAMES.get(report["task"], report["task"])
    fig.suptitle(
        f"Gradient reaching each step back through time\n{task}, T = {report['length']}, "
        f"H = {report['hidden_size']}, batch N = {report['batch_size']}"
    )
    return _save(fig, path)


def plot_clipping(clipping: dict[str, Any], path: str | Path) -> Path:
    """Pre-clip gradient norm (left) and loss (right) per step, with and without clipping."""
    plt = _pyplot()
    fig, (grad_ax, loss_ax) = plt.subplots(1, 2, figsize=(12, 4.5))
    # The clipped run first: both runs take the same first step, and the unclipped one,
    # often a single point before it diverges, must stay visible on top.
    runs = sorted(clipping["runs"], key=lambda run: run["clip_norm"] is None)
    for run in runs:
        unclipped = run["clip_norm"] is None
        color = "tab:red" if unclipped else "tab:blue"
        name = "no clipping" if unclipped else f"clip_norm = {run['clip_norm']:g}"
        for ax, key in ((grad_ax, "grad_norm"), (loss_ax, "loss")):
            size = 8 if unclipped else 3
            ax.semilogy(run["step"], run[key], color=color, marker="o", markersize=size, label=name)
            if run["diverged_at"] is not None:
                ax.axvline(
                    run["diverged_at"],
                    color=color,
                    linestyle=":",
                    label=f"{name}: diverged at step {run['diverged_at']}",
                )
    if clipping["clip_norm"] is not None:
        threshold = f"clip_norm = {clipping['clip_norm']:g} (threshold)"
        grad_ax.axhline(clipping["clip_norm"], color="gray", linestyle="--", label=threshold)
    grad_ax.set_ylabel("gradient norm before clipping (log scale)")
    loss_ax.set_ylabel("training loss, mean squared error (log scale)")
    for ax, title in ((grad_ax, "gradient norm"), (loss_ax, "loss")):
        ax.set_title(title)
        ax.set_xlabel("optimizer step")
        ax.grid(alpha=0.3)
        ax.legend()
    fig.suptitle(
        f"Clipping an exploding relu RNN (W_hh = {clipping['gain']:g} x identity)\nadding "
        f"problem, T = {clipping['length']}, SGD lr = {clipping['lr']:g}, momentum "
        f"{clipping['momentum']:g}, batch N = {clipping['batch_size']}"
    )
    return _save(fig, path)


def _save(fig, path: str | Path) -> Path:
    path = Path(path)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=100)
    _pyplot().close(fig)
    return path


def _number(value: float | None) -> str:
    return "-" if value is None or not math.isfinite(value) else f"{value:.2e}"


def _saturation_text(saturation: dict[str, float]) -> str:
    parts = [f"{name} {share:.0%}" for name, share in saturation.items() if name != "f_mean"]
    if "f_mean" in saturation:
        parts.append(f"mean f {saturation['f_mean']:.2f}")
    return " ".join(parts) or "-"


def format_summary(report: dict[str, Any]) -> str:
    """The report as a plain-text table, one row per model, layer and direction, plus the
    outcome of the clipping experiment."""
    task = TASK_NAMES.get(report["task"], report["task"])
    lines = [
        f"Gradient flow on the {task}: T = {report['length']}, H = {report['hidden_size']}, "
        f"batch N = {report['batch_size']}, seed {report['seed']}",
        "",
        f"{'kind':<9} {'init':<10} {'stage':<8} {'layer':>5} {'dir':<4} {'|dL/dh_1|':>9} "
        f"{'|dL/dh_T|':>9} {'ratio':>9} {'factor':>7}  saturation",
    ]
    entries = list(report["models"])
    if report.get("clipping"):
        entries.append(report["clipping"]["flow"])
    for entry in entries:
        for flow in entry["flows"]:
            factor = flow["factor"]
            lines.append(
                f"{entry['kind']:<9} {entry['init']:<10} {entry['stage']:<8} "
                f"{flow['layer'] + 1:>5} {'bwd' if flow['direction'] else 'fwd':<4} "
                f"{_number(flow['norms'][0]):>9} {_number(flow['norms'][-1]):>9} "
                f"{_number(flow['ratio']):>9} {'-' if factor is None else f'{factor:.3f}':>7}  "
                f"{_saturation_text(flow['saturation'])}"
            )
    lines += [
        "",
        "ratio: |dL/dh_first| / |dL/dh_last| in the direction's order of processing (forward:",
        "|dL/dh_1| / |dL/dh_T|); factor: the per-step decay (< 1) or growth (> 1) factor,",
        "ratio ** (1 / (T - 1)). Norms over the batch and hidden units. Saturation: share of",
        "sigmoid gates below 0.05 or above 0.95 and of tanh values beyond +-0.95.",
    ]
    if report["task"] == "copy":
        lines.append(
            "Copy memory: the measured batch scores the recall steps only (the last ones)."
        )
    if report.get("clipping"):
        lines += ["", *_clipping_lines(report["clipping"])]
    return "\n".join(lines)


def _clipping_lines(clipping: dict[str, Any]) -> list[str]:
    lines = [
        f"Clipping an exploding relu RNN (W_hh = {clipping['gain']:g} x identity), trained "
        f"{clipping['steps']} steps with SGD",
        f"(lr {clipping['lr']:g}, momentum {clipping['momentum']:g}) on the adding problem, "
        f"T = {clipping['length']}, batch N = {clipping['batch_size']}:",
        f"{'clip_norm':<10} {'grad norm, first':>16} {'max':>9} {'last':>9} "
        f"{'loss, first':>11} {'last':>9}  outcome",
    ]
    for run in clipping["runs"]:
        grads, losses = run["grad_norm"], run["loss"]
        if run["diverged_at"] is not None:
            outcome = f"diverged at step {run['diverged_at']}"
        elif run["skipped"]:
            outcome = f"{len(run['step'])} steps, {run['skipped']} non-finite ones skipped"
        else:
            outcome = f"trained {len(run['step'])} steps, loss finite"
        clip = "none" if run["clip_norm"] is None else f"{run['clip_norm']:g}"
        first_grad, max_grad, last_grad = (grads[0], max(grads), grads[-1]) if grads else [None] * 3
        first_loss, last_loss = (losses[0], losses[-1]) if losses else (None, None)
        lines.append(
            f"{clip:<10} {_number(first_grad):>16} {_number(max_grad):>9} {_number(last_grad):>9} "
            f"{_number(first_loss):>11} {_number(last_loss):>9}  {outcome}"
        )
    return lines
