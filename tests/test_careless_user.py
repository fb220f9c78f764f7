"""What a careless user does gets one line on stderr, exit status 2, and loses nothing."""

import json
import shutil
import stat

import numpy as np
import pandas as pd
import pytest
import torch
from safetensors.torch import load_file, save_file

from rnnkit.cli import main
from rnnkit.tasks import runner


def fails(capsys, *argv, message):
    assert main(list(argv)) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1, err


def write_series(path, values):
    dates = pd.date_range("2000-01-01", periods=len(values), freq="MS")
    pd.DataFrame({"date": dates, "value": values}).to_csv(path, index=False)
    return path


@pytest.fixture(scope="module")
def forecast_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("series")
    csv = write_series(folder / "s.csv", 10 + np.sin(np.arange(120) * np.pi / 6))
    overrides = [
        f"data.source={json.dumps(str(csv))}",
        "data.horizon=6",
        "backtest.folds=2",
        'backtest.baselines=["naive"]',
        "train.epochs=1",
        "model.hidden_size=8",
        "model.ensemble=1",
    ]
    out, _ = runner.train("forecast", folder / "run", overrides=overrides, quiet=True)
    return out


@pytest.mark.parametrize("temperature", ["nan", "inf", "-1"])
def test_generate_refuses_a_temperature_that_is_not_a_number_at_least_0(vegas_run, capsys,
                                                                         temperature):  # fmt: skip
    fails(capsys, "generate", str(vegas_run), "--temperature", temperature,
          message="temperature must be >= 0 (0 is greedy)")  # fmt: skip


def test_weights_that_hold_nan_are_refused_by_every_use(vegas_run, tmp_path, capsys):
    broken = tmp_path / "broken"
    shutil.copytree(vegas_run, broken)
    weights = load_file(broken / "model.safetensors")
    name = next(iter(weights))
    weights[name] = torch.full_like(weights[name], float("nan"))
    save_file(weights, broken / "model.safetensors")
    for argv in (["complete", str(broken), "las"], ["generate", str(broken)]):
        fails(capsys, *argv, message="holds non-finite values")


def test_settings_that_cannot_train_fail_before_anything_is_written(tmp_path, capsys):
    out = tmp_path / "run"
    fails(capsys, "train", "adding", "--out", str(out), "model.hidden_size=100000000",
          message="model.hidden_size=100000000 needs at least")  # fmt: skip
    fails(
        capsys,
        "train",
        "adding",
        "--out",
        str(out),
        "train.monitor=accuracy",
        "data.train_samples=64",
        "data.val_samples=32",
        "data.length=8",
        message="train.monitor=accuracy is not a score adding reports; choose one of val_loss",
    )
    big = np.sin(np.arange(120.0))
    big[50] = 1e308
    csv = write_series(tmp_path / "big.csv", big)
    fails(capsys, "train", "forecast", "--data", str(csv), "--out", str(out),
          "backtest.folds=2", message="holds values too large to compute with")  # fmt: skip
    assert not out.exists()


def test_forecast_horizons_and_plots(forecast_run, tmp_path, capsys):
    fails(capsys, "forecast", str(forecast_run), "--horizon", "0",
          message="this run forecasts 1 to 6 steps, got 0")  # fmt: skip
    mine = tmp_path / "mine.png"
    mine.write_text("a user's file")
    fails(capsys, "forecast", str(forecast_run), "--plot", str(mine),
          message="already exists; pass --force")  # fmt: skip
    assert mine.read_text() == "a user's file"
    assert main(["forecast", str(forecast_run), "--plot", str(mine), "--force"]) == 0
    assert mine.read_bytes().startswith(b"\x89PNG")


def test_every_file_of_a_run_gets_the_same_mode(vegas_run):
    mode = stat.S_IMODE((vegas_run / "config.json").stat().st_mode)
    assert stat.S_IMODE((vegas_run / "model.safetensors").stat().st_mode) == mode


def test_a_hand_edited_config_does_not_change_a_resumed_run_silently(tmp_path, capsys):
    out = tmp_path / "run"
    tiny = ["data.length=8", "data.train_samples=64", "data.val_samples=32", "train.epochs=1"]
    assert main(["train", "adding", "--out", str(out), "--quiet", *tiny]) == 0
    saved = json.loads((out / "config.json").read_text())
    saved["config"]["train"]["lr"] = 0.5
    (out / "config.json").write_text(json.dumps(saved))
    weights = (out / "model.safetensors").read_bytes()
    fails(capsys, "train", "adding", "--out", str(out), "--resume",
          message="train.lr: 0.005 -> 0.5")  # fmt: skip
    assert (out / "model.safetensors").read_bytes() == weights


@pytest.fixture(scope="module")
def digits_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("digits") / "run"
    overrides = ["train.epochs=1", "model.hidden_size=8", "model.num_layers=1"]
    runner.train("classify", out, overrides=overrides, quiet=True)
    return out


def test_classify_names_a_binary_file_and_refuses_a_negative_top(digits_run, tmp_path, capsys):
    binary = tmp_path / "image.png"
    binary.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    fails(capsys, "classify", str(digits_run), "--file", str(binary),
          message=f"{binary} is not a UTF-8 text file")  # fmt: skip
    fails(capsys, "classify", str(digits_run), "--text", "x", "--top", "-1",
          message="--top must be a positive int, got -1")  # fmt: skip
    fails(
        capsys,
        "classify",
        str(digits_run),
        "--text",
        "a text",
        message="classifies numeric sequences, not texts: give each as rows of 8 numbers",
    )


def test_ingest_names_an_unterminated_quote(tmp_path, capsys):
    table = tmp_path / "queries.csv"
    table.write_text('text,count\nlas vegas,3\n"cheap flights,2\nrome,1\n')
    fails(capsys, "ingest", str(tmp_path / "q.db"), str(table),
          message=f"{table} line 3")  # fmt: skip
