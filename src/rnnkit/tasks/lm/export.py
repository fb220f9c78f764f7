"""Export a language model's per-keystroke step to ONNX, checked against onnxruntime.

    lm = load_run("runs/lm")   # rnnkit.tasks.runner.load_run
    report = export_onnx(lm, "runs/lm/model.onnx")
    print(format_report(report))

The exported graph is `StepGraph`: the tokens a user just typed and the recurrent state before
them in; the next token's log-probabilities and the state after them out. An autocomplete
server keeps the state per user, so a keystroke costs one call over the new tokens.

Graph inputs: ``tokens`` (N, T) int64, ``h`` (L, N, H) float32 and, for an LSTM, ``c``
(L, N, H) float32. Outputs: ``log_probs`` (N, V), ``h_next`` and, for an LSTM, ``c_next``
(L, N, H). N and T are dynamic; zeros are the state at the start of a document.

Nothing is trusted blindly: the written file passes ``onnx.checker``, then onnxruntime and
the torch model (its ordinary forward pass) read the same random tokens from the same random
states at several (N, T); the export fails, and leaves nothing behind, when any output differs
by more than ``tolerance``.

Shapes: N batch, T time, L layers, H hidden, V vocabulary.
"""

from __future__ import annotations

import copy
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import torch
from torch import Tensor, nn

from rnnkit.io import atomic_path
from rnnkit.models import LanguageModel
from rnnkit.tasks.lm.use import LoadedLM

DEFAULT_OPSET = 18  # the lowest opset both torch exporters write natively
MIN_OPSET = 11  # opset 9's tracing of the adaptive softmax fails
TOLERANCE = 1e-4
# (N, T) pairs checked after export: one row and several, one step and several. The trace uses
# (2, 3), a shape not in this list, so the dynamic axes are exercised rather than replayed.
CHECK_SHAPES: tuple[tuple[int, int], ...] = ((1, 1), (1, 7), (3, 1), (3, 7))
TRACE_SHAPE = (2, 3)


class StepGraph(nn.Module):
    """A `LanguageModel`'s step from tokens and a state to next-token log-probabilities.

    Call: ``log_probs, h = step(tokens, h)``; an LSTM: ``log_probs, h, c = step(tokens, h, c)``.
        tokens: (N, T) int64 ids in [0, V), read after the state.
        h, c: (L, N, H) float32, the state before ``tokens`` (zeros start a document).
        log_probs: (N, V), log-softmax of the scores after the last token (the adaptive
            softmax already gives log-probabilities). h, c: (L, N, H), the state after it.

    It holds float32 CPU copies of the decoder's public inference parts: the embedding, the
    `Recurrent` layer (whose fused kernel becomes the single ONNX LSTM/GRU/RNN operator, T
    dynamic) and the output layer, and it is built in eval mode. Nothing in it is shared
    with ``model``, so exporting never changes the caller's model or its mode (the exporter
    puts a module back into the mode it found it in, children included). The model's own
    forward is not traced: its token checks read tensor values, which a trace would freeze
    into constants and ``torch.export`` refuses.
    ``rnnkit serve`` does not run this graph: it runs `rnnkit.tasks.lm.inference.StepModel`, the
    layer's one-step form (``Recurrent.step_cells``, plain linear layers, quicker for one step
    on a CPU) with the same embedding and output layer. Both are tested against
    `LanguageModel` itself; this graph is for runtimes outside Python.
    """

    def __init__(self, model: LanguageModel) -> None:
        super().__init__()
        decoder = model.decoder
        # One deepcopy for the three: a tied output layer stays tied to the embedding.
        parts = copy.deepcopy((decoder.embedding, decoder.rnn, decoder.output_layer()))
        self.embedding, self.rnn, self.head = parts
        self.lstm = decoder.rnn.kind == "lstm"
        self.float().cpu().eval()

    def forward(self, tokens: Tensor, h: Tensor, c: Tensor | None = None) -> tuple[Tensor, ...]:
        x = self.embedding(tokens)  # (N, T, E)
        out, state = self.rnn(x, (h, c) if self.lstm else h)  # out: (N, T, H)
        log_probs = self.head.log_probs(out[:, -1])  # (N, V)
        return (log_probs, *state) if self.lstm else (log_probs, state)


@dataclass(frozen=True)
class ExportReport:
    """What `export_onnx` wrote and how closely onnxruntime matched torch.

    path: the ONNX file. max_abs_diff: the largest absolute difference over every output and
    checked shape. shapes: the (N, T) checked. opset: the ONNX opset. size_bytes: the file
    size. tolerance: the limit max_abs_diff was held to. exporter: ``"torchscript"`` or
    ``"dynamo"``, the torch exporter that wrote the graph.
    """

    path: Path
    max_abs_diff: float
    shapes: tuple[tuple[int, int], ...]
    opset: int
    size_bytes: int
    tolerance: float
    exporter: str


def io_names(lstm: bool) -> tuple[list[str], list[str]]:
    """The graph's (input names, output names)."""
    if lstm:
        return ["tokens", "h", "c"], ["log_probs", "h_next", "c_next"]
    return ["tokens", "h"], ["log_probs", "h_next"]


def export_onnx(
    lm: LoadedLM | LanguageModel,
    path: str | Path,
    opset: int = DEFAULT_OPSET,
    overwrite: bool = False,
    tolerance: float = TOLERANCE,
    seed: int = 0,
) -> ExportReport:
    """Write ``lm``'s `StepGraph` to ``path`` as ONNX, validated against onnxruntime.

    Args:
        lm: a loaded run (`rnnkit.tasks.runner.load_run`) or a `LanguageModel`;
            it is copied to float32 on the CPU in eval mode, and left as it was.
        path: the ``.onnx`` file; its folder must exist. An existing file is refused unless
            ``overwrite`` (default False).
        opset: ONNX opset, at least 11. Default 18.
        tolerance: the largest absolute difference allowed between onnxruntime and torch on
            any output at any checked shape (`CHECK_SHAPES`). Default 1e-4.
        seed: for the random tokens and states of the check. Default 0.

    The file is written to a temporary sibling and renamed onto ``path`` only after it passed
    ``onnx.checker`` and the comparison; on any failure ``path`` is left as it was. Raises
    ValueError on bad arguments and when the difference exceeds ``tolerance``.
    """
    model = lm.model if isinstance(lm, LoadedLM) else lm
    if not isinstance(model, LanguageModel):
        raise ValueError(f"can only export a language model, got {type(model).__name__}")
    path = Path(path)
    if path.is_dir():
        raise ValueError(f"{path} is a folder; give a file name such as {path / 'model.onnx'}")
    if path.exists() and not overwrite:
        raise ValueError(f"{path} already exists; pass --force (overwrite=True) to replace it")
    if not path.parent.is_dir():
        raise ValueError(f"folder {path.parent} does not exist; create it first")
    highest = onnx.defs.onnx_opset_version()
    if isinstance(opset, bool) or not isinstance(opset, int) or not MIN_OPSET <= opset <= highest:
        raise ValueError(f"opset must be an int from {MIN_OPSET} to {highest}, got {opset!r}")

    graph = StepGraph(model)  # copies: the caller's model is neither changed nor used
    reference = copy.deepcopy(model).float().cpu().eval()
    with torch.no_grad(), atomic_path(path) as tmp:
        exporter = _export(graph, tmp, opset)
        onnx.checker.check_model(str(tmp), full_check=True)
        diff = max_difference(tmp, reference, CHECK_SHAPES, seed)
        if not diff <= tolerance:  # written so that NaN fails too
            raise ValueError(
                f"onnxruntime and torch disagree: largest difference {diff:.2e} exceeds the "
                f"limit {tolerance:g}; {path} was not written"
            )
        size = tmp.stat().st_size
    return ExportReport(path, diff, CHECK_SHAPES, opset, size, tolerance, exporter)


def _export(step: StepGraph, path: Path, opset: int) -> str:
    """Trace ``step`` into ``path``; returns the name of the exporter that succeeded.

    The TorchScript exporter comes first: in torch 2.13 it still exports every cell kind,
    tied and adaptive output layers included, in well under a second, into the single ONNX
    LSTM/GRU/RNN operator. It is deprecated, so when it is missing or fails, the torch.export
    based exporter (``dynamo=True``) takes over: it also writes the ONNX recurrent operators,
    but with more nodes and node metadata (a file several times larger on tiny models) and
    takes seconds. Either way the onnxruntime comparison afterwards vouches for the file.
    """
    N, T = TRACE_SHAPE
    L, H = step.rnn.num_layers, step.rnn.hidden_size
    tokens = torch.zeros(N, T, dtype=torch.long)
    state = [torch.zeros(L, N, H) for _ in range(2 if step.lstm else 1)]
    inputs, outputs = io_names(step.lstm)
    common = dict(input_names=inputs, output_names=outputs, opset_version=opset)
    try:
        with warnings.catch_warnings():
            _ignore_legacy_notices()
            batch = {1: "N"}  # states and outputs other than log_probs are (L, N, H)
            axes = {name: batch for name in inputs[1:] + outputs[1:]}
            axes.update(tokens={0: "N", 1: "T"}, log_probs={0: "N"})
            torch.onnx.export(
                step, (tokens, *state), str(path), dynamo=False, dynamic_axes=axes, **common
            )
        return "torchscript"
    except Exception as err:  # any failure: the other exporter gets its chance
        legacy_error = err
    N_dim, T_dim = torch.export.Dim("N"), torch.export.Dim("T")
    shapes = ({0: N_dim, 1: T_dim}, *({1: N_dim} for _ in state))
    try:
        with warnings.catch_warnings():
            # torch.export's own notices (its deprecations, the RNN's cached weight list);
            # they say nothing about this graph, which the comparison checks.
            warnings.simplefilter("ignore")
            torch.onnx.export(
                step,
                (tokens, *state),
                str(path),
                dynamo=True,
                dynamic_shapes=shapes,
                external_data=False,
                verbose=False,
                **common,
            )
    except Exception as err:
        err.add_note(f"the TorchScript exporter failed first: {legacy_error}")
        raise
    return "dynamo"


def _ignore_legacy_notices() -> None:
    """Silence what the TorchScript exporter says about every recurrent model it traces."""
    for message in ("You are using the legacy TorchScript", "The feature will be removed"):
        warnings.filterwarnings("ignore", message=message, category=DeprecationWarning)
    # nn.RNNBase checks the state's shape against the input's: a trace-time assertion.
    warnings.filterwarnings(
        "ignore",
        message="Converting a tensor to a Python boolean",
        category=torch.jit.TracerWarning,
    )
    # It asks for the initial states to be graph inputs, which h and c are.
    warnings.filterwarnings("ignore", message="Exporting a model to ONNX with a batch_size")


def onnx_session(path: str | Path) -> ort.InferenceSession:
    """An onnxruntime session on the CPU that logs errors only."""
    options = ort.SessionOptions()
    options.log_severity_level = 3
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def random_inputs(
    model: LanguageModel, shapes: Sequence[tuple[int, int]], seed: int = 0
) -> list[tuple[Tensor, ...]]:
    """For each (N, T): (tokens (N, T) in [0, V), h (L, N, H)[, c]) from N(0, 1), seeded."""
    generator = torch.Generator().manual_seed(seed)
    rnn = model.decoder.rnn
    parts = 2 if rnn.kind == "lstm" else 1
    cases = []
    for N, T in shapes:
        tokens = torch.randint(0, model.vocab_size, (N, T), generator=generator)
        shape = (rnn.num_layers, N, rnn.hidden_size)
        state = [torch.randn(shape, generator=generator) for _ in range(parts)]
        cases.append((tokens, *state))
    return cases


@torch.no_grad()
def torch_step(model: LanguageModel, tokens: Tensor, *state: Tensor) -> list[Tensor]:
    """The reference: [log_probs (N, V), h[, c]] from the model's ordinary forward pass,
    which must be in eval mode (dropout would make it random)."""
    if model.training:
        raise ValueError("the reference model is in training mode (dropout on); call .eval()")
    output, _ = model(tokens, state=tuple(state) if len(state) == 2 else state[0])
    last = output.logits[:, -1]  # (N, V)
    log_probs = last if model.decoder.adaptive else last.log_softmax(-1)
    new = output.state if isinstance(output.state, tuple) else (output.state,)
    return [log_probs, *new]


def max_difference(
    path: str | Path, model: LanguageModel, shapes: Sequence[tuple[int, int]], seed: int = 0
) -> float:
    """Largest absolute difference between onnxruntime on ``path`` and ``model`` in torch,
    over every output, on random tokens and states at each (N, T) in ``shapes``."""
    session = onnx_session(path)
    inputs, outputs = io_names(model.decoder.rnn.kind == "lstm")
    diffs = []
    for case in random_inputs(model, shapes, seed):
        got = session.run(outputs, {n: t.numpy() for n, t in zip(inputs, case, strict=True)})
        for want, have in zip(torch_step(model, *case), got, strict=True):
            diffs.append(np.abs(want.numpy() - have).max())
    return float(np.max(diffs))  # NaN anywhere stays NaN (the builtin max would drop it)


def format_report(report: ExportReport) -> str:
    """One line: what was written and how closely onnxruntime matched torch."""
    size = report.size_bytes
    shown = f"{size / 1e6:.1f} MB" if size >= 1e5 else f"{size / 1e3:.1f} kB"
    limit = np.format_float_scientific(report.tolerance, trim="-", exp_digits=1)  # 1e-4
    return (
        f"wrote {report.path} ({shown}); onnxruntime vs torch on {len(report.shapes)} input "
        f"shapes: largest difference {report.max_abs_diff:.1e} (limit {limit})"
    )
