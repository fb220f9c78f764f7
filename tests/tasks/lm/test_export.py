"""`rnnkit export RUN --onnx`: the ONNX step graph, checked here with onnxruntime directly
(not only through the export's own report) against the torch model."""

import re
import shutil

import onnx
import pytest
import torch

from rnnkit.cli import main
from rnnkit.models import LanguageModel
from rnnkit.tasks.lm import export
from rnnkit.tasks.lm.export import export_onnx, onnx_session
from rnnkit.tasks.lm.use import complete
from rnnkit.tasks.runner import load_run

V = 20
VARIANTS = {
    "lstm-2-layers": dict(kind="lstm", num_layers=2),
    "gru-2-layers-tied": dict(kind="gru", num_layers=2, tie_weights=True),
    "rnn_tanh-2-layers-adaptive": dict(kind="rnn_tanh", num_layers=2, adaptive_cutoffs=(5, 12)),
    "lstm-adaptive": dict(kind="lstm", adaptive_cutoffs=(4, 10)),
    "lstm-tied-projected": dict(kind="lstm", tie_weights=True, hidden_size=12),
    "rnn_relu": dict(kind="rnn_relu"),
}


def tiny_model(kind, **options):
    torch.manual_seed(0)
    options.setdefault("hidden_size", 16)
    return LanguageModel(V, embedding_dim=8, kind=kind, **options).eval()


def run_cli(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def ort_step(session, tokens, state):
    """One onnxruntime call: (log_probs (N, V), state) with state a tensor or (h, c)."""
    parts = state if isinstance(state, tuple) else (state,)
    feed = {"tokens": tokens.numpy(), "h": parts[0].numpy()}
    if len(parts) == 2:
        feed["c"] = parts[1].numpy()
    log_probs, *new = (torch.from_numpy(a) for a in session.run(None, feed))
    return log_probs, tuple(new) if len(new) == 2 else new[0]


def as_list(state):
    return list(state) if isinstance(state, tuple) else [state]


@pytest.mark.parametrize("variant", VARIANTS.values(), ids=VARIANTS.keys())
def test_onnxruntime_matches_torch_with_the_state_carried_over_two_calls(tmp_path, variant):
    model = tiny_model(**variant).train()  # the export must not depend on, nor change, this
    report = export_onnx(model, tmp_path / "m.onnx")
    assert report.max_abs_diff <= 1e-4 and report.path.is_file() and model.training
    assert report.size_bytes == report.path.stat().st_size and len(report.shapes) == 4
    model.eval()

    session = onnx_session(report.path)
    N, T, split = 4, 6, 2  # a batch and length that neither the trace nor the report used
    tokens = torch.randint(0, V, (N, T), generator=torch.Generator().manual_seed(1))
    zeros = model.decoder.rnn.initial_state(N)
    _, state = ort_step(session, tokens[:, :split], zeros)
    log_probs, state = ort_step(session, tokens[:, split:], state)

    with torch.no_grad():
        first, _ = model(tokens[:, :split])
        second, _ = model(tokens[:, split:], state=first.state)
    want = second.logits[:, -1]
    want = want if model.decoder.adaptive else want.log_softmax(-1)
    torch.testing.assert_close(log_probs, want, atol=1e-4, rtol=0)
    for have, expected in zip(as_list(state), as_list(second.state), strict=True):
        torch.testing.assert_close(have, expected, atol=1e-4, rtol=0)
    torch.testing.assert_close(log_probs.exp().sum(-1), torch.ones(N), atol=1e-5, rtol=0)


@pytest.mark.parametrize("training", [True, False], ids=["training", "eval"])
@pytest.mark.parametrize("kind", ["lstm", "gru"])
def test_a_model_with_dropout_exports_and_keeps_its_mode(tmp_path, kind, training):
    """Dropout 0.2 on the embeddings, between the layers and on the outputs (the defaults):
    the check compares with dropout off, and the caller's model keeps its mode."""
    model = tiny_model(kind, num_layers=2, dropout=0.2).train(training)
    report = export_onnx(model, tmp_path / "m.onnx")
    assert report.max_abs_diff <= 1e-4
    assert model.training is training
    assert all(m.training is training for m in model.modules())


def test_the_exported_vegas_model_suggests_what_torch_suggests(vegas_run, tmp_path):
    lm = load_run(vegas_run)
    report = export_onnx(lm, tmp_path / "vegas.onnx")
    assert report.max_abs_diff <= 1e-4
    graph = onnx.load(report.path)
    assert [i.name for i in graph.graph.input] == ["tokens", "h", "c"]
    assert [o.name for o in graph.graph.output] == ["log_probs", "h_next", "c_next"]

    text = "what is the best food to eat in las"
    ids = torch.tensor([[lm.tokenizer.eos_id, *lm.tokenizer.encode(text)]])
    log_probs, _ = ort_step(onnx_session(report.path), ids, lm.model.decoder.rnn.initial_state(1))
    best = int(log_probs[0].argmax())
    suggestion = complete(lm, text + " ", k=1)["words"][0]  # after "las", not inside it
    assert lm.tokenizer.token(best) == suggestion["word"] == "vegas"
    assert float(log_probs[0, best].exp()) == pytest.approx(suggestion["probability"], abs=1e-4)


def test_cli_writes_run_model_onnx_and_overwrites_only_with_force(vegas_run, tmp_path, capsys):
    run = tmp_path / "lm"
    shutil.copytree(vegas_run, run)
    code, out, err = run_cli(capsys, "export", run, "--onnx")
    line = re.fullmatch(
        r"wrote (\S+) \([\d.]+ [kM]B\); onnxruntime vs torch on 4 input shapes: "
        r"largest difference (\S+) \(limit 1e-4\)\n",
        out,
    )
    assert code == 0 and line and not err, (out, err)
    assert line[1] == str(run / "model.onnx") and float(line[2]) <= 1e-4
    written = (run / "model.onnx").read_bytes()

    code, out, err = run_cli(capsys, "export", run, "--onnx")
    assert code == 2 and not out and err.count("\n") == 1
    assert err.startswith("rnnkit: error: ") and "already exists; pass --force" in err
    assert (run / "model.onnx").read_bytes() == written

    assert run_cli(capsys, "export", run, "--onnx", "--force")[0] == 0
    onnx.checker.check_model(str(run / "model.onnx"))
    assert not [p.name for p in run.iterdir() if ".tmp-" in p.name]


def test_cli_out_writes_where_told(vegas_run, tmp_path, capsys):
    out = tmp_path / "served.onnx"
    code, stdout, _ = run_cli(capsys, "export", vegas_run, "--onnx", "--out", out)
    assert code == 0 and stdout.startswith(f"wrote {out} (") and out.is_file()
    assert not (vegas_run / "model.onnx").exists()


@pytest.mark.parametrize(
    ("run", "extra", "message"),
    [
        ("missing", ["--onnx"], "does not exist"),
        ("empty", ["--onnx"], "config.json"),
        ("vegas", [], "pass --onnx"),
        ("vegas", ["--onnx", "--out", "no/such/folder/m.onnx"], "does not exist; create it"),
    ],
)
def test_cli_bad_input_is_one_line_exit_2(vegas_run, tmp_path, capsys, run, extra, message):
    (tmp_path / "empty").mkdir()
    folder = vegas_run if run == "vegas" else tmp_path / run
    extra = [str(tmp_path / e) if e.startswith("no/") else e for e in extra]
    code, out, err = run_cli(capsys, "export", folder, *extra)
    assert code == 2 and not out and message in err, err
    assert err.count("\n") == 1 and err.startswith("rnnkit: error: ")
    assert not (folder / "model.onnx").exists()


def test_a_disagreement_fails_and_keeps_the_old_file(tmp_path, monkeypatch):
    path = tmp_path / "m.onnx"
    path.write_bytes(b"the user's file")
    reference = export.torch_step
    monkeypatch.setattr(export, "torch_step", lambda *a: [t + 1e-3 for t in reference(*a)])
    with pytest.raises(ValueError, match=r"largest difference 1\.00e-03 exceeds the limit 0.0001"):
        export_onnx(tiny_model("gru"), path, overwrite=True)
    assert path.read_bytes() == b"the user's file"
    assert [p.name for p in tmp_path.iterdir()] == ["m.onnx"]  # no temporary file left


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (dict(opset=9), "opset must be an int from 11 to"),
        (dict(opset="18"), "opset must be an int"),
    ],
)
def test_bad_arguments_are_refused_before_writing(tmp_path, options, message):
    with pytest.raises(ValueError, match=message):
        export_onnx(tiny_model("lstm"), tmp_path / "m.onnx", **options)
    with pytest.raises(ValueError, match="is a folder"):
        export_onnx(tiny_model("lstm"), tmp_path)
    with pytest.raises(ValueError, match="can only export a language model"):
        export_onnx(torch.nn.Linear(2, 2), tmp_path / "m.onnx")
    assert not list(tmp_path.iterdir())


def test_the_dynamo_exporter_takes_over_when_torchscript_fails(tmp_path, monkeypatch):
    real = torch.onnx.export

    def without_torchscript(*args, dynamo=True, **kwargs):
        if not dynamo:
            raise RuntimeError("no TorchScript exporter here")
        return real(*args, dynamo=dynamo, **kwargs)

    monkeypatch.setattr(torch.onnx, "export", without_torchscript)
    model = tiny_model("lstm", adaptive_cutoffs=(5, 12))
    report = export_onnx(model, tmp_path / "m.onnx")
    assert report.exporter == "dynamo" and report.max_abs_diff <= 1e-4
    tokens = torch.randint(0, V, (5, 2), generator=torch.Generator().manual_seed(2))
    log_probs, _ = ort_step(onnx_session(report.path), tokens, model.decoder.rnn.initial_state(5))
    with torch.no_grad():
        want = model(tokens)[0].logits[:, -1]
    torch.testing.assert_close(log_probs, want, atol=1e-4, rtol=0)
