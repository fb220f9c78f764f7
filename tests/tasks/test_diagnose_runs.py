"""`rnnkit diagnose RUN` measures the gradient through time of a trained run of any task whose
model has one recurrent stack, and refuses an encoder-decoder in one line."""

import json

import numpy as np
import pandas as pd
import pytest

from rnnkit.cli import main
from rnnkit.tasks import runner

TINY = ["model.hidden_size=8", "train.quiet=true"]


def series_csv(tmp_path):
    t = np.arange(120)
    values = 10 + np.sin(2 * np.pi * t / 12) + np.random.default_rng(0).normal(0, 0.1, 120)
    dates = pd.date_range("2000-01-01", periods=120, freq="MS")
    pd.DataFrame({"date": dates, "value": values}).to_csv(tmp_path / "s.csv", index=False)
    return json.dumps(str(tmp_path / "s.csv"))


def forecast_run(tmp_path, strategy):
    overrides = [
        f"data.source={series_csv(tmp_path)}",
        f"model.strategy={strategy}",
        "backtest.folds=2",
        'backtest.baselines=["naive"]',
        "train.epochs=1",
        "model.ensemble=1",
        *TINY,
    ]
    out, _ = runner.train("forecast", tmp_path / strategy, overrides=overrides)
    return out


@pytest.fixture(params=["lm", "classify", "forecast"])
def run_dir(request, vegas_run, tmp_path):
    if request.param == "lm":
        return vegas_run
    if request.param == "classify":  # digits: padded batches keep their full-length rows
        out, _ = runner.train("classify", tmp_path / "digits", overrides=[
            "train.epochs=1", "model.num_layers=1", *TINY])  # fmt: skip
        return out
    return forecast_run(tmp_path, "direct")


def test_diagnose_measures_a_run_of_each_task_with_one_recurrent_stack(run_dir, tmp_path, capsys):
    out = tmp_path / "diagnostics"
    assert main(["diagnose", str(run_dir), "--out", str(out), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    (model,) = report["models"]
    assert model["stage"] == "trained" and report["length"] > 1
    assert len(model["flows"][0]["norms"]) == report["length"]
    assert (out / "diagnostics.json").exists() and (out / "gradient_flow.png").exists()


def test_an_encoder_decoder_run_is_refused_in_one_line(tmp_path, capsys):
    run_dir = forecast_run(tmp_path, "seq2seq")
    assert main(["diagnose", str(run_dir)]) == 2
    err = capsys.readouterr().err
    assert "one recurrent stack" in err and "encoder.rnn" in err and err.count("\n") == 1
    assert not (run_dir / "diagnostics").exists()


def test_diagnose_refuses_to_replace_files_and_data_that_changed(vegas_run, tmp_path, capsys):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "diagnostics.json").write_text("my notes")
    assert main(["diagnose", str(vegas_run), "--out", str(out)]) == 2
    assert "already exists; pass --force" in capsys.readouterr().err
    assert (out / "diagnostics.json").read_text() == "my notes"
    assert main(["diagnose", str(vegas_run), "--out", str(out), "--force", "--json"]) == 0
    written = json.loads((out / "diagnostics.json").read_text())
    assert written["files"] == ["diagnostics.json", "gradient_flow.png"]


def test_a_run_whose_data_changed_is_not_measured_on_other_data(tmp_path, capsys):
    folder = tmp_path / "text"
    folder.mkdir()
    for i in range(40):
        (folder / f"d{i}.txt").write_text(f"the cat sat on mat {i % 4}\n")
    out, _ = runner.train("lm", tmp_path / "run", overrides=[
        f"data.source={json.dumps(str(folder))}", "data.min_count=1", "train.epochs=1",
        "model.hidden_size=8", "model.embedding_dim=8", "train.batch_size=4", "data.bptt=4",
        "train.quiet=true"])  # fmt: skip
    (folder / "d0.txt").write_text("a dog ran past\n")
    assert main(["diagnose", str(out)]) == 2
    assert "changed since the run started" in capsys.readouterr().err


def test_a_model_without_a_recurrent_layer_says_so(tmp_path, capsys):
    out, _ = runner.train("xor", tmp_path / "xor", overrides=["train.max_steps=2"], quiet=True)
    assert main(["diagnose", str(out)]) == 2
    assert "xor run's model has no recurrent layer to diagnose" in capsys.readouterr().err
